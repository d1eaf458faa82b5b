"""bench/preprocess_throughput.py --through-kapacitor at its smoke size (200 entities x 30 points): the same
windows through the stack's Kapacitor into its own mean() and into the preprocess UDF, every window out of
each, a rate for both, so that the bench's figure through Kapacitor cannot rot."""

from __future__ import annotations

import pytest

import preprocess_throughput

pytestmark = pytest.mark.stack


def test_the_smoke_run_through_kapacitor_has_a_rate_for_the_udf_and_the_native_node(stack):
    figures = preprocess_throughput.main(["--smoke", "--through-kapacitor", "--paths", "plan"])
    assert list(figures["paths"]) == ["plan"]
    assert set(figures["through_kapacitor"]) == {"kapacitor mean()", "preprocess UDF"}
    assert all(rate > 0 for rate in figures["through_kapacitor"].values()), figures
