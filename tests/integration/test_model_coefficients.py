"""A deployed model's coefficients published over MQTT by Kapacitor (tick_scripts/model_coefficients.tick).

Trained-model points go into Kapacitor's stream as InfluxDB's subscription
brings them; the shipped script, defined for a model of the test's own,
publishes each deployment (and nothing else) as one JSON object to
models/<model>/<device id>, where the alerts' reader receives it.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from alert_receivers import MqttReader
from stackutil import wait_until
from tickml import secrets
from tickml.influx import line

# The alerts' reader is one login, its client id: not beside the alert tests, which read with it too.
pytestmark = [pytest.mark.stack, pytest.mark.exclusive("alerts")]

ROOT = Path(__file__).resolve().parents[2]


def test_each_deployment_is_published_as_json_to_its_device_topic(kapacitor, run_id):
    model, task, device = f"{run_id}coef", f"{run_id}coefficients", f"{run_id}pm-1"
    reader = MqttReader(*secrets.mqtt_login("tickml-alerts-reader"), topic_filter=f"models/{model}/#").start()
    kapacitor.create(task, (ROOT / "tick_scripts" / "model_coefficients.tick").read_text(),
                     {"model": {"type": "string", "value": model}}, status="enabled")
    try:
        assert reader.granted == ["Granted QoS 1"], reader.granted
        start = time.time_ns()
        fields = [{"Deployed": 1, "Status": "deployed", "coef_voltage": 2.0, "coef_current": 50.5, "Intercept": -3.25,
                   "Modelversion": 1},
                  {"Deployed": 0, "Status": "kept", "coef_voltage": 9.0, "coef_current": 9.0, "Intercept": 9.0,
                   "Modelversion": 1},
                  {"Deployed": 1, "Status": "deployed", "coef_voltage": 2.5, "coef_current": 40.0, "Intercept": 1e-7,
                   "Modelversion": 2}]
        kapacitor.write([line("trained_models", {"device_id": device, "model": model}, f, start + k * 10**9)
                         for k, f in enumerate(fields)])
        wait_until(lambda: len(reader.messages) >= 2, timeout=30, what="two models published")
        time.sleep(1)  # anything more (the kept challenger) would have come by now
        assert [topic for topic, _ in reader.messages] == [f"models/{model}/{device}"] * 2
        published = [json.loads(payload) for _, payload in reader.messages]
        for got, want in zip(published, (fields[0], fields[2])):
            assert {k: got[k] for k in want} == want
            assert (got["device_id"], got["model"]) == (device, model)
        assert published[0]["time"].startswith(time.strftime("%Y-%m-%dT", time.gmtime(start / 1e9)))
    finally:
        kapacitor.delete(task)
        reader.stop()
