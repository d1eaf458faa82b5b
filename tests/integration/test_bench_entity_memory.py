"""bench/entity_memory.py at its smoke size (200 entities, the barrier idle for 1 s): kapacitord's heap and both
UDF servers' memory are read before and after, and the heap held after the groups fell silent is given with and
without the barrier, so that the bench cannot rot (it read moving_average2, a node number that moves when a node
is added before it, and needed kapacitord's pprof, which the stack leaves off)."""

from __future__ import annotations

import pytest

import entity_memory

pytestmark = pytest.mark.stack


def test_the_smoke_run_reads_every_process_and_both_barrier_rows(stack):
    (figures,) = entity_memory.main(["--smoke"]).values()
    assert set(figures["growth"]) == {"kapacitord heap", "udf-moving_average", "udf-preprocess"}
    for name, (before, after) in figures["growth"].items():
        assert before > 0 and after > 0, (name, before, after)
    assert list(figures["held"]) == ["no barrier", "barrier().idle(1s).delete(TRUE)"]
