"""bench/alerts.py's planning and counting, without the stack: where the incidents fall, and which alerts count as
an incident's, which as false (tests/integration/test_bench_alerts.py runs it on the stack)."""

from __future__ import annotations

import dataclasses

import pytest

import alerts
from devices.faults import INCIDENT_KINDS, Incident

S = 10**9


@pytest.mark.parametrize("settings", [alerts.Settings(), alerts.SMOKE], ids=["full", "smoke"])
def test_incidents_take_the_kinds_in_turn_after_learning_with_time_to_alert(settings):
    planted = settings.incidents()
    assert [i.kind for i in planted] == list(INCIDENT_KINDS) * settings.per_kind
    assert [i.device for i in planted] == list(range(len(planted))) and len(planted) < settings.devices
    assert min(i.tick for i in planted) > alerts.LEARNING
    # The last incident leaves two silences before the fleet stops: the deadman's latest alert.
    assert max(i.tick for i in planted) * settings.interval + 2 * settings.silence < settings.minutes * 60


def test_a_run_too_short_or_a_fleet_too_small_is_refused():
    with pytest.raises(ValueError, match="too short"):
        alerts.Settings(minutes=3).incidents()
    with pytest.raises(ValueError, match="10 incidents want more than 10 devices"):
        alerts.Settings(devices=10).incidents()


def _alert(device, t, level="CRITICAL", alert="anomaly", sensor="temperature"):
    return {"device_id": device, "time": t * S, "level": level, "alert": alert, "sensor": sensor}


def _result(rows):
    return alerts.Result(dataclasses.replace(alerts.SMOKE, minutes=1), "p-", 0, 100 * S,
                         {"a": (Incident("shift", 0, 10, 8.0), 50 * S), "b": (Incident("silence", 1, 10), 50 * S)},
                         ["c", "d"], rows, {"a": 0.7, "b": None}, len(rows), "")


def test_alerts_count_for_their_incident_from_its_time_and_as_false_before_it_or_without_one():
    result = _result([_alert("a", 20), _alert("a", 30, "OK"), _alert("a", 55), _alert("b", 61, alert="silence"),
                      _alert("c", 70), _alert("d", 80, "OK")])
    assert [a["time"] for a in result.after("a")] == [55 * S] and result.after("b")[0]["alert"] == "silence"
    assert [(a["device_id"], a["time"] // S) for a in result.false_alerts()] == [("a", 20), ("c", 70)]
    assert result.missed() == [] and result.open_at("a") == []
    # Healthy time: c and d for the whole 100 s, a and b until their incidents at 50 s.
    assert result.healthy_hours() == pytest.approx(300 / 3600)
    text = alerts.table(result)
    assert "| shift | 8 sd | 1 | 1 | anomaly 1 | 5.0 | 1.0 | 0 |" in text
    assert "| silence | - | 1 | 1 | silence 1 | 11.0 | 1.0 | 0 |" in text
    assert "false alerts: 2 in 0.08 healthy device-hours" in text and "c temperature anomaly at 70.0 s (healthy)" in text


def test_an_alert_still_critical_at_the_incident_is_named_and_the_incident_missed():
    result = _result([_alert("a", 20), _alert("b", 61, alert="silence")])
    assert result.open_at("a") == ["anomaly temperature"] and result.missed() == ["a"]
    assert "| shift | 8 sd | 1 | 0 | - | - | 0.0 | 1 |" in alerts.table(result)


def _got(task, alert_id, t, level="CRITICAL", message="m"):
    return {"id": alert_id, "level": level, "time": t * S, "message": message, "task": task,
            "device": alert_id.split("/")[1]}


def test_an_alert_reaches_a_handler_that_names_the_task_only_with_the_runs_task_id_level_and_time():
    row = dict(_alert("a", 55), message="a temperature is anomalous: score 0.90")
    result = _result([row])
    result.tasks = {"anomaly": "run_anomaly", "silence": "run_silence"}
    result.received = {"webhook": [_got("device_anomaly", "anomaly/a/temperature", 55)],  # the shipped task's copy
                       "kafka": [_got("run_anomaly", "anomaly/a/temperature", 56)],  # another time
                       "email": [_got("run_anomaly", "anomaly/a/temperature", 55, level="OK")],
                       "log": [_got("run_anomaly", "anomaly/a/temperature", 55)]}
    assert result.not_reached(row) == ["webhook", "kafka", "email"]
    assert result.through("log") == ["a"] and result.through("webhook") == [] and result.unreached() == ["a"]


def test_an_mqtt_message_counts_for_the_run_only_beyond_the_other_tasks_copies_of_it():
    message = "a temperature is anomalous: score 0.90"
    row = dict(_alert("a", 55), message=message)
    result = _result([row])
    result.tasks = {"anomaly": "run_anomaly", "silence": "run_silence"}
    shipped = _got("device_anomaly", "anomaly/a/temperature", 55, message=message)
    once = [{"id": None, "level": None, "time": None, "message": message, "task": None, "device": "a"}]
    # The shipped task raised the same message and a handler that names tasks saw it: one MQTT copy is its.
    result.received = {"mqtt": once, "webhook": [shipped, shipped]}  # a duplicate post is one alert
    assert not result.reached(row, "mqtt")
    result.received["mqtt"] = once * 2
    assert result.reached(row, "mqtt")
    # Without the shipped task's copy, one message on the device's topic is the run's.
    result.received = {"mqtt": once, "webhook": []}
    assert result.reached(row, "mqtt")
    text = alerts.table(result)
    assert "| shift | 8 sd | 1 | 1 | anomaly 1 | 5.0 | 1.0 | 0 | 1/1 | 0/1 |" in text and "not by webhook" in text


def test_the_receivers_read_the_task_from_the_details_and_the_device_from_the_mqtt_topic():
    from urllib.parse import quote_plus

    from alert_receivers import alert_of, mqtt_device

    details = '{&#34;TaskName&#34;:&#34;device_anomaly&#34;,&#34;ID&#34;:&#34;anomaly/a/t&#34;}\n'
    assert alert_of({"id": "anomaly/a/t", "details": details})["task"] == "device_anomaly"
    assert alert_of({"id": "x", "details": "its own words"})["task"] is None
    hostile = "p-a+b#c/d e"
    assert mqtt_device("alerts/" + quote_plus(quote_plus(hostile, safe=""), safe="")) == hostile
    assert mqtt_device("alerts/stack/task") is None and mqtt_device("other/x") is None
