"""bench/backfill.py at its smoke size (20 devices x 120 s): the backfill and the live run both train every
window of the fleet and the table has a rate for each, so that the bench cannot rot (it hung once, waiting for
a node renumbered by a node added before it)."""

from __future__ import annotations

import pytest

import backfill

pytestmark = pytest.mark.stack


def test_the_smoke_run_prints_a_rate_for_the_backfill_and_the_live_run(stack):
    rates = backfill.main(["--smoke"])
    assert set(rates) == {"backfill (replay of a query, chunks)", "live (Kapacitor /write)"}
    for label, (points_per_s, windows_per_s) in rates.items():
        assert points_per_s > 0 and windows_per_s > 0, (label, rates[label])
