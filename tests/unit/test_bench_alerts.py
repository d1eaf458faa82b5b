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
