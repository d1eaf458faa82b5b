"""A panel's query results as what the page shows: a Plotly figure, a table of devices, a number.

Pure functions of the results: no InfluxDB here, so each is tested on
InfluxDB-shaped series (tests/unit/test_dashboard_figures.py).
"""

from __future__ import annotations

import urllib.parse

import numpy as np
import plotly.graph_objects as go
from dash import dcc, html

from .panels import (ALERT_EVENTS, BAND, BAR, BARS, CATEGORY_BARS, EVENTS, LINES, MARKERS, NUMBER, OPEN_ALERTS,
                     SECOND_AXIS, SHADE, TABLE, TASKS, Panel, Query)
from .timerange import Range, format_instant, span

_SHADE_COLOUR = "rgba(214, 39, 40, 0.15)"
_MARKED = 60  # series up to this long show their points


def device_href(device: str) -> str:
    """
    >>> device_href("boiler 7/a")
    '/device/boiler%207%2Fa'
    """
    return "/device/" + urllib.parse.quote(device, safe="")


def device_matches(text: str, found: list[str], shown: int, counted: int, search: str = "") -> list:
    """The picker's answer to ``text``: how many device ids contain it, and the first ``shown`` of ``found`` (the
    id that is ``text`` first, then those starting with it), each a link to its page keeping the address's
    ``search`` (its range). ``found`` holds at most ``counted`` + 1 ids; one more than ``counted`` is "over".

    >>> [c.children for c in device_matches("pump", [], 20, 1000)]
    ["No device id contains 'pump'."]
    >>> said, listed = device_matches("pump-1", ["a-pump-1", "pump-1", "pump-10"], 2, 1000, "?range=1h")
    >>> said.children
    "2 of 3 devices whose id contains 'pump-1'; keep typing to narrow them:"
    >>> [li.children.href for li in listed.children]
    ['/device/pump-1?range=1h', '/device/pump-10?range=1h']
    >>> device_matches("p", ["p1", "p2", "p3"], 2, 2)[0].children
    "2 of over 2 devices whose id contains 'p'; keep typing to narrow them:"
    """
    if not found:
        return [html.P(f"No device id contains {text!r}.", className="hint")]
    lowered = text.lower()
    ranked = sorted(found, key=lambda d: (d.lower() != lowered, not d.lower().startswith(lowered)))
    listed = ranked[:shown]
    if len(found) <= len(listed):
        said = f"{len(found):,} device{'s' if len(found) > 1 else ''} whose id contains {text!r}:"
    else:
        total = f"over {counted:,}" if len(found) > counted else f"{len(found):,}"
        said = f"{len(listed):,} of {total} devices whose id contains {text!r}; keep typing to narrow them:"
    return [html.P(said, className="hint"),
            html.Ul([html.Li(dcc.Link(d, href=device_href(d) + search)) for d in listed])]


def legend(query: Query, series: dict, column: str, columns: list[str]) -> str:
    """A series' name: the query's legend with the series' tags (``{_column}``: the column), and the
    column when the series has several.

    >>> legend(Query("", legend="{sensor}"), {"tags": {"sensor": "power"}}, "avg", ["time", "avg"])
    'power'
    >>> legend(Query("", legend="{task}"), {"tags": {"task": "t"}}, "in", ["time", "in", "out"])
    't in'
    >>> legend(Query(""), {"tags": {}}, "mean_value_preprocessed_Avg", ["time", "mean_value_preprocessed_Avg"])
    'value_preprocessed_Avg'
    """
    label = column.removeprefix("mean_")
    if not query.legend:
        return label
    name = query.legend.format_map(_Blank(series.get("tags", {}), _column=label)).strip()
    several = len([c for c in columns if c != "time"]) > 1
    return f"{name} {label}".strip() if several else (name or label)


class _Blank(dict):
    """Tags for a legend template: a tag a series lacks is blank."""

    def __missing__(self, key):
        return ""


