"""The pages' components: the header every page shares (navigation, range, refresh) and each page's panels.

Components only; what fills them is callbacks.py's. Ids a callback or a
test looks for are named here once.
"""

from __future__ import annotations

import urllib.parse

from dash import dcc, html

from .panels import ALERTS_PAGE, DEVICE, FLEET, PAGE_TITLES, TASKS_PAGE, Panel, page_panels
from .schema import PREPROCESSED_STATS
from .settings import Settings
from .timerange import RELATIVE

# Ids of the device page's parts that callbacks of every page address (a wildcard matches none elsewhere).
DEVICE_MESSAGE = {"type": "device-message", "device": "page"}
DEVICE_PANELS = {"type": "device-panels", "device": "page"}

ROUTES = {"/": FLEET, "/device": DEVICE, "/alerts": ALERTS_PAGE, "/tasks": TASKS_PAGE}
REFRESH_CHOICES = (0, 5, 10, 30, 60)

# The device picker lists this many matching ids, and counts the matches up to this many (past it, "over ...").
PICKER_SHOWN = 20
PICKER_COUNTED = 1000


def panel_id(panel: Panel, part: str) -> dict:
    """The id of a part of a panel: ``panel`` (its box), ``body``, ``note`` (what it says: points, empty, error)."""
    return {"type": f"panel-{part}", "panel": panel.name}


def choice_id(panel: Panel, name: str) -> dict:
    return {"type": "panel-choice", "panel": panel.name, "choice": name}


def shell(settings: Settings) -> html.Div:
    """What every page has: the navigation, the range and refresh controls, the status line, the page."""
    ranges = [{"label": f"last {r}", "value": r} for r in RELATIVE] + [{"label": "from ... to ...", "value": "custom"}]
    refresh = [{"label": "off" if s == 0 else f"every {s} s", "value": s} for s in REFRESH_CHOICES]
    if settings.refresh not in REFRESH_CHOICES:
        refresh.append({"label": f"every {settings.refresh} s", "value": settings.refresh})
    return html.Div([
        dcc.Location(id="url", refresh=False),
        dcc.Store(id="range"),
        dcc.Store(id="range-typed"),
        dcc.Store(id="device"),
        dcc.Interval(id="tick", interval=max(settings.refresh, 1) * 1000, disabled=settings.refresh == 0),
        html.Header([
            html.Span("tickml", className="brand"),
            html.Nav([dcc.Link(PAGE_TITLES[page], href=path, id=f"nav-{page}") for path, page in ROUTES.items()]),
            html.Div([
                html.Label("Range", htmlFor="range-choice"),
                dcc.Dropdown(id="range-choice", options=ranges, value=settings.default_range, clearable=False,
                             searchable=False, className="range-choice"),
                # Not debounced (Dash 4.4's debounce puts the caret back, so keys typed fast land out of order):
                # the range takes what they hold on Enter or on leaving the box (``range-typed``).
                dcc.Input(id="range-start", type="text", placeholder="from 2026-11-26T10:00:00Z",
                          className="instant"),
                dcc.Input(id="range-end", type="text", placeholder="to 2026-11-26T11:00:00Z",
                          className="instant"),
                html.Label("Refresh", htmlFor="refresh"),
                dcc.Dropdown(id="refresh", options=refresh, value=settings.refresh, clearable=False,
                             searchable=False, className="refresh"),
            ], className="controls"),
        ]),
        html.Div(id="status", className="status", role="status"),
        html.Main(id="page"),
    ])


def _panel(panel: Panel, choices: list | None = None) -> html.Section:
    return html.Section([
        html.H2(panel.title),
        *(choices or []),
        html.Div(id=panel_id(panel, "body"), className="body"),
        html.Div("loading", id=panel_id(panel, "note"), className="note", title=panel.help),
    ], id=panel_id(panel, "panel"), className="panel wide" if panel.wide else "panel")


def fleet_page() -> list:
    return [html.H1(PAGE_TITLES[FLEET]), html.Div([_panel(p) for p in page_panels(FLEET)], className="grid")]


def alerts_page() -> list:
    return [html.H1(PAGE_TITLES[ALERTS_PAGE]),
            html.Div([_panel(p) for p in page_panels(ALERTS_PAGE)], className="grid")]


def panel_choices(panel: Panel) -> tuple[str, ...]:
    """The page's choices a device panel's queries take, in the order of its controls: the sensor, and the
    window statistics.

    >>> from .panels import BY_NAME
    >>> panel_choices(BY_NAME["preprocessed"]), panel_choices(BY_NAME["anomaly"]), panel_choices(BY_NAME["readings"])
    (('sensor', 'stats'), ('sensor',), ())
    """
    text = " ".join(q.text for q in panel.queries)
    return tuple(name for name in ("sensor", "stats") if f"${name}" in text)


def tasks_page() -> list:
    return [html.H1(PAGE_TITLES[TASKS_PAGE]), html.Div([_panel(p) for p in page_panels(TASKS_PAGE)], className="grid")]


def device_picker() -> html.Div:
    """A box to type part of a device id in, and under it the matching ids, each a link to its page.

    The box is no callback's output (only the list under it is), so a list arriving while one types never
    resets what was typed (dcc.Dropdown's server-side search lost keys so). It sends every key: Dash drops the
    answer to an older value once a newer one is asked. Not debounced: dcc.Input's debounce (Dash 4.4) puts
    the caret back where it was at an earlier key, so keys typed fast land out of order.
    """
    return html.Div([
        html.Label("Find a device", htmlFor="device-search"),
        dcc.Input(id="device-search", type="search", placeholder="type part of its id", className="device-search"),
        html.Div(id="device-matches", className="device-matches"),
    ], className="device-picker")


def device_page(device: str | None) -> list:
    """The device page for ``device`` (None: only the picker); whether it exists is checked at each refresh."""
    head = [html.H1([PAGE_TITLES[DEVICE], html.Span(f" {device}" if device else "", className="device-id")]),
            device_picker()]
    if device is None:
        return head + [html.P("Pick a device: type part of its id in the box above.", className="hint")]
    panels = []
    for panel in page_panels(DEVICE):
        choices = None
        wanted = panel_choices(panel)
        if wanted:
            controls = [dcc.Dropdown(id=choice_id(panel, "sensor"), placeholder="sensor", clearable=False,
                                     className="choice")]
            if "stats" in wanted:
                controls.append(dcc.Checklist(id=choice_id(panel, "stats"), options=list(PREPROCESSED_STATS),
                                              value=["Avg", "Median"], inline=True, className="choice"))
            choices = [html.Div(controls, className="choices")]
        panels.append(_panel(panel, choices))
    return head + [html.Div(id=DEVICE_MESSAGE, className="message"), html.Div(panels, id=DEVICE_PANELS, className="grid")]


def route(pathname: str | None) -> tuple[str | None, str | None]:
    """(page, device) of a path; page None for a path the dashboard does not have.

    >>> route("/"), route("/device/boiler%207"), route("/device"), route("/alerts"), route("/nope")
    (('fleet', None), ('device', 'boiler 7'), ('device', None), ('alerts', None), (None, None))
    """
    path = (pathname or "/").rstrip("/") or "/"
    if path.startswith("/device/"):
        return DEVICE, urllib.parse.unquote(path[len("/device/"):]) or None
    return ROUTES.get(path), None
