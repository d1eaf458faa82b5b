"""bench/fleet_memory.py at its smoke size (200 devices, 1, 2 and 4 ticks), for each protocol: every run of the
table has a peak memory above nothing and a time, the three rows and the baseline are there, so that the bench
cannot rot (mqtt and otlp send to a Mosquitto and a Telegraf of the bench's own; the shared stack is not used)."""

from __future__ import annotations

import os
import shutil

import pytest

import fleet_memory


def _missing(protocol: str) -> str | None:
    if protocol == "mqtt" and not (shutil.which("mosquitto") or os.path.exists("/usr/sbin/mosquitto")):
        return "no mosquitto binary"
    if protocol == "otlp" and not os.path.exists(os.path.join(fleet_memory.REPO, ".stack", "bin", "telegraf")):
        return "no .stack/bin/telegraf (stack/install.sh installs it)"
    return None


@pytest.mark.parametrize("protocol", ["stdout", "mqtt", "otlp"])
def test_the_smoke_run_prints_every_row(protocol):
    if why := _missing(protocol):
        pytest.skip(why)
    figures = fleet_memory.main(["--smoke", "--protocol", protocol])
    assert figures["baseline"] > 0
    assert sorted(figures["runs"]) == [1, 2, 4]
    for ticks, (mb, seconds) in figures["runs"].items():
        assert mb > 0 and seconds > 0, (ticks, mb, seconds)
