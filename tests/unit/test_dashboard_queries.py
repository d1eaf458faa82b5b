"""The dashboard's queries bind every value the browser can change: the text InfluxDB parses is the panel's
alone, whatever the device id, sensor, statistics, range or picker text, and those sit in ``params``."""

from __future__ import annotations

import json
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tickml.dashboard import influxql
from tickml.dashboard.panels import BY_NAME, PANELS, TASKS_NOW
from tickml.dashboard.schema import PREPROCESSED_STATS
from tickml.dashboard.timerange import Range
from tickml.influx import Influx

HOSTILE = "x' OR device_id =~ /.*/ OR device_id = '"
WHEN = Range(1_700_000_000 * 10**9, 1_700_000_900 * 10**9)
# What the app sets beside the page's choices (Source.panel): the settings' bounds, the UDFs, the tasks shown.
BOUNDS = {"top": 10, "slimit": 50, "limit": 500, "threshold": 90.0, "udfs": "py_classifier|anomaly_detect",
          "tasks": ["device_preprocess", "power_predict"]}
PLAIN = {"device": "pump-1", "sensor": "power", "stats": "Avg"}
QUERIES = [query for panel in PANELS for query in panel.queries] + [TASKS_NOW]
# The page's state, which the browser holds and may send back as anything.
BROWSER = ("device", "sensor", "stats")


def render(query, when: Range = WHEN, **choices) -> influxql.Rendered:
    return influxql.render(query.text, when, 5, {**BOUNDS, **PLAIN, **choices})


@pytest.mark.parametrize("query", [q for q in QUERIES if "$device" in q.text], ids=lambda q: q.text[:60])
def test_a_hostile_device_id_leaves_the_text_as_it_is_and_sits_in_params(query):
    plain, hostile = render(query), render(query, device=HOSTILE)
    assert hostile.text == plain.text
    assert '"device_id" = $device' in hostile.text and "pump-1" not in plain.text
    assert not re.search(r"\bOR\b", hostile.text), "no OR of the id's in the text (ORDER BY is the panel's)"
    assert hostile.params == {**plain.params, "device": HOSTILE}
    assert json.loads(json.dumps(hostile.params))["device"] == HOSTILE, "sent as it is, as JSON"


def test_the_page_picker_and_the_sensors_bind_their_text():
    for text in ("pump", HOSTILE, ".*", "a/b", "(?i)", "\\", "'\n"):
        query = influxql.devices_like(text, 1001)
        assert query.text == influxql.devices_like("pump", 1001).text
        assert re.fullmatch(query.params["pattern"]["regex"], text.strip().upper()), "what was typed, as written"
        sensors = influxql.device_sensors(text)
        assert sensors.text == 'SHOW TAG VALUES FROM "device_message" WITH KEY = "sensor" WHERE "device_id" = $device'
        assert sensors.params == {"device": text}
    assert "WHERE" not in influxql.devices_like("  ", 5).text, "nothing typed: every id, as many as the limit"
    with pytest.raises(influxql.QueryError):
        influxql.device_sensors(["a list"])


def test_every_macro_and_bound_is_a_parameter_of_its_kind():
    query = render(BY_NAME["readings"].queries[2])
    assert query.text == ('SELECT "value_preprocessed_AnomProb" AS "anomaly probability", "WindowStartUnixTime", '
                          '"WindowEndUnixTime" FROM "device_preprocessed" WHERE time >= $__start AND time < $__end '
                          'AND "device_id" = $device AND "value_preprocessed_AnomProb" >= $threshold GROUP BY '
                          '"sensor" LIMIT $limit')
    assert query.params == {"__start": WHEN.start, "__end": WHEN.end, "device": "pump-1", "threshold": 90.0,
                            "limit": 500}
    preprocessed = render(BY_NAME["preprocessed"].queries[0], stats="Avg|Variance")
    assert preprocessed.text.startswith("SELECT mean($stats) FROM")
    assert preprocessed.params["stats"] == {"regex": "^value_preprocessed_(Avg|Variance)$"}
    assert preprocessed.params["sensor"] == "power" and preprocessed.params["__interval"] == {"duration": "5s"}
    tasks = render(BY_NAME["udf_points"].queries[0], tasks=["a.b", "c/d"])
    assert '"task" =~ $tasks' in tasks.text and tasks.params["tasks"] == {"regex": r"^(a\.b|c/d)$"}
    udfs = render(BY_NAME["kapacitor_udf_nodes"].queries[0])
    assert udfs.params["udfs"] == {"regex": "^(py_classifier|anomaly_detect)$"}
    now = render(TASKS_NOW)
    assert "time > $__to - 1m AND time <= $__to" in now.text
    assert now.params == {"__to": {"duration": f"{WHEN.end // 10**6}ms"}}
    assert "$top" in render(BY_NAME["top_anomaly"].queries[0]).text