def _instant(ns: int) -> np.datetime64:
    """A time for Plotly: to the millisecond (plotly.js cannot parse nanosecond date strings)."""
    return np.datetime64(int(ns) // 1_000_000, "ms")


def _times(values: list[list]) -> np.ndarray:
    return np.array([row[0] // 1_000_000 for row in values], dtype="datetime64[ms]")


def _column(values: list[list], index: int) -> list:
    return [row[index] for row in values]


def _line_traces(query: Query, series: dict, axis: str) -> list:
    columns, values = series["columns"], series["values"]
    x = _times(values)
    traces = []
    if query.role == BAND:
        index = {c: i for i, c in enumerate(columns)}
        name = legend(query, series, "", ["time", "band"])
        traces.append(go.Scatter(x=x, y=_column(values, index["max"]), mode="lines", line={"width": 0},
                                 name=f"{name} max", legendgroup=name, showlegend=False, hoverinfo="skip"))
        traces.append(go.Scatter(x=x, y=_column(values, index["min"]), mode="lines", line={"width": 0},
                                 fill="tonexty", fillcolor="rgba(31, 119, 180, 0.15)", name=f"{name} min-max",
                                 legendgroup=name))
        traces.append(go.Scatter(x=x, y=_column(values, index["avg"]), mode="lines", line={"dash": "dot"},
                                 name=f"{name} avg", legendgroup=name))
        return traces
    if query.role == MARKERS:
        value_column = columns[1]
        hover = ["<br>".join(f"{c}: {row[i]}" for i, c in enumerate(columns) if i > 1 and row[i] is not None)
                 for row in values]
        traces.append(go.Scatter(x=x, y=_column(values, 1), mode="markers", marker={"size": 10, "symbol": "diamond"},
                                 name=legend(query, series, value_column, ["time", value_column]),
                                 hovertext=hover, yaxis=axis))
        return traces
    for i, column in enumerate(columns):
        if column == "time":
            continue
        name = legend(query, series, column, columns)
        if query.role == BAR:
            traces.append(go.Bar(x=x, y=_column(values, i), name=name))
        else:
            # A short series is drawn with its points: a line of one point shows nothing.
            traces.append(go.Scatter(x=x, y=_column(values, i), mode="lines" if len(x) > _MARKED else "lines+markers",
                                     marker={"size": 5}, name=name, yaxis=axis, connectgaps=False))
    return traces


def _shapes(series_list: list[dict]) -> list[dict]:
    """Anomalous windows as shaded spans, from the windows' first and last message times."""
    shapes = []
    for series in series_list:
        index = {c: i for i, c in enumerate(series["columns"])}
        for row in series["values"]:
            start, end = row[index["WindowStartUnixTime"]], row[index["WindowEndUnixTime"]]
            if start is None or end is None:
                continue
            shapes.append({"type": "rect", "xref": "x", "yref": "paper", "x0": _instant(start), "x1": _instant(end),
                           "y0": 0, "y1": 1, "fillcolor": _SHADE_COLOUR,
                           "line": {"width": 0}, "layer": "below"})
    return shapes


def time_figure(panel: Panel, results: list, when: Range) -> go.Figure:
    fig = go.Figure()
    shapes = []
    for query, result in zip(panel.queries, results):
        if query.role == SHADE:
            shapes += _shapes(result.series)
            continue
        axis = "y2" if query.role == SECOND_AXIS else "y"
        for series in result.series:
            for trace in _line_traces(query, series, axis):
                fig.add_trace(trace)
    # The axis spans the page's range, so a device that reported for a minute of the hour looks like it.
    layout = dict(margin={"l": 50, "r": 20, "t": 10, "b": 30}, height=300, template="plotly_white",
                  legend={"orientation": "h", "y": -0.15}, uirevision=panel.name, shapes=shapes,
                  xaxis={"range": [_instant(when.start), _instant(when.end)]},
                  yaxis={"title": {"text": panel.unit}} if panel.unit else {})
    if any(q.role == SECOND_AXIS for q in panel.queries):
        layout["yaxis2"] = {"overlaying": "y", "side": "right", "showgrid": False, "title": {"text": panel.unit2}}
    if panel.kind == BARS:
        layout["barmode"] = "stack"
    if panel.level2 is not None:
        shapes.append({"type": "line", "xref": "paper", "x0": 0, "x1": 1, "yref": "y2", "y0": panel.level2,
                       "y1": panel.level2, "line": {"dash": "dash", "width": 1, "color": "#8a1f11"}})
        # The score's whole scale, so the alarm level stands where it is whatever the scores.
        layout["yaxis2"]["range"] = [0, 1.05]
    fig.update_layout(**layout)
    return fig


def category_figure(panel: Panel, results: list) -> go.Figure:
    """One bar per tag value (a model) and query (deployed, kept, bad)."""
    fig = go.Figure()
    for query, result in zip(panel.queries, results):
        if not result.series:
            continue
        labels = [legend(query, s, "", ["time", "x"]) for s in result.series]
        counts = [s["values"][0][1] for s in result.series]
        fig.add_trace(go.Bar(x=labels, y=counts, name=result.series[0]["columns"][1]))
    fig.update_layout(margin={"l": 50, "r": 20, "t": 10, "b": 30}, height=300, template="plotly_white",
                      barmode="group", legend={"orientation": "h", "y": -0.15}, uirevision=panel.name)
    return fig


def device_table(results: list) -> html.Table:
    """The top devices, highest first, each linked to its page."""
    (result,) = results
    rows = []
    for series in result.series:
        index = {c: i for i, c in enumerate(series["columns"])}
        value_column = next(c for c in series["columns"] if c not in ("time", "device_id"))
        rows += [(row[index["device_id"]], row[index[value_column]]) for row in series["values"]]
    rows.sort(key=lambda r: -r[1])
    header = html.Tr([html.Th("#"), html.Th("device"), html.Th(value_column if rows else "")])
    body = [html.Tr([html.Td(rank), html.Td(dcc.Link(device, href=device_href(device))), html.Td(f"{value:.4g}")])
            for rank, (device, value) in enumerate(rows, 1)]
    return html.Table([html.Thead(header), html.Tbody(body)], className="devices")


def number(results: list, caption: str) -> html.Div:
    (result,) = results
    value = result.series[0]["values"][0][1] if result.points else 0
    return html.Div([html.Div(f"{value:,}", className="number"), html.Div(caption, className="caption")])


def task_table(results: list, task_names: list[str], when: Range, stale_seconds: int) -> html.Table:
    """Each task of the task list: running while Kapacitor reports statistics for it, and its points in per second.

    Tasks Kapacitor reports that the list lacks (defined by hand, a test's) are listed after it.
    """
    (result,) = results
    latest = {}
    for series in result.series:
        task = series.get("tags", {}).get("task", "")
        if series["values"]:
            latest[task] = series["values"][-1]
    rows = []
    for task in task_names + sorted(set(latest) - set(task_names)):
        seen = latest.get(task)
        if seen is None:
            state, rate, when_seen = "no statistics in range", "", ""
        else:
            age = (when.end - seen[0]) / 1e9
            state = "running" if age <= stale_seconds else "not running"
            rate, when_seen = f"{seen[1]:.4g}", format_instant(seen[0])
        rows.append(html.Tr([html.Td(task), html.Td(state, className=state.replace(" ", "-")), html.Td(rate),
                             html.Td(when_seen)]))
    header = html.Tr([html.Th("task"), html.Th("state"), html.Th("points in per second"), html.Th("last statistics")])
    return html.Table([html.Thead(header), html.Tbody(rows)], className="tasks")


# What an alert is about, as its task tags it: a device's alerts name the device (and the sensor), the stack's
# own name a task (and its node). Together with the alert's kind they are its identity: Kapacitor's alert ids
# (tick_scripts/*.tick ``.id(...)``) are made of the same tags.
ALERT_KEY = ("alert", "device_id", "sensor", "task", "node")


def _alert_rows(results: list) -> list[dict]:
    """The events of the query's one series, as dicts by column name, in the query's order (newest first)."""
    rows = []
    for result in results:
        for series in result.series:
            columns = series["columns"]
            rows += [dict(zip(columns, row)) for row in series["values"]]
    return rows


def _subject(row: dict):
    """What the alert is about: a device linked to its page (and the sensor), or a task (and its node)."""
    device = row.get("device_id")
    if device:
        sensor = f" {row['sensor']}" if row.get("sensor") else ""
        return [dcc.Link(device, href=device_href(device)), sensor]
    task = row.get("task") or ""
    return f"task {task}" + (f" ({row['node']})" if row.get("node") and row.get("alert") != "task_stopped" else "")


def _level_cell(level: str | None) -> html.Td:
    return html.Td(level or "", className=f"level-{(level or '').lower()}")


def open_alerts(rows: list[dict]) -> list[dict]:
    """The alerts whose latest event in ``rows`` (newest first) is not OK, longest open first.

    >>> rows = [{"time": 3, "alert": "silence", "device_id": "a", "level": "OK"},
    ...         {"time": 2, "alert": "anomaly", "device_id": "a", "sensor": "t", "level": "CRITICAL"},
    ...         {"time": 1, "alert": "silence", "device_id": "a", "level": "CRITICAL"}]
    >>> [(r["alert"], r["time"]) for r in open_alerts(rows)]
    [('anomaly', 2)]
    """
    latest = {}
    for row in rows:
        latest.setdefault(tuple(row.get(key) or "" for key in ALERT_KEY), row)
    return sorted((row for row in latest.values() if row.get("level") != "OK"), key=lambda r: r["time"])


def open_alerts_table(results: list, when: Range):
    """The open alerts: since when, for how long at the range's end, what about, and the message."""
    rows = _alert_rows(results)
    opened = open_alerts(rows)
    if not opened:
        return html.P("No alert is open: every alert's latest event up to the range's end is OK.", className="hint")
    header = html.Tr([html.Th(c) for c in ("level", "since", "open for", "alert", "about", "message")])
    body = [html.Tr([_level_cell(r.get("level")), html.Td(format_instant(r["time"])),
                     html.Td(span(when.end - r["time"])), html.Td(r.get("alert") or ""), html.Td(_subject(r)),
                     html.Td(r.get("message") or "")])
            for r in opened]
    return html.Table([html.Thead(header), html.Tbody(body)], className="alerts open")


def alert_events_table(results: list) -> html.Table:
    """Alert events as the query returns them (newest first): an OK's duration is how long the alert lasted."""
    rows = _alert_rows(results)
    header = html.Tr([html.Th(c) for c in ("time", "level", "alert", "about", "message", "lasted")])
    body = [html.Tr([html.Td(format_instant(r["time"])), _level_cell(r.get("level")), html.Td(r.get("alert") or ""),
                     html.Td(_subject(r)), html.Td(r.get("message") or ""),
                     html.Td(span(r.get("duration")) if r.get("level") == "OK" else "")])
            for r in rows]
    return html.Table([html.Thead(header), html.Tbody(body)], className="alerts")


def events_table(results: list) -> html.Table:
    """Points as the query returns them (newest first), a column per field it selects, the time first."""
    (result,) = results
    columns = next((series["columns"] for series in result.series), ["time"])
    header = html.Tr([html.Th(c) for c in columns])
    body = [html.Tr([html.Td(format_instant(v) if c == "time" else "" if v is None else str(v))
                     for c, v in zip(series["columns"], row)])
            for series in result.series for row in series["values"]]
    return html.Table([html.Thead(header), html.Tbody(body)], className="events")


def panel_body(panel: Panel, results: list, when: Range, task_names: list[str], stale_seconds: int):
    """What the panel shows for ``results``; None when they hold no point (the caller says so in words)."""
    if panel.kind == TASKS:
        # The task list is known without statistics: the table says what Kapacitor has not reported.
        return task_table(results, task_names, when, stale_seconds)
    if not any(r.points for r in results):
        return None
    if panel.kind == LINES or panel.kind == BARS:
        return dcc.Graph(figure=time_figure(panel, results, when), config={"displaylogo": False})
    if panel.kind == CATEGORY_BARS:
        return dcc.Graph(figure=category_figure(panel, results), config={"displaylogo": False})
    if panel.kind == TABLE:
        return device_table(results)
    if panel.kind == NUMBER:
        return number(results, panel.help)
    if panel.kind == ALERT_EVENTS:
        return alert_events_table(results)
    if panel.kind == EVENTS:
        return events_table(results)
    if panel.kind == OPEN_ALERTS:
        return open_alerts_table(results, when)
    raise ValueError(f"panel {panel.name}: no drawing for kind {panel.kind!r}")
