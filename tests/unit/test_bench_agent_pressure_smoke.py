"""bench/agent_pressure.py at its smoke size (2 s, the bound at 1 MiB): both rows are printed, and the bounded
agent stops reading before the feeder is done (the back-pressure the bench measures) while the unbounded one
takes everything, so that the bench cannot rot."""

from __future__ import annotations

import agent_pressure


def test_the_smoke_run_prints_both_rows_and_the_bound_holds_the_feeder_back():
    rows = agent_pressure.main(["--smoke"])
    (bounded,) = [row for label, row in rows.items() if label.startswith("bounded at 1 MiB")]
    unbounded = rows["unbounded (reference)"]
    for row in (bounded, unbounded):
        assert row["accepted"] > 0 and row["fed_per_s"] > 0 and row["peak_mb"] > 0, rows
    assert bounded["accepted"] < unbounded["accepted"], rows