def test_what_cannot_be_bound_is_checked_and_refused():
    preprocessed = BY_NAME["preprocessed"].queries[0]
    for stats in ("Avg|.*", ".*", "", "Avg)|(.*", ["Avg"], None):
        with pytest.raises(influxql.QueryError, match="statistics must be among"):
            render(preprocessed, stats=stats)
    with pytest.raises(influxql.QueryError, match="UDF names are words"):
        influxql.render(BY_NAME["kapacitor_udf_nodes"].queries[0].text, WHEN, 5, {**BOUNDS, "udfs": "a|.*"})
    for start in ("0 OR 1=1", 1.5, None, True):
        with pytest.raises(influxql.QueryError, match="a range is two instants"):
            render(BY_NAME["rejects"].queries[0], Range(start, WHEN.end))
    for device in (1, ["x"], {"a": 1}, None):
        with pytest.raises(influxql.QueryError):
            render(BY_NAME["anomaly"].queries[0], device=device)
    with pytest.raises(influxql.QueryError, match="where only a number may"):
        influxql.render("SELECT x FROM m WHERE device_id = $device", WHEN, 5, {"device": "d"})
    with pytest.raises(influxql.QueryError, match="cannot stand in an identifier"):
        influxql.render('SELECT "$device" FROM m', WHEN, 5, {"device": "d"})
    with pytest.raises(influxql.QueryError, match="a number written with a point"):
        influxql.render("SELECT x FROM m WHERE v > $threshold", WHEN, 5, {"threshold": float("nan")})


def test_a_value_used_twice_is_one_parameter_and_different_literals_two():
    query = influxql.render("SELECT x FROM m WHERE a = '$device' OR b = '$device' OR c =~ /^$device$/ "
                            "OR d =~ /$device/", WHEN, 5, {"device": "d.1"})
    assert query.text == "SELECT x FROM m WHERE a = $device OR b = $device OR c =~ $device_2 OR d =~ $device_3"
    assert query.params == {"device": "d.1", "device_2": {"regex": r"^d\.1$"}, "device_3": {"regex": r"d\.1"}}
    assert influxql.render("SELECT x FROM m WHERE a = 'x-$device' AND b = 'it\\'s'", WHEN, 5,
                           {"device": "d"}) == influxql.Rendered("SELECT x FROM m WHERE a = $device AND b = 'it\\'s'",
                                                                 {"device": "x-d"})


def test_division_is_not_taken_for_a_regex():
    query = render(BY_NAME["udf_latency"].queries[0])
    assert "* 1000000 / non_negative_derivative(" in query.text and "$tasks" in query.text


@settings(max_examples=300, deadline=None)
@given(device=st.text(), sensor=st.text(), stats=st.one_of(st.text(), st.sampled_from(PREPROCESSED_STATS)),
       start=st.integers(-2**62, 2**62), length=st.integers(1, 2**40))
def test_whatever_the_browser_sends_the_text_is_the_plain_values(device, sensor, stats, start, length):
    """For every panel's query: arbitrary text in every variable the page's state holds, and any range, give the
    text of plain values, or a refusal for statistics outside the choices; the values sit in params."""
    when = Range(start, start + length)
    for query in QUERIES:
        plain = render(query, when)
        try:
            rendered = render(query, when, device=device, sensor=sensor, stats=stats)
        except influxql.QueryError as exc:
            assert "$stats" in query.text and "statistics must be among" in str(exc)
            assert any(s not in PREPROCESSED_STATS for s in stats.split("|"))
            continue
        assert rendered.text == plain.text
        for name, value in (("device", device), ("sensor", sensor)):
            if f"'${name}'" in query.text:
                assert rendered.params[name] == value
        json.dumps(rendered.params)  # what /query gets beside the text
    searched = influxql.devices_like(device, 1001)
    assert searched.text == influxql.devices_like("pump" if device.strip() else "", 1001).text


def test_the_client_sends_params_as_json_beside_the_text(monkeypatch):
    sent = []
    influx = Influx("http://127.0.0.1:9", username=None)
    monkeypatch.setattr(influx, "_request", lambda path, params, data=None: sent.append(params) or
                        b'{"results": [{"statement_id": 0}]}')
    query = render(BY_NAME["anomaly"].queries[0], device=HOSTILE)
    influx.series(query.text, "telemetry", params=query.params)
    influx.series("SHOW DATABASES", "telemetry")
    assert sent[0]["q"] == query.text and json.loads(sent[0]["params"]) == query.params
    assert "params" not in sent[1]
