"""What a panel draws from InfluxDB-shaped results (tickml/dashboard/figures.py): pure functions, no InfluxDB."""

from __future__ import annotations

import numpy as np

from tickml.dashboard import figures
from tickml.dashboard.panels import BY_NAME
from tickml.dashboard.source import Result
from tickml.dashboard.timerange import Range

S = 10**9
WHEN = Range(1000 * S, 1900 * S)


def _result(*series) -> Result:
    return Result(list(series), "SELECT ...", 0.01)


def _series(columns, values, **tags) -> dict:
    return {"name": "m", "tags": tags, "columns": ["time", *columns], "values": values}


def test_readings_are_a_line_per_sensor_a_band_of_aggregates_and_shaded_anomalous_windows():
    panel = BY_NAME["readings"]
    raw = _result(_series(["reading"], [[1000 * S, 1.0], [1005 * S, 2.0]], sensor="power"),
                  _series(["reading"], [[1000 * S, 5.0]], sensor="current"))
    aggregates = _result(_series(["min", "avg", "max"], [[1000 * S, 0.5, 1.5, 2.5]], sensor="power"))
    anomalous = _result(_series(["anomaly probability", "WindowStartUnixTime", "WindowEndUnixTime"],
                                [[1010 * S, 97.0, 990 * S, 1010 * S]], sensor="power"))
    fig = figures.time_figure(panel, [raw, aggregates, anomalous], WHEN)
    names = [t.name for t in fig.data]
    assert names == ["power", "current", "power 10 s max", "power 10 s min-max", "power 10 s avg"]
    assert list(fig.data[0].y) == [1.0, 2.0] and np.datetime64(fig.data[0].x[1]) == np.datetime64(1005 * S, "ns")
    assert fig.data[3].fill == "tonexty"
    (shade,) = fig.layout.shapes
    assert (np.datetime64(shade.x0), np.datetime64(shade.x1)) == (np.datetime64(990 * S, "ns"),
                                                                  np.datetime64(1010 * S, "ns"))
    # The axis spans the page's range, not only the data.
    assert [np.datetime64(x) for x in fig.layout.xaxis.range] == [np.datetime64(WHEN.start, "ns"),
                                                                  np.datetime64(WHEN.end, "ns")]


def test_a_residual_goes_on_the_second_axis():
    panel = BY_NAME["prediction"]
    fig = figures.time_figure(panel, [_result(_series(["predicted", "measured"], [[1000 * S, 10.0, 11.0]])),
                                      _result(_series(["residual"], [[1000 * S, 1.0]]))], WHEN)
    assert [(t.name, t.yaxis) for t in fig.data] == [("predicted", "y"), ("measured", "y"), ("residual", "y2")]
    assert fig.layout.yaxis2.title.text == "residual (W)"


def test_the_top_devices_are_listed_highest_first_each_linked_to_its_page():
    table = figures.device_table([_result({"name": "m", "columns": ["time", "anomaly probability", "device_id"],
                                           "values": [[0, 40.0, "b"], [0, 99.5, "a/1"], [0, 70.0, "c"]]})])
    rows = table.children[1].children
    assert [(r.children[1].children.children, r.children[1].children.href, r.children[2].children)
            for r in rows] == [("a/1", "/device/a%2F1", "99.5"), ("c", "/device/c", "70"), ("b", "/device/b", "40")]


def test_each_listed_task_is_running_stopped_or_without_statistics():
    stats = _result(_series(["points_per_second"], [[1850 * S, 12.0], [1890 * S, 14.5]], task="device_aggregates"),
                    _series(["points_per_second"], [[1500 * S, 3.0]], task="moving_average"),
                    _series(["points_per_second"], [[1890 * S, 2.0]], task="by_hand"))
    table = figures.task_table([stats], ["device_aggregates", "moving_average", "rfc_task"], WHEN, 30)
    rows = [[cell.children for cell in row.children] for row in table.children[1].children]
    assert [r[:3] for r in rows] == [["device_aggregates", "running", "14.5"], ["moving_average", "not running", "3"],
                                     ["rfc_task", "no statistics in range", ""], ["by_hand", "running", "2"]]


def test_no_point_is_an_empty_panel_and_a_count_is_a_number():
    assert figures.panel_body(BY_NAME["anomaly"], [_result()], WHEN, [], 30) is None
    number = figures.panel_body(BY_NAME["devices_now"], [_result(_series(["devices"], [[0, 10000]]))], WHEN, [], 30)
    assert number.children[0].children == "10,000"


def test_training_windows_are_grouped_bars_per_model():
    panel = BY_NAME["models"]
    results = [_result(_series([status], [[0, n]], model="power"), _series([status], [[0, n + 1]], model="failure"))
               for status, n in (("deployed", 3), ("kept", 10), ("bad", 1))]
    fig = figures.category_figure(panel, results)
    assert [(t.name, list(t.x), list(t.y)) for t in fig.data] == [
        ("deployed", ["power", "failure"], [3, 4]), ("kept", ["power", "failure"], [10, 11]),
        ("bad", ["power", "failure"], [1, 2])]


