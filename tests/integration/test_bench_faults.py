"""bench/faults.py at its smoke size (3 devices x 12 s): Kapacitor and Telegraf, killed with a fleet publishing,
come back by themselves (supervisord: the bench only kills), every task that was executing executes again, and no
message is lost (Telegraf acknowledges an MQTT message only once its points are written), so that the bench cannot
rot."""

from __future__ import annotations

import pytest

import faults

# Kills shared services: alone on the stack.
pytestmark = [pytest.mark.stack, pytest.mark.serial]


def test_the_smoke_run_kills_and_everything_comes_back_with_nothing_lost(stack):
    rows = faults.main(["--smoke"])
    assert sorted(r["case"] for r in rows) == sorted(faults.SMOKE_CASES)
    for row in rows:
        assert row["pid after"] not in (None, row["pid before"]), row
        assert row["tasks executing"] > 0, row  # and each of them executing again, or main would have raised
        assert row["recovered s"] <= 15, row
        assert (row["sent"], row["lost"], row["extra"]) == (row["landed"], 0, 0), row
