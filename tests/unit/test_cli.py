"""The ``tickml`` command: every command listed and answering --help; the old scripts say where they went."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tickml import cli
from tickml.paths import ROOT

COMMANDS = [
    ["stack"], ["tasks"], ["alerts"], ["devices"], ["devices", "simulate"], ["devices", "replay"],
    ["devices", "add"], ["devices", "types"], ["secrets"], ["udfs"], ["udfs", "status"], ["watch"], ["history"], ["history", "backfill"],
    ["history", "repair"], ["history", "session"], ["history", "session", "publish"], ["history", "session", "status"],
]


def test_top_level_help_lists_every_command(capsys):
    with pytest.raises(SystemExit) as exit_:
        cli.main(["--help"])
    assert exit_.value.code == 0
    listed = capsys.readouterr().out
    for command in {c[0] for c in COMMANDS}:
        assert f"\n    {command} " in listed, command


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_every_level_answers_help(command, capsys):
    with pytest.raises(SystemExit) as exit_:
        cli.main([*command, "--help"])
    assert exit_.value.code == 0
    assert capsys.readouterr().out.startswith(f"usage: tickml {' '.join(command)}")


def test_a_missing_command_is_an_error_naming_the_choices(capsys):
    with pytest.raises(SystemExit) as exit_:
        cli.main(["devices"])
    assert exit_.value.code == 2
    assert "simulate" in capsys.readouterr().err


def test_the_same_address_options_everywhere():
    """--kapacitor means Kapacitor's URL in every command that talks to it."""
    top = cli.parser()
    for command in (["tasks", "list"], ["watch"]):
        assert top.parse_args([*command, "--kapacitor", "http://k:1"]).kapacitor == "http://k:1"


def test_replay_reads_a_file_through_the_simulator(tmp_path):
    records = tmp_path / "two.jsonl"
    records.write_text('{"device_id": "d-1", "timestamp": "2026-01-01T00:00:00Z", "tag": "Thermostat", "temperature": 20.5}\n'
                       '{"device_id": "d-2", "timestamp": "2026-01-01T00:00:01Z", "tag": "Thermostat", "temperature": 21.5}\n')
    out = subprocess.run([sys.executable, "-m", "tickml", "devices", "replay", str(records), "--protocol", "stdout",
                          "--speed", "0", "-q"], capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    assert [line.count('"device_id"') for line in out.stdout.splitlines()] == [1, 1]
    assert '"d-2"' in out.stdout.splitlines()[1]


@pytest.mark.parametrize("script, moved_to", [("tickstack.py", "tickml stack start"), ("tasks.py", "tickml tasks start")])
def test_old_scripts_say_where_their_command_moved(script, moved_to):
    out = subprocess.run([sys.executable, str(ROOT / "stack" / script), "start"], capture_output=True, text=True)
    assert out.returncode == 2
    assert moved_to in out.stderr
