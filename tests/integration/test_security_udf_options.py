"""A task cannot point a UDF at files outside the roots the UDF service sets, through the real Kapacitor.

The UDF refuses ``init``; Kapacitor stops the task and logs the UDF's reason
(its task API keeps no error for it), and nothing is created where the task
pointed.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest

from stackutil import wait_until

pytestmark = pytest.mark.stack

SCRIPT = """dbrp "telemetry"."autogen"
stream
    |from()
        .measurement('{measurement}')
        .groupBy('device_id')
    |window()
        .period(60s)
        .every(20s)
    @train()
        .model_dir('{model_dir}')
        .model('power')
        .dependentvariable('power')
        .independentvariables('voltage,current')
    |influxDBOut()
        .database('telemetry')
        .measurement('{measurement}_models')
"""


@pytest.mark.parametrize("where", ["absolute", "dotdot"])
def test_a_task_whose_model_dir_leaves_the_model_root_does_not_start(stack, kapacitor, run_id, where):
    outside = Path(tempfile.gettempdir()) / f"{run_id}outside"
    model_dir = str(outside) if where == "absolute" else f"../../../../../../..{outside}"
    name = f"{run_id}{where}_model_dir"
    script = SCRIPT.format(measurement=f"{run_id}probe".replace("-", "_"), model_dir=model_dir)
    log = stack.LOGS / "kapacitor.log"
    offset = log.stat().st_size
    try:
        kapacitor._call("POST", "/tasks", {"id": name, "type": "stream", "status": "enabled", "script": script})
        wait_until(lambda: not kapacitor.task(name)["executing"], timeout=30, what=f"{name} to stop")
        with log.open("rb") as f:
            f.seek(offset)
            said = [line for line in f.read().decode(errors="replace").splitlines() if f"task={name}" in line]
        assert any("option 'model_dir' must name a folder inside the model root" in line for line in said), said
    finally:
        kapacitor.delete(name)
    assert not outside.exists()
