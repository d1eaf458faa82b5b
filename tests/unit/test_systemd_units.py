"""stack/systemd/: a unit per service of the single node (the socket UDF servers one template), each restarted when it
dies and running what the catalog runs (they cannot be started here: no systemd)."""

from __future__ import annotations

import configparser
from pathlib import Path

import pytest

from tickml.stack.catalog import services

UNITS = Path(__file__).resolve().parents[2] / "stack" / "systemd"


def _read(path: Path) -> configparser.ConfigParser:
    unit = configparser.ConfigParser(interpolation=None)  # %i is systemd's, not an interpolation
    unit.optionxform = str  # keys keep their case
    unit.read_string(path.read_text(), source=str(path))
    return unit


def _units() -> list[Path]:
    return sorted(UNITS.glob("*.service"))


def test_every_service_of_the_single_node_has_a_unit():
    names = {p.name for p in _units()}
    for service in services():
        if service.name == "udf-supervisor":
            continue  # systemd takes its place
        expected = "tickml-udf@.service" if service.socket_path else f"tickml-{service.name}.service"
        assert expected in names, service.name


@pytest.mark.parametrize("path", _units(), ids=lambda p: p.name)
def test_each_unit_parses_restarts_always_and_runs_a_service_of_the_catalog(path):
    unit = _read(path)
    assert {"Unit", "Service", "Install"} <= set(unit.sections()), path.name
    service = unit["Service"]
    assert service["Restart"] == "always"
    assert float(service["RestartSec"]) <= 2
    command = service["ExecStart"].split()
    name = "udf-%i" if path.name == "tickml-udf@.service" else path.stem.removeprefix("tickml-")
    assert command[1:] == ["-m", "tickml.stack.foreground", name], command
    assert name == "udf-%i" or name in {s.name for s in services()}
    # What it is ordered after are units of its own set.
    for after in unit["Unit"].get("After", "").split():
        assert (UNITS / after).exists() or (UNITS / after.replace(".service", "@.service")).exists(), after
