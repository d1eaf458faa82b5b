"""The shipped alert tasks on the real stack: a device falling silent and coming back, a predicted failure,
a flapping one, and the handler a topic is given (tick_scripts/device_silence.tick, failure_alert.tick,
kapacitor/alert_handlers.json).

Each test defines its own task from the shipped script with short vars (a silence of 2 s, not 2 minutes)
and a topic of its own where it reads the topic's events, writes points as Telegraf and the predict task
would (InfluxDB's /write; Kapacitor's subscription brings them), and reads what the alert wrote back.
"""

from __future__ import annotations

import threading
import time

import pytest

from stackutil import flush_vars, wait_until
from tickml.influx import line
from tickml.paths import LOGS, ROOT

# Its alert tasks read every device's readings (device_silence, device_anomaly): not beside the other tests of
# alerts, which count what reaches the topics.
pytestmark = [pytest.mark.stack, pytest.mark.exclusive("alerts")]

SECOND = 10**9


@pytest.fixture
def alert_task(kapacitor):
    """Define a task from a shipped alert script with vars; deleted afterwards."""
    made = []

    def define(script: str, name: str, **task_vars):
        kapacitor.create(name, (ROOT / "tick_scripts" / script).read_text(), flush_vars(**task_vars), status="enabled")
        made.append(name)

    yield define
    for name in made:
        kapacitor.delete(name)


def _alerts(influx, device: str, kind: str) -> list[dict]:
    return influx.query(f"SELECT level, message, \"duration\" FROM alerts "
                        f"WHERE device_id = '{device}' AND alert = '{kind}'")


def _reading(device: str) -> str:
    return line("device_message", {"device_id": device, "sensor": "temperature"}, {"value": 21.5}, time.time_ns())


def test_a_silent_device_alerts_once_and_again_when_it_reports(influx, kapacitor, alert_task, run_id):
    silent, steady, topic = f"{run_id}silent", f"{run_id}steady", f"{run_id}topic"
    alert_task("device_silence.tick", f"{run_id}silence", silence={"type": "duration", "value": 2 * SECOND},
               topic={"type": "string", "value": topic})
    # Both report twice a second; one falls silent after 2 s, the other goes on to the end of the test.
    stop = threading.Event()
    silent_until = time.monotonic() + 2

    def report():
        while not stop.is_set():
            influx.write([_reading(steady)] + ([_reading(silent)] if time.monotonic() < silent_until else []))
            stop.wait(0.5)

    sender = threading.Thread(target=report)
    sender.start()
    try:
        critical = wait_until(lambda: _alerts(influx, silent, "silence"), timeout=15, what="the silence alert")
        assert [a["level"] for a in critical] == ["CRITICAL"], critical
        assert critical[0]["message"] == f"{silent} is silent"
        events = {e["id"]: e["state"]["level"] for e in kapacitor.topic_events(topic)}
        assert events.get(f"silence/{silent}") == "CRITICAL", events
        # Still silent a silence later: no second alert (a change of level only); then it reports, and is OK.
        time.sleep(2.5)
        assert len(_alerts(influx, silent, "silence")) == 1
        influx.write([_reading(silent)])
        both = wait_until(lambda: len(a := _alerts(influx, silent, "silence")) >= 2 and a, timeout=15,
                          what="the device back")
        assert [a["level"] for a in both[:2]] == ["CRITICAL", "OK"] and both[1]["message"] == f"{silent} reports again"
        assert both[1]["duration"] >= 2 * SECOND  # how long it was silent
        assert _alerts(influx, steady, "silence") == [], "a device that kept reporting was called silent"
    finally:
        stop.set()
        sender.join()


def _model(run_id: str) -> dict:
    """The failure model's name as the run's own (the task's var ``model``): the task reads no other run's
    predictions, nor those of the shipped failure_predict for the fleets of tests running beside it."""
    return {"type": "string", "value": f"{run_id}failure_prob"}


def _predictions(influx, device: str, run_id: str, probabilities: list[float]) -> None:
    start = time.time_ns()
    influx.write([line("predictions", {"device_id": device, "model": _model(run_id)["value"]}, {"Probability1": p},
                       start + k * 1_000_000) for k, p in enumerate(probabilities)])


