"""bench/anomaly_fleet.py's smoke size runs and prints its three sections (the detector on the simulated fleet)."""

from __future__ import annotations

import anomaly_fleet


def test_the_bench_smoke_run_prints_the_tables(capsys):
    assert anomaly_fleet.main(["--smoke"]) == 0
    out = capsys.readouterr().out
    assert "1. healthy fleet, no faults" in out and "series alarmed" in out
    assert "2. faulty fleet" in out
    for row in ("spikes", "on/off from the start", "on/off from point", "drift", "missing"):
        assert row in out, row
    assert out.count(" detector ") >= 6 and out.count(" z-score ") >= 6, "each row beside the z-score baseline"
    assert "alarms raised by: level" in out
    assert "3. throughput" in out and "points/s" in out
