"""bench/learn_scale.py at its smoke size (a few entities and windows of each figure): every row of its table
has a figure above nothing, the naive scikit-learn reference beside ours where the table has one, so that the
bench cannot rot (it failed with fewer than 1,000 prediction entities: the reference indexed 1,000)."""

from __future__ import annotations

import math

import learn_scale

ROWS = ["training ms, logistic", "training ms, logistic, on disk", "training ms, linear", "training ms, linear, on disk",
        "training ms, linear, shrinkage=auto", "training ms, auto, 30 rows", "training ms, auto, 500 rows",
        "resident MB", "single-row predictions/s", "batch predictions/s", "predict UDF predictions/s, wall",
        "predict UDF predictions/s, per CPU-second", "predict UDF predictions/s, logistic, per CPU-second",
        "predict UDF predictions/s, gradient_boosting, per CPU-second",
        "predict UDF predictions/s, neural_network, per CPU-second"]
WITH_REFERENCE = ROWS[:6] + ["resident MB", "single-row predictions/s", "batch predictions/s"]


def test_the_smoke_run_has_every_row_and_the_reference_beside_ours():
    figures = learn_scale.main(["--smoke"])
    assert list(figures) == ROWS
    for row, (ours, naive) in figures.items():
        # A CPU figure is NaN when the run took less than one clock tick of CPU; the wall figure never is.
        assert ours > 0 or ("CPU-second" in row and math.isnan(ours)), (row, ours)
        # The reference's resident MB is what its models added to the process: at smoke size it can round to 0.
        assert (naive is not None and (naive > 0 or row == "resident MB")) == (row in WITH_REFERENCE), (row, naive)
