"""Scheduled retraining from history through real Kapacitor: the shipped batch task power_retrain.

Readings that no live task ever saw (written straight into InfluxDB, as a
restored backup or a gap in Kapacitor's stream leaves them) train each
device's model when the batch task's schedule comes round: the same @train(),
the same champion/challenger, the point tagged trigger=schedule.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest

from stackutil import flush_vars, wait_until
from tickml.paths import DATA
from udfs.learn import ModelStore, Predictor

pytestmark = pytest.mark.stack

ROOT = Path(__file__).resolve().parents[2]
SECOND = 10**9
# power = a * voltage + b * current + c, a relation of each device's own.
RELATIONS = [(2.0, 50.0, 0.0), (0.5, 200.0, 100.0)]


def test_the_schedule_trains_each_device_from_what_influxdb_holds(stack, influx, kapacitor, run_id):
    tag = run_id.strip("-")
    measurement, model, task = f"retrain_{tag}", f"tests-retrain-{tag}", f"retrain_{tag}"
    devices = [f"{run_id}pm-{d}" for d in range(len(RELATIONS))]
    rng = np.random.default_rng(23)
    now = time.time_ns()
    lines = []
    for k in range(240):  # the last four minutes, one reading a second per device
        t = now - (240 - k) * SECOND
        for device, (a, b, c) in zip(devices, RELATIONS):
            v, i = float(rng.uniform(220, 240)), float(rng.uniform(4, 6))
            lines.append(f"{measurement},device_id={device} voltage={v:.4f},current={i:.4f},"
                         f"power={a * v + b * i + c + float(rng.normal(0, 0.5)):.4f} {t}")
    influx.write(lines)

    kapacitor.create(task, (ROOT / "tick_scripts" / "power_retrain.tick").read_text(), flush_vars(
        measurement={"type": "string", "value": measurement}, model={"type": "string", "value": model},
        history={"type": "duration", "value": 10 * 60 * SECOND}, every={"type": "duration", "value": 2 * SECOND}),
        status="enabled", type="batch")
    try:
        rows = wait_until(lambda: (r := influx.query(
            f"SELECT * FROM trained_models WHERE model = '{model}' AND \"trigger\" = 'schedule' "
            f"AND Status = 'deployed'")) and len({x["device_id"] for x in r}) == len(devices) and r,
            timeout=60, what="a model per device from the schedule")
        assert {r["Numberofmessages"] for r in rows[:len(devices)]} == {240}
        predictor = Predictor(ModelStore(DATA / "models" / model), use_fleet=False)
        for device, (a, b, c) in zip(devices, RELATIONS):
            got = predictor.predict_one(device, {"voltage": 230.0, "current": 5.0})["Hyperprediction"]
            assert got == pytest.approx(a * 230 + b * 5 + c, abs=2.0), device
        # Later runs read the same history: a window whose newest reading was trained on is skipped (no
        # point), until new readings come; then the device's champion is challenged again.
        (a, b, c), later = RELATIONS[0], time.time_ns()
        influx.write([f"{measurement},device_id={devices[0]} voltage={v:.4f},current={i:.4f},power={a * v + b * i + c:.4f} "
                      f"{later - (30 - k) * SECOND}"
                      for k, v, i in ((k, float(rng.uniform(220, 240)), float(rng.uniform(4, 6))) for k in range(30))])
        again = wait_until(lambda: (r := influx.query(f"SELECT * FROM trained_models WHERE model = '{model}' "
                                                     f"AND device_id = '{devices[0]}'")) and len(r) >= 2 and r,
                           timeout=30, what="a scheduled run on the new readings")
        assert again[-1]["Numberofmessages"] == 270 and again[-1]["Status"] in ("deployed", "kept")
        assert len(influx.query(f"SELECT * FROM trained_models WHERE model = '{model}' "
                                f"AND device_id = '{devices[1]}'")) == 1
    finally:
        kapacitor.delete(task)
