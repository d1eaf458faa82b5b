"""What fills the pages: the range, each panel, the device picker and the status line.

Each panel is one callback call (a pattern-matching callback): the browser
asks for the panels of a page at once, and the server's threads run their
queries side by side. A panel whose queries fail keeps what it showed and
says why under it; the status line says it for the page; both clear
themselves at the next refresh that works. Every message a person may see
is a sentence, never a stack trace.
"""

from __future__ import annotations

import logging
import time
import urllib.parse

import dash
from dash import ALL, MATCH, Input, Output, State, html, no_update

from . import figures, layout
from .influxql import QueryError
from .panels import ALERTS_PAGE, BY_NAME, DEVICE, FLEET, TASKS_PAGE
from .source import Source, Unavailable
from .timerange import Range, resolve

log = logging.getLogger(__name__)


def register(app: dash.Dash, source: Source, task_names: list[str]) -> None:
    settings = source.settings

    @app.callback(Output("page", "children"), Output("device", "data"), Input("url", "pathname"))
    def render_page(pathname):
        page, device = layout.route(pathname)
        if page == FLEET:
            return layout.fleet_page(), None
        if page == TASKS_PAGE:
            return layout.tasks_page(), None
        if page == ALERTS_PAGE:
            return layout.alerts_page(), None
        if page == DEVICE:
            return layout.device_page(device), device
        return [html.H1("No such page"), html.P(
            f"There is no page at {pathname}. The pages are Fleet (/), One device (/device/<device id>), "
            f"Alerts (/alerts) and Tasks and UDFs (/tasks).", className="message")], None

    @app.callback(Output("range-choice", "value"), Output("range-start", "value"), Output("range-end", "value"),
                  Output("range-typed", "data"), Output("refresh", "value"), Input("url", "search"))
    def range_from_url(search):
        """``?range=1h`` or ``?from=...&to=...``, and ``&refresh=5``, in the address set what a page opens with."""
        query = urllib.parse.parse_qs((search or "").lstrip("?"))
        refresh = query.get("refresh", [""])[0]
        refresh = int(refresh) if refresh.isdigit() else no_update
        if "from" in query or "to" in query:
            start, end = query.get("from", [""])[0], query.get("to", [""])[0]
            return "custom", start, end, {"start": start, "end": end}, refresh
        if "range" in query:
            return query["range"][0], no_update, no_update, no_update, refresh
        return no_update, no_update, no_update, no_update, refresh

    @app.callback(Output("range-typed", "data", allow_duplicate=True),
                  Input("range-start", "n_submit"), Input("range-start", "n_blur"), Input("range-end", "n_submit"),
                  Input("range-end", "n_blur"), State("range-start", "value"), State("range-end", "value"),
                  prevent_initial_call=True)
    def range_typed(_submit_start, _blur_start, _submit_end, _blur_end, start, end):
        """The custom range's times once typed (Enter, or leaving a box): a time half typed is never queried."""
        return {"start": start, "end": end}

    @app.callback(Output("range", "data"), Output("range-start", "style"), Output("range-end", "style"),
                  Input("tick", "n_intervals"), Input("range-choice", "value"), Input("range-typed", "data"))
    def resolve_range(_tick, choice, typed):
        """The range every panel queries, resolved again at each refresh (a relative range moves with now)."""
        shown = {} if choice == "custom" else {"display": "none"}
        typed = typed or {}
        try:
            when = resolve(choice, typed.get("start"), typed.get("end"), time.time_ns())
        except ValueError as exc:
            return {"error": f"The range cannot be used: {exc}."}, shown, shown
        return {"start": when.start, "end": when.end}, shown, shown

    @app.callback(Output("tick", "interval"), Output("tick", "disabled"), Input("refresh", "value"))
    def set_refresh(seconds):
        return max(seconds or 0, 1) * 1000, not seconds

    down = []  # why InfluxDB last failed, while it does: its log says so once, not at every refresh of every page

    @app.callback(Output("status", "children"), Output("status", "className"), Input("range", "data"))
    def status(span):
        if not isinstance(span, dict) or not span:
            return no_update, no_update
        if "error" in span:
            return span["error"], "status warning"
        try:
            source.ping()
        except Unavailable as exc:
            if not down:
                log.warning("%s", exc)
            down[:] = [exc]
            return (f"{exc}. The panels keep what they last showed and come back on their own when it answers; "
                    f"last tried {time.strftime('%H:%M:%S')}."), "status down"
        if down:
            log.info("InfluxDB at %s answers again", source.url)
            down.clear()
        return "", "status"

    @app.callback(Output(layout_id("body"), "children"), Output(layout_id("note"), "children"),
                  Output(layout_id("panel"), "className"),
                  Input("range", "data"), Input({"type": "panel-choice", "panel": MATCH, "choice": ALL}, "value"),
                  State("device", "data"), State(layout_id("panel"), "id"), State(layout_id("panel"), "className"))
    def fill_panel(span, choices, device, ident, class_name):
        panel = BY_NAME[ident["panel"]]
        base = "panel wide" if panel.wide else "panel"
        when = span_range(span)
        if when is None:
            return no_update, "no range", f"{base} empty"
        variables = {}
        if panel.page == DEVICE:
            if not device:
                return no_update, "no device", f"{base} empty"
            variables["device"] = device
            chosen = dict(zip(layout.panel_choices(panel), choices))
            if "sensor" in chosen:
                if not chosen["sensor"]:
                    return None, "Pick a sensor above.", f"{base} empty"
                variables["sensor"] = chosen["sensor"]
            if "stats" in chosen:
                if not chosen["stats"]:
                    return None, "Pick one or more statistics above.", f"{base} empty"
                variables["stats"] = "|".join(chosen["stats"])
        try:
            results = source.panel(panel, when, variables, task_names)
        except Unavailable as exc:
            return no_update, f"{exc}; showing what was last fetched.", f"{base} error"
        except QueryError as exc:
            return None, f"This panel cannot be drawn: {exc}.", f"{base} error"
        body = figures.panel_body(panel, results, when, task_names, settings.task_stale_seconds)
        points = sum(r.points for r in results)
        took = sum(r.seconds for r in results)
        if body is None:
            return None, f"No data from {when.describe()}.", f"{base} empty"
        return body, f"{points:,} points fetched in {took * 1000:.0f} ms", f"{base} ready"

    sensor_choice = {"type": "panel-choice", "panel": ALL, "choice": "sensor"}

    @app.callback(Output({**layout.DEVICE_MESSAGE, "device": ALL}, "children"),
                  Output({**layout.DEVICE_PANELS, "device": ALL}, "className"),
                  Output(sensor_choice, "options"), Output(sensor_choice, "value"),
                  Input("range", "data"), State("device", "data"), State(sensor_choice, "value"))
    def check_device(span, device, sensors_chosen):
        """Whether the device of the address ever reported; its sensors for the statistics' choice.

        Its outputs exist on the device page only: elsewhere each wildcard matches nothing.
        """
        pages = len(dash.ctx.outputs_list[0])
        choices = len(sensors_chosen)
        if not isinstance(device, str) or not device or not pages:
            return [no_update] * pages, [no_update] * pages, [no_update] * choices, [no_update] * choices
        try:
            sensors = source.device_sensors(device)
        except Unavailable as exc:
            return ([f"Cannot look device {device!r} up: {exc}."], [no_update], [no_update] * choices,
                    [no_update] * choices)
        if not sensors:
            message = html.P(f"No device {device!r} has ever sent a reading (no device_message series with that "
                             f"device_id). Check the id, or search for the device in the box above.")
            return [message], ["grid hidden"], [[]] * choices, [None] * choices
        return ([""], ["grid"], [sensors] * choices,
                [chosen if chosen in sensors else sensors[0] for chosen in sensors_chosen])

    @app.callback(Output("device-matches", "children"), Input("device-search", "value"), State("url", "search"),
                  prevent_initial_call=True)
    def search_devices(text, search):
        """The devices whose id contains what was typed, from InfluxDB's tag index: a bounded list, never the
        fleet."""
        text = text.strip() if isinstance(text, str) else ""
        if not text:
            return None
        try:
            found = source.devices_like(text, limit=layout.PICKER_COUNTED + 1)
        except Unavailable as exc:
            return html.P(f"Cannot search the devices: {exc}.", className="hint")
        return figures.device_matches(text, found, layout.PICKER_SHOWN, layout.PICKER_COUNTED, search or "")


def span_range(span) -> Range | None:
    """The range of the page's store, or None: none yet, one that could not be used, or what the browser sent
    instead (the store is the browser's, so a callback may get anything).

    >>> span_range({"start": 1, "end": 2}), span_range({"start": "1; DROP", "end": 2}), span_range({"error": "x"})
    (Range(start=1, end=2), None, None)
    """
    if not isinstance(span, dict):
        return None
    start, end = span.get("start"), span.get("end")
    if type(start) is not int or type(end) is not int or end <= start:
        return None
    return Range(start, end)


def layout_id(part: str) -> dict:
    return {"type": f"panel-{part}", "panel": MATCH}
