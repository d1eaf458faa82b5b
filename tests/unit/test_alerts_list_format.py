"""``tickml alerts list`` (tickml/alerts.py): what it prints of the alerts Kapacitor's topics hold, and the options
it takes. The calls to Kapacitor are tried on the stack (tests/integration/test_alerts_list.py)."""

from __future__ import annotations

import argparse
import json

import pytest

from tickml import alerts, cli

NOW = 1_767_226_200 * 10**9  # 2026-01-01T00:10:00Z


def _alert(topic, ident, level, since, message="m"):
    return {"topic": topic, "id": ident, "level": level, "message": message, "since": since, "time": since,
            "duration": "0s"}


def test_the_table_lines_up_worst_first_with_how_long_each_has_been_open():
    listed = alerts.order([
        _alert("device-alerts", "silence/pump-1", "WARNING", "2026-01-01T00:09:00Z", "pump-1 is quiet"),
        _alert("stack-health", "task/device_anomaly", "CRITICAL", "2025-12-31T22:05:00Z", "task has stopped"),
        _alert("device-alerts", "anomaly/pump-2/temperature", "CRITICAL", "2026-01-01T00:09:58Z",
               "pump-2 temperature is anomalous: score 0.93")])
    lines = alerts.table(listed, "INFO", now_ns=NOW).splitlines()
    assert lines[0].split() == ["LEVEL", "SINCE", "FOR", "TOPIC", "ID", "MESSAGE"]
    assert [line.split()[:4] for line in lines[1:]] == [
        ["CRITICAL", "2026-01-01T00:09:58Z", "2s", "device-alerts"],
        ["CRITICAL", "2025-12-31T22:05:00Z", "2h", "5m"],
        ["WARNING", "2026-01-01T00:09:00Z", "1m", "device-alerts"]]
    assert lines[1].endswith("anomaly/pump-2/temperature  pump-2 temperature is anomalous: score 0.93")
    # Every column but the message starts where its header does.
    at = lines[0].index("ID")
    assert {line[at:].split()[0] for line in lines[1:]} == {"anomaly/pump-2/temperature", "task/device_anomaly",
                                                             "silence/pump-1"}


def test_no_alert_is_a_sentence_naming_the_level_asked():
    assert alerts.table([], "INFO") == "no open alert"
    assert alerts.table([], "CRITICAL") == "no alert at CRITICAL or above"
    assert alerts.table([], "OK") == "no alert"


def test_an_alert_raised_a_while_ago_began_its_duration_before_its_last_event():
    """Without stateChangesOnly Kapacitor sends an event at every point, its duration growing: the level began
    at the first."""
    state = {"level": "CRITICAL", "time": "2026-01-01T00:10:00.123456789Z", "duration": "1h2m3.5s"}
    assert alerts.since(state) == "2025-12-31T23:07:56Z"


def test_the_options_parse_as_a_user_types_them():
    args = cli.parser().parse_args(["alerts", "list", "--topic", "a", "--topic", "b", "--level", "critical",
                                    "--json", "--kapacitor", "http://k:1"])
    assert (args.topic, args.level, args.json, args.kapacitor) == (["a", "b"], "CRITICAL", True, "http://k:1")
    defaults = cli.parser().parse_args(["alerts", "list"])
    assert (defaults.topic, defaults.level, defaults.json) == (None, "INFO", False)
    with pytest.raises(argparse.ArgumentTypeError, match="'urgent' is no alert level; the levels are ok, info"):
        alerts.parse_level("urgent")


def test_json_is_one_object_per_alert(capsys, monkeypatch):
    listed = [_alert("t", "failure/pm-1", "CRITICAL", "2026-01-01T00:00:00Z")]
    monkeypatch.setattr(alerts, "collect", lambda kapacitor, topics, level: listed)
    monkeypatch.setattr(alerts, "Kapacitor", lambda url: None)
    assert cli.main(["alerts", "list", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == listed
