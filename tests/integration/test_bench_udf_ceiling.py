"""bench/udf_ceiling.py at its smoke size (50 devices x 30 points windowed, 20 x 300 streamed): every shape's
runs (Kapacitor's native node where there is one, the null UDF, ours) emit everything through the stack's
kapacitord, and through two kapacitords of the bench's own (``--stock``, here the stack's binary twice: the
path that compares builds), each with a rate, kapacitord's CPU a point and the summary's ratios, so that the
bench cannot rot (its --stock run hung once: the second build's train skipped the windows the first had
judged, under the same model; with ``--rounds`` the same holds of a round after the first)."""

from __future__ import annotations

import pytest

import udf_ceiling
from tickml.paths import BIN

pytestmark = pytest.mark.stack

RUNS = {
    "filter (py_classifier)": ["native |where()", "null_stream", "py_classifier"],
    "window statistics (preprocess)": ["native |mean()", "null_batch", "preprocess"],
    "training (train, linear)": ["null_batch", "train"],
    "prediction (predict, linear)": ["native |eval()", "null_stream", "predict"],
    "anomaly score (anomaly)": ["native sigma()", "null_stream", "anomaly"],
}


def _assert_every_run(figures: dict, builds: list) -> None:
    expected = {(shape, run, build) for shape, runs in RUNS.items() for run in runs for build in builds}
    assert set(figures["rates"]) == expected
    assert all(rate > 0 for rate in figures["rates"].values()), figures["rates"]
    assert set(figures["kapacitord_us"]) == expected
    rows = {f"{shape} [{build}]" if build else shape for shape in RUNS for build in builds}
    assert set(figures["summary"]) == rows
    for row, (to_null, to_native) in figures["summary"].items():
        assert to_null > 0 and ((to_native is None) == row.startswith("training")), (row, to_null, to_native)


def test_every_shape_runs_through_the_stacks_kapacitord_in_two_rounds(stack):
    _assert_every_run(udf_ceiling.main(["--smoke", "--rounds", "2"]), [None])


def test_every_shape_runs_through_two_kapacitords_of_the_benchs_own(stack):
    _assert_every_run(udf_ceiling.main(["--smoke", "--stock", str(BIN / "kapacitord")]), ["stock", "patched"])
