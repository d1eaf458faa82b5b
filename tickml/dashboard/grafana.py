"""dashboards/grafana/tickml.json, generated from the panels the app draws (panels.py).

    python -m tickml.dashboard.grafana           # write it
    python -m tickml.dashboard.grafana --check   # exit 1 when the committed file is not what the panels give

Grafana's InfluxDB data source speaks the same InfluxQL as the app: the
queries go in unchanged, the page's choices become template variables
(``device``, ``sensor``, ``stats``) and the app's bounds constants (``top``,
``threshold``, ``slimit``, ``limit``) from dashboards/dashboard.toml, with
``udfs`` from kapacitor.conf. Each
database is a data source of its own (dashboards/grafana/provisioning/).
tests/unit/test_dashboards.py regenerates the file and compares.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

from tickml.paths import ROOT

from . import settings as settings_module
from .panels import (ALERT_EVENTS, BAND, BARS, CATEGORY_BARS, EVENTS, LINES, MARKERS, NUMBER, OPEN_ALERTS, PAGE_TITLES,
                     PANELS, SECOND_AXIS, SHADE, TABLE, TASKS, Panel, Query)
from .schema import PREPROCESSED_STATS
from .settings import Settings
from .source import udf_names

DASHBOARD = ROOT / "dashboards" / "grafana" / "tickml.json"
#: The data source of each database key (uids of dashboards/grafana/provisioning/datasources/influxdb.yml).
DATASOURCES = {"telemetry": "tickml-influxdb", "telegraf": "tickml-telegraf", "kapacitor": "tickml-kapacitor"}
_TYPES = {LINES: "timeseries", BARS: "timeseries", TASKS: "timeseries", CATEGORY_BARS: "barchart", TABLE: "table",
          NUMBER: "stat", ALERT_EVENTS: "table", OPEN_ALERTS: "table", EVENTS: "table"}
_TABLE_FORMAT = (CATEGORY_BARS, TABLE, ALERT_EVENTS, OPEN_ALERTS, EVENTS)


def alias(query: Query) -> str:
    """The legend as Grafana's alias: tags as ``$tag_<key>``, the column as ``$col``.

    >>> alias(Query("", legend="{task} {node}"))
    '$tag_task $tag_node $col'
    >>> alias(Query("", legend="{model}: {_column}"))
    '$tag_model: $col'
    """
    if not query.legend:
        return ""
    text = query.legend.replace("{_column}", "$col")
    text = re.sub(r"\{(\w+)\}", r"$tag_\1", text)
    # The app names a series of several columns with the column too; Grafana's alias says so with $col.
    return text if "$col" in text else f"{text} $col"


def _datasource(panel: Panel) -> dict:
    return {"type": "influxdb", "uid": DATASOURCES[panel.database]}


def _panel(panel: Panel, ident: int, x: int, y: int) -> dict:
    out = {
        "id": ident,
        "type": _TYPES[panel.kind],
        "title": panel.title,
        "description": panel.help,
        "datasource": _datasource(panel),
        "gridPos": {"h": 8, "w": 24 if panel.wide else 12, "x": x, "y": y},
        "targets": [{"refId": chr(ord("A") + i), "datasource": _datasource(panel), "rawQuery": True,
                     "resultFormat": "table" if panel.kind in _TABLE_FORMAT else "time_series",
                     "alias": alias(q), "query": q.text} for i, q in enumerate(panel.queries)],
    }
    if panel.min_interval > 1:
        out["interval"] = f"{panel.min_interval}s"
    custom = {}
    if panel.kind == BARS:
        custom = {"drawStyle": "bars", "fillOpacity": 80, "stacking": {"mode": "normal"}}
    elif any(q.role in (MARKERS, SHADE) for q in panel.queries):
        custom = {"drawStyle": "points", "pointSize": 8}
    defaults = {"custom": custom} if custom else {}
    if panel.unit:
        defaults["unit"] = {"%": "percent", "W": "watt", "µs": "µs", "µs per point": "µs"}.get(panel.unit, panel.unit)
    out["fieldConfig"] = {"defaults": defaults, "overrides": []}
    second = [chr(ord("A") + i) for i, q in enumerate(panel.queries) if q.role == SECOND_AXIS]
    if second:
        out["fieldConfig"]["overrides"] = [{"matcher": {"id": "byFrameRefID", "options": ref},
                                            "properties": [{"id": "custom.axisPlacement", "value": "right"}]}
                                           for ref in second]
    if any(q.role == BAND for q in panel.queries):
        out["description"] += " (the 10 s aggregates as min, avg and max lines)"
    if panel.kind == OPEN_ALERTS:
        out["description"] += " (Grafana lists each alert's latest event that is not OK)"
    return out


def _variables(settings: Settings) -> list[dict]:
    def constant(name: str, value) -> dict:
        return {"type": "constant", "name": name, "hide": 2, "query": str(value)}

    telemetry = {"type": "influxdb", "uid": DATASOURCES["telemetry"]}
    return [
        {"type": "query", "name": "device", "label": "device", "datasource": telemetry,
         "query": 'SHOW TAG VALUES FROM "device_message" WITH KEY = "device_id"', "refresh": 2},
        {"type": "query", "name": "sensor", "label": "sensor", "datasource": telemetry,
         "query": "SHOW TAG VALUES FROM \"device_message\" WITH KEY = \"sensor\" WHERE \"device_id\" = '$device'",
         "refresh": 2},
        {"type": "custom", "name": "stats", "label": "statistics", "multi": True,
         "query": ",".join(PREPROCESSED_STATS),
         "current": {"text": ["Avg", "Median"], "value": ["Avg", "Median"]}},
        {"type": "query", "name": "tasks", "label": "tasks", "datasource": {"type": "influxdb",
                                                                            "uid": DATASOURCES["kapacitor"]},
         "query": 'SHOW TAG VALUES FROM "edges" WITH KEY = "task"', "refresh": 2, "multi": True, "includeAll": True,
         "current": {"text": ["All"], "value": ["$__all"]}},
        constant("top", settings.top), constant("threshold", settings.anomaly_threshold),
        constant("slimit", settings.max_series), constant("limit", settings.max_events),
        constant("udfs", udf_names()),
    ]


def dashboard(settings: Settings) -> dict:
    """The Grafana dashboard of ``PANELS``: a row per page, two half-width panels side by side."""
    panels, y, ident = [], 0, 1
    for page, title in PAGE_TITLES.items():
        panels.append({"id": ident, "type": "row", "title": title, "collapsed": False,
                       "gridPos": {"h": 1, "w": 24, "x": 0, "y": y}, "panels": []})
        ident, y, x = ident + 1, y + 1, 0
        for panel in (p for p in PANELS if p.page == page):
            if panel.wide and x:
                x, y = 0, y + 8
            panels.append(_panel(panel, ident, x, y))
            ident += 1
            if panel.wide or x:
                x, y = 0, y + 8
            else:
                x = 12
        if x:
            y += 8
    return {
        "uid": "tickml-fleet",
        "title": "tickml: the fleet, each device, the tasks and UDFs",
        "description": "Generated by python -m tickml.dashboard.grafana from tickml/dashboard/panels.py, the panels "
                       "of the dashboard app (tickml dashboard); do not edit by hand.",
        "schemaVersion": 39,
        "time": {"from": f"now-{settings.default_range}", "to": "now"},
        "refresh": f"{settings.refresh}s" if settings.refresh else "",
        "tags": ["tickml"],
        "templating": {"list": _variables(settings)},
        "panels": panels,
    }


def render(settings: Settings | None = None) -> str:
    return json.dumps(dashboard(settings or settings_module.load()), indent=1, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="compare with the committed file instead of writing it")
    parser.add_argument("--output", type=Path, default=DASHBOARD)
    args = parser.parse_args(argv)
    text = render()
    if args.check:
        if args.output.read_text() != text:
            print(f"{args.output} is not what tickml/dashboard/panels.py gives: run python -m tickml.dashboard.grafana",
                  file=sys.stderr)
            return 1
        return 0
    args.output.write_text(text)
    print(f"wrote {args.output} ({len(PANELS)} panels)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