def _alert_events(*rows) -> Result:
    """Rows of the alert panels' queries, newest first, as InfluxDB returns a raw select of fields and tags."""
    columns = ["time", "level", "message", "duration", "alert", "device_id", "sensor", "task", "node"]
    return _result({"name": "alerts", "columns": columns, "values": [list(r) for r in rows]})


def _cells(table) -> list[list]:
    return [[cell.children for cell in row.children] for row in table.children[1].children]


def test_an_alert_is_open_while_its_latest_event_is_not_ok():
    """Each alert (its kind and what it is about) counts by its newest event: a device's silence that ended
    is not open, its anomaly on one sensor is, the same on another sensor that ended is not, a task stopped is."""
    events = _alert_events(
        (1890 * S, "OK", "pump-1 reports again", 300 * S, "silence", "pump-1", None, None, None),
        (1800 * S, "CRITICAL", "pump-1 temperature is anomalous: score 0.91", 0, "anomaly", "pump-1", "temperature",
         None, None),
        (1700 * S, "OK", "pump-1 power is behaving as it used to", 60 * S, "anomaly", "pump-1", "power", None, None),
        (1650 * S, "CRITICAL", "task device_anomaly has stopped", 0, "task_stopped", None, None, "device_anomaly",
         "stream0"),
        (1640 * S, "CRITICAL", "pump-1 power is anomalous: score 0.7", 0, "anomaly", "pump-1", "power", None, None),
        (1590 * S, "CRITICAL", "pump-1 is silent", 0, "silence", "pump-1", None, None, None))
    table = figures.panel_body(BY_NAME["open_alerts"], [events], WHEN, [], 30)
    rows = _cells(table)
    assert [(r[0], r[2], r[3], r[5]) for r in rows] == [
        ("CRITICAL", "4m 10s", "task_stopped", "task device_anomaly has stopped"),
        ("CRITICAL", "1m 40s", "anomaly", "pump-1 temperature is anomalous: score 0.91")]
    assert rows[0][4] == "task device_anomaly"
    link, sensor = rows[1][4]
    assert (link.children, link.href, sensor) == ("pump-1", "/device/pump-1", " temperature")
    assert table.children[1].children[0].children[0].className == "level-critical"


def test_no_open_alert_is_said_and_the_events_are_listed_newest_first():
    events = _alert_events((1890 * S, "OK", "pump-1 reports again", 125 * S, "silence", "pump-1", None, None, None),
                           (1765 * S, "CRITICAL", "pump-1 is silent", 0, "silence", "pump-1", None, None, None))
    said = figures.panel_body(BY_NAME["open_alerts"], [events], WHEN, [], 30)
    assert said.children == "No alert is open: every alert's latest event up to the range's end is OK."
    rows = _cells(figures.panel_body(BY_NAME["alert_history"], [events], WHEN, [], 30))
    assert [(r[1], r[2], r[4], r[5]) for r in rows] == [("OK", "silence", "pump-1 reports again", "2m 5s"),
                                                         ("CRITICAL", "silence", "pump-1 is silent", "")]
    assert rows[0][0] == "1970-01-01 00:31:30 UTC"
    assert figures.panel_body(BY_NAME["device_alerts"], [_result()], WHEN, [], 30) is None


def test_the_anomaly_score_is_on_its_own_axis_with_the_alarm_level():
    panel = BY_NAME["anomaly"]
    fig = figures.time_figure(panel, [_result(_series(["reading", "expected"], [[1000 * S, 20.0, 20.1],
                                                                                [1010 * S, 32.0, 20.2]])),
                                      _result(_series(["anomaly score"], [[1000 * S, 0.1], [1010 * S, 0.93]]))], WHEN)
    assert [(t.name, t.yaxis) for t in fig.data] == [("reading", "y"), ("expected", "y"), ("anomaly score", "y2")]
    (alarm,) = fig.layout.shapes
    assert (alarm.yref, alarm.y0, alarm.y1, alarm.line.dash) == ("y2", 0.5, 0.5, "dash")
    assert list(fig.layout.yaxis2.range) == [0, 1.05]


def test_events_are_a_row_each_newest_first_with_the_querys_columns():
    panel = BY_NAME["model_actions"]
    actions = _result(_series(["action", "version", "model"], [[1002 * S, "rollback", 3, "power"],
                                                             [1001 * S, "pin", 2, "power"]]))
    table = figures.panel_body(panel, [actions], WHEN, [], 60)
    head, body = table.children
    assert [th.children for th in head.children.children] == ["time", "action", "version", "model"]
    assert [[td.children for td in tr.children] for tr in body.children] == [
        ["1970-01-01 00:16:42 UTC", "rollback", "3", "power"], ["1970-01-01 00:16:41 UTC", "pin", "2", "power"]]
