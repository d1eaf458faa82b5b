"""bench/chain_quality.py at its smoke size (4 power meters, 8 minutes): every row of its table is there with a
finite error, so that the bench cannot rot; and on the simulated fleet, whose devices drift and switch off, a
window's statistics forecast the next window better than its raw reading or no model at all do."""

from __future__ import annotations

import math

import chain_quality


def test_the_smoke_run_prints_every_row():
    figures = chain_quality.main(["--smoke"])
    assert list(figures) == [
        "persistence (no model)", "raw inputs, per-device least squares", "raw inputs, auto",
        "chained, per-device least squares", "chained, auto (power_forecast_train)",
        "chained, fleet model (pooled least squares)"]
    assert all(math.isfinite(v) and v > 0 for v in figures.values())
    chained = figures["chained, per-device least squares"]
    assert chained < figures["persistence (no model)"]
    assert chained < figures["raw inputs, per-device least squares"]