def test_a_likely_failure_alerts_at_the_threshold_and_clears_below_the_reset(influx, kapacitor, alert_task, run_id):
    device, topic = f"{run_id}pm-1", f"{run_id}topic"
    alert_task("failure_alert.tick", f"{run_id}failure", topic={"type": "string", "value": topic}, model=_model(run_id))
    # 0.7 after 0.9 stays critical: under the threshold (0.8) but not under the reset (0.6).
    _predictions(influx, device, run_id, [0.1, 0.2, 0.9, 0.95, 0.7, 0.65, 0.5, 0.3])
    alerts = wait_until(lambda: len(a := _alerts(influx, device, "failure")) >= 2 and a, timeout=20,
                        what="the failure alert and its end")
    time.sleep(1.5)  # a flush interval more: a third alert would be written by now
    alerts = _alerts(influx, device, "failure")
    assert [(a["level"], a["message"]) for a in alerts] == [
        ("CRITICAL", f"{device} is likely to fail: probability 0.90"), ("OK", f"{device} is no longer likely to fail")]
    assert {e["id"]: e["state"]["level"] for e in kapacitor.topic_events(topic)} == {f"failure/{device}": "OK"}


def test_a_flapping_failure_prediction_is_damped(influx, alert_task, run_id):
    device = f"{run_id}pm-2"
    alert_task("failure_alert.tick", f"{run_id}flapping", topic={"type": "string", "value": f"{run_id}topic"},
               model=_model(run_id))
    # Forty changes of level; once more than half of the last 21 points changed it, the alerts stop.
    _predictions(influx, device, run_id, [0.95, 0.1] * 20 + [0.1] * 30)
    wait_until(lambda: _alerts(influx, device, "failure"), timeout=20, what="the first alerts")
    time.sleep(2.5)
    levels = [a["level"] for a in _alerts(influx, device, "failure")]
    assert 2 <= len(levels) < 20, levels


def test_the_shipped_topic_handler_logs_an_alert(influx, kapacitor, alert_task, run_id):
    """kapacitor/alert_handlers.json's log handler of the topic device-alerts, as `tickml tasks define` put it."""
    from tickml.tasks import load_handlers

    (handler,) = [h for h in load_handlers() if h.topic == "device-alerts" and h.kind == "log"]
    assert kapacitor.define_handler(handler.topic, handler.id, handler.kind, handler.options) == "unchanged"
    device = f"{run_id}pm-3"
    alert_task("failure_alert.tick", f"{run_id}logged", model=_model(run_id))  # the shipped topic
    _predictions(influx, device, run_id, [0.1, 0.99])
    log = LOGS / "alerts.log"
    wait_until(lambda: log.exists() and f"failure/{device}" in log.read_text(), timeout=20,
               what=f"the alert of {device} in {log}")


def _anomaly_alerts(influx, device: str) -> list[dict]:
    return influx.query(f"SELECT level, message, anomaly_score FROM alerts WHERE device_id = '{device}' "
                        "AND alert = 'anomaly'")


def test_an_anomalous_reading_alerts_once_and_a_healthy_device_never(influx, kapacitor, alert_task, run_id):
    """device_anomaly.tick with its own defaults: @anomaly() learns each device's cycle, a spike is CRITICAL,
    the device is OK again once its scores have been calm for calm_seconds, and its twin without the spike
    is never alerted."""
    import numpy as np

    sick, healthy, topic = f"{run_id}sick", f"{run_id}healthy", f"{run_id}topic"
    measurement = f"{run_id}readings"
    alert_task("device_anomaly.tick", f"{run_id}anomaly", measurement={"type": "string", "value": measurement},
               calm_seconds={"type": "float", "value": 1.0}, topic={"type": "string", "value": topic})
    rng = np.random.default_rng(7)
    n, spike = 500, 350
    cycle = 20 + 2 * np.sin(2 * np.pi * np.arange(n) / 25)
    start = time.time_ns() - n * 10_000_000  # 10 ms apart, ending now
    lines = []
    for device in (sick, healthy):
        values = cycle + rng.normal(0, 0.05, n)
        if device == sick:
            values[spike] += 12
        lines += [line(measurement, {"device_id": device, "sensor": "temperature"}, {"value": float(v)},
                       start + k * 10_000_000) for k, v in enumerate(values)]
    influx.write(lines)
    scored = wait_until(lambda: len(r := influx.query(f"SELECT anomaly_score, anomaly_learning FROM anomaly "
                                                      f"WHERE device_id = '{sick}'")) >= n and r,
                        timeout=30, what="every reading of the sick device scored")
    assert [r["anomaly_learning"] for r in scored[:150]] == [True] * 150 and not scored[150]["anomaly_learning"]
    assert scored[spike]["anomaly_score"] >= 0.5
    alerts = wait_until(lambda: len(a := _anomaly_alerts(influx, sick)) >= 2 and a, timeout=20,
                        what="the anomaly alert and its end")
    assert [a["level"] for a in alerts] == ["CRITICAL", "OK"], alerts
    assert alerts[0]["time"] == start + spike * 10_000_000
    assert alerts[0]["message"].startswith(f"{sick} temperature is anomalous: score ")
    # OK once the scores had stayed under the reset for calm_seconds (1 s = 100 readings) of stream time.
    assert alerts[1]["time"] - alerts[0]["time"] >= SECOND
    assert {e["id"]: e["state"]["level"] for e in kapacitor.topic_events(topic)} == \
        {f"anomaly/{sick}/temperature": "OK"}
    assert _anomaly_alerts(influx, healthy) == [], "a healthy device was alerted"


