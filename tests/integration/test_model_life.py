"""``tickml models`` against the running stack: a device's model trained through a task of the test's own,
listed, shown, its history read; pinned against a better challenger; rolled back, which changes what the
predict task answers at the next point; deleted; and every action a point in InfluxDB."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time

import numpy as np
import pytest

from stackutil import FLUSH_INTERVAL, wait_until
from tickml.kapacitor import Kapacitor
from tickml.paths import DATA, ROOT

pytestmark = pytest.mark.stack

SECOND = 10**9
WINDOW = 40 * SECOND

TASKS = """
dbrp "telemetry"."autogen"

var points = stream
    |from()
        .measurement('{measurement}')
        .groupBy('device_id')

points
    |window()
        .period(40s)
        .every(40s)
        .align()
    @train()
        .model('{model}')
        .dependentvariable('y')
        .independentvariables('x1,x2')
        .algorithm('linear')
    |influxDBOut()
        .flushInterval({flush_interval})
        .database('telemetry')
        .retentionPolicy('autogen')
        .measurement('{measurement}_models')

points
    @predict()
        .model('{model}')
    |influxDBOut()
        .flushInterval({flush_interval})
        .database('telemetry')
        .retentionPolicy('autogen')
        .measurement('{measurement}_predictions')
"""

# Each window's relation: y = a * x1 + b * x2 + c. B's window beats A's model on its hold-out, and C's beats B's.
RELATIONS = {"A": (3.0, 2.0, 5.0), "B": (-2.0, 5.0, 40.0), "C": (4.0, -1.0, 10.0)}


def tickml_models(*argv: str) -> str:
    """Run ``tickml models`` as a user does; its output (a failure fails the test, with its error)."""
    done = subprocess.run([sys.executable, "-m", "tickml", "models", *argv], capture_output=True, text=True,
                          timeout=60, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    assert "warning" not in done.stderr, done.stderr  # the stack's InfluxDB recorded the action
    return done.stdout


def test_a_models_whole_life_on_the_command_line(stack, influx, kapacitor, run_id):
    tag = run_id.strip("-")
    measurement, model, device = f"models_{tag}", f"tests-models-{tag}", f"{run_id}dev"
    task = f"{measurement}_tasks"
    kapacitor._call("POST", "/tasks", {"id": task, "type": "stream", "status": "enabled", "script": TASKS.format(
        measurement=measurement, model=model, flush_interval=FLUSH_INTERVAL)})
    rng = np.random.default_rng(28)
    base = (time.time_ns() // WINDOW) * WINDOW - 10 * WINDOW

    def point(window: int, k: int, x1: float, x2: float, y: float) -> str:
        return f"{measurement},device_id={device} x1={x1},x2={x2},y={y} {base + window * WINDOW + k * SECOND}"

    def window_of(window: int, relation: str) -> list[str]:
        a, b, c = RELATIONS[relation]
        xs = rng.uniform(1, 10, size=(40, 2))
        return [point(window, k, float(x1), float(x2), float(a * x1 + b * x2 + c)) for k, (x1, x2) in enumerate(xs)]

    def trained(n: int):
        rows = influx.query(f"SELECT * FROM {measurement}_models WHERE device_id = '{device}' ORDER BY time")
        return rows if len(rows) >= n else None

    def predicted_at(t: int):
        rows = influx.query(f"SELECT * FROM {measurement}_predictions WHERE device_id = '{device}' AND time = {t}")
        return rows[0] if rows else None

    def probe(window: int, k: int) -> dict:
        """A reading (x1=2, x2=3) the predict task answers, after the predictor's 1 s refresh of the store."""
        time.sleep(2.5)  # past the predictor's refresh: the next point reads the store's file again
        Kapacitor().write([point(window, k, 2.0, 3.0, 0.0)])
        return wait_until(lambda: predicted_at(base + window * WINDOW + k * SECOND), timeout=30,
                          what=f"the prediction of the probe in window {window}")

    try:
        # Window 0 (A) deploys version 1; window 1 (B) beats it: version 2. A point of window 2 closes it.
        Kapacitor().write(window_of(0, "A") + window_of(1, "B") + [point(2, 0, 1.0, 1.0, 0.0)])
        rows = wait_until(lambda: trained(2), timeout=60, what="2 windows trained")
        assert [(r["Status"], r["Modelversion"]) for r in rows] == [("deployed", 1), ("deployed", 2)]

        listed = json.loads(tickml_models("list", "--model", model, "--json"))
        assert [(r["device"], r["version"], r["algorithm"], r["pinned"]) for r in listed] == [
            (device, 2, "linear", False)]
        shown = json.loads(tickml_models("show", model, device))
        assert shown["version"] == 2 and shown["features"] == ["x1", "x2"] and shown["key"] == device
        records = json.loads(tickml_models("history", model, device, "--json"))["records"]
        assert [(r["event"], r["version"], r["reason"]) for r in records] == [
            ("deployed", 1, "first"), ("deployed", 2, "better")]
        assert "deployed  2" in tickml_models("history", model, device)
        a, b, c = RELATIONS["B"]
        assert probe(2, 1)["Hyperprediction"] == pytest.approx(a * 2 + b * 3 + c, abs=0.01)

        # Pinned, version 2 stays against window 2's C, which beats it.
        assert tickml_models("pin", model, device) == f"{model} {device}: version 2 pinned\n"
        Kapacitor().write(window_of(2, "C")[2:] + [point(3, 0, 1.0, 1.0, 0.0)])
        third = wait_until(lambda: trained(3), timeout=60, what="window 2 trained")[2]
        assert (third["Status"], third["Deployed"], third["Reason"]) == ("kept", 0, "pinned")
        assert json.loads(tickml_models("show", model, device))["version"] == 2

        # Rolled back to version 1 (the one before), under version 3: the next point is answered by A's model.
        out = tickml_models("rollback", model, device)
        assert out == f"{model} {device}: version 1 restored, champion as version 3\n"
        answer = probe(3, 1)
        a, b, c = RELATIONS["A"]
        assert (answer["Modelversion"], answer["Answeredby"]) == (3, "entity")
        assert answer["Hyperprediction"] == pytest.approx(a * 2 + b * 3 + c, abs=0.01)
        events = [r["event"] for r in json.loads(tickml_models("history", model, device, "--json"))["records"]]
        assert events == ["deployed", "deployed", "pin", "kept", "rollback"]

        # Deleted: the next point is answered by the fleet model, trained after the first good windows.
        tickml_models("delete", model, device)
        assert probe(3, 2)["Answeredby"] == "fleet"

        actions = wait_until(lambda: influx.query(f"SELECT * FROM model_actions WHERE model = '{model}' "
                                                  f"ORDER BY time") or None, timeout=10, what="the action points")
        assert [(r["action"], r["version"], r["device_id"]) for r in actions] == [
            ("pin", 2, device), ("rollback", 3, device), ("delete", 3, device)]
    finally:
        kapacitor.delete(task)
        shutil.rmtree(DATA / "models" / model, ignore_errors=True)
