"""bench/scale_out.py at its smoke size (the simulation section with 2,000 keys, no stack): every model
materialised and read back, a figure for each row of its tables, and the sticky strategy moving fewer keys than
the range one when a shard is lost (what the shards' setting is for), so that the bench cannot rot."""

from __future__ import annotations

import scale_out


def test_the_smoke_simulation_has_every_figure():
    sim = scale_out.main(["--smoke"])["simulation"]
    assert sim["keys"] == 2_000
    for name in ("materialise_s", "doc_bytes", "topic_bytes", "disk", "cold", "warm"):
        assert sim[name] > 0, (name, sim[name])
    # The resident set's growth over a smoke-sized sample may be nothing: the allocator reuses what it freed.
    assert sim["per_model"] >= 0
    low, high = sim["per_partition"]
    assert 0 < low <= high, sim["per_partition"]
    assert 0 < sim["keys_sticky"] < sim["keys_range"] and 0 < sim["partitions_sticky"] < sim["partitions_range"], sim
    assert sim["moved_to_busiest"] > 0