@pytest.mark.serial
def test_a_stopped_task_and_a_failing_node_alert(stack, influx, kapacitor, alert_task, run_id):
    """task_health.tick: the moving_average task stopped by killing its UDF server (the watcher reports it and
    brings it back), a task deleted on purpose (not alerted), and a task whose eval fails on every point."""
    import os
    import signal

    victim, failing, topic = f"{run_id}victim", f"{run_id}failing", f"{run_id}topic"
    started = time.time_ns()
    alert_task("task_health.tick", f"{run_id}health", topic={"type": "string", "value": topic})
    kapacitor.create(victim, f'dbrp "telemetry"."autogen"\nstream\n    |from()\n        .measurement(\'{victim}\')\n'
                             "    |httpOut('x')\n", status="enabled")
    # "nope" is no field of these points: the eval node fails on every one.
    kapacitor.create(failing, f'dbrp "telemetry"."autogen"\nstream\n    |from()\n        .measurement(\'{failing}\')\n'
                              "    |eval(lambda: \"nope\" * 2.0)\n        .as('x')\n    |httpOut('x')\n", status="enabled")
    stop = threading.Event()

    def feed():
        while not stop.is_set():
            influx.write([line(failing, {"device_id": "d"}, {"value": 1.0}, time.time_ns())])
            stop.wait(0.5)

    sender = threading.Thread(target=feed)
    sender.start()

    def task_alerts(task: str) -> list[dict]:
        return influx.query(f"SELECT level, message FROM alerts WHERE task = '{task}' AND alert = 'task_stopped' "
                            f"AND time >= {started}")

    try:
        kapacitor.delete(victim)
        os.kill(stack.supervised_process("udf-moving_average")["pid"], signal.SIGKILL)
        def stopped_and_back():
            rows = task_alerts("moving_average")
            return rows if {"CRITICAL", "OK"} <= {a["level"] for a in rows} else None

        both = wait_until(stopped_and_back, timeout=40, what="moving_average stopped and running again")
        stopped = [a for a in both if a["level"] == "CRITICAL"][0]
        # The reason names the UDF: the watcher saw its server replaced, or Kapacitor's writes to it failed first.
        assert stopped["message"] in ("task moving_average has stopped: UDF moving_average went away",
                                      "task moving_average has stopped: stopped: moving_average3: stopping UDF "
                                      "server: write error: write unix @->"
                                      f"{stack.RUN / 'udf' / 'moving_average.sock'}: write: broken pipe"), stopped
        assert any(a["message"] == "task moving_average runs again" for a in both)
        events = {e["id"]: e["state"]["level"] for e in kapacitor.topic_events(topic)}
        assert events.get("task/moving_average") == "OK", events
        errors = wait_until(lambda: influx.query(f"SELECT level, message FROM alerts WHERE task = '{failing}' "
                                                 "AND alert = 'node_errors'"), timeout=30, what="the errors alert")
        assert errors[0]["level"] == "CRITICAL" and errors[0]["message"].startswith("eval2 of task ")
        assert "keeps failing" in errors[0]["message"]
        # Deleted on purpose: never reported stopped (the watcher reports enabled tasks only).
        assert task_alerts(victim) == [] and task_alerts(failing) == []
    finally:
        stop.set()
        sender.join()
        for name in (victim, failing):
            if kapacitor.task(name):
                kapacitor.delete(name)
