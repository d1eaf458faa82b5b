"""bench/nab.py at its smoke size: NAB series through Kapacitor and the shipped device_anomaly task, every score
read back from InfluxDB and equal to the detector's in this process."""

from __future__ import annotations

import pytest

import nab
import nabscore

pytestmark = pytest.mark.stack


@pytest.mark.skipif(not (nabscore.nab_dev_folder() / "combined_windows.json").exists(),
                    reason="no NAB development split beside the repository (set TICKML_NAB_DEV)")
def test_the_bench_scores_what_the_stack_wrote_and_it_equals_the_library(stack, capsys):
    assert nab.main(["--smoke"]) == 0
    out = capsys.readouterr().out
    assert "tickml @anomaly (through the stack)" in out and "numenta (rescored)" in out and "ARTime" in out
    read_back = next(row for row in out.splitlines() if row.startswith("scores read back"))
    got, _, total = read_back.split(":")[1].split(";")[0].split()[:3]
    assert got == total and int(total) > 0, read_back
    assert "largest difference from the in-process replay: 0" in out
