"""bench/preprocess_throughput.py at its smoke size (200 entities, one repeat): every path of the library and the
plain-Python reference have a rate, and the window-length sweep has both at every length asked, so that the
bench cannot rot (tests/integration/test_bench_preprocess_throughput.py runs its figure through Kapacitor)."""

from __future__ import annotations

import preprocess_throughput


def test_the_smoke_run_has_a_rate_for_every_path_and_the_reference():
    figures = preprocess_throughput.main(["--smoke"])
    assert set(figures) == {"paths"}
    assert list(figures["paths"]) == ["plan", "batch", "compute", "python"]
    assert all(rate > 0 for rate in figures["paths"].values()), figures


def test_the_smoke_sweep_has_the_plan_beside_the_reference_at_every_length():
    # 64 and 65: either side of the length where the plan changes from plain Python to numpy.
    figures = preprocess_throughput.main(["--smoke", "--lengths", "5,64,65,1000"])
    assert list(figures["lengths"]) == [5, 64, 65, 1000]
    assert all(plan > 0 and python > 0 for plan, python in figures["lengths"].values()), figures
