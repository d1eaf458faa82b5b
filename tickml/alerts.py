"""The alerts Kapacitor holds open, from its alert topics (``tickml alerts list``).

    tickml alerts list                          # every open alert of every topic, worst first
    tickml alerts list --topic device-alerts    # one topic's (the option repeats)
    tickml alerts list --level critical         # at least CRITICAL
    tickml alerts list --level ok               # every alert Kapacitor holds, ended ones too
    tickml alerts list --json                   # a JSON array, for scripts

Kapacitor keeps each topic's alerts with the last state of each (its topic API,
/kapacitor/v1/alerts/topics and /alerts/topics/<topic>/events, what
``kapacitor show-topic`` reads): an alert is open while its level is above OK.
The shipped alert tasks publish to ``device-alerts`` (device_silence,
failure_alert, device_anomaly) and ``stack-health`` (task_health). Every event
is also in InfluxDB (measurement ``alerts``), which the dashboard's Alerts page
reads for the history.
"""

from __future__ import annotations

import argparse
import datetime
import json
import sys
import time

from devices.replay import parse_time
from tickml.dashboard.timerange import span
from tickml.http import HttpError
from tickml.kapacitor import Kapacitor
from udfs.agent.durations import parse_duration

# Kapacitor's alert levels, lowest first.
LEVELS = ("OK", "INFO", "WARNING", "CRITICAL")


def parse_level(text: str) -> str:
    """A level as Kapacitor spells it, from any case; an unknown one is an error naming the levels.

    >>> parse_level("critical"), parse_level("Ok")
    ('CRITICAL', 'OK')
    """
    level = text.strip().upper()
    if level not in LEVELS:
        raise argparse.ArgumentTypeError(f"{text!r} is no alert level; the levels are "
                                         f"{', '.join(l.lower() for l in LEVELS)}")
    return level


def since(state: dict) -> str:
    """When the alert's level began, RFC 3339 to the second: an alert's last event less the time it had been
    raised by then (Kapacitor's ``duration``, 0 at the change of level); an OK event's own time.

    >>> since({"level": "CRITICAL", "time": "2026-01-01T00:10:00.5Z", "duration": "2m30s"})
    '2026-01-01T00:07:30Z'
    >>> since({"level": "OK", "time": "2026-01-01T00:10:00Z", "duration": "2m30s"})
    '2026-01-01T00:10:00Z'
    >>> since({"level": "CRITICAL", "time": "soon", "duration": "0s"})
    'soon'
    """
    at = parse_time(state.get("time", ""))
    if at is None:
        return state.get("time", "")
    if state.get("level") != "OK":
        try:
            at -= parse_duration(state.get("duration") or "0s")
        except ValueError:
            pass  # a duration Kapacitor did not write: the event's time stands
    return _rfc3339(at)


def _rfc3339(ns: int) -> str:
    return datetime.datetime.fromtimestamp(ns // 10**9, tz=datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def collect(kapacitor: Kapacitor, topics: list[str] | None, min_level: str) -> list[dict]:
    """The alerts at ``min_level`` or above of ``topics`` (default: every topic), worst first, then newest:
    one dict each, with the topic, Kapacitor's id, level, message, time and duration of its last event (RFC
    3339, a Go duration) and ``since``, when its level began."""
    if topics:
        # Kapacitor answers an unknown topic's events with a 500: name the ones it has instead.
        known = sorted(t["id"] for t in kapacitor.topics())
        unknown = [t for t in topics if t not in known]
        if unknown:
            raise LookupError(f"Kapacitor has no alert topic {', '.join(map(repr, unknown))}; its topics: "
                              f"{', '.join(known) or 'none'}")
    else:
        topics = [t["id"] for t in kapacitor.topics(min_level)]
    alerts = []
    for topic in topics:
        for event in kapacitor.topic_events(topic, min_level):
            state = event.get("state", {})
            alerts.append({"topic": topic, "id": event["id"], "level": state.get("level", ""),
                           "message": state.get("message", ""), "since": since(state),
                           "time": state.get("time", ""), "duration": state.get("duration", "")})
    return order(alerts)


def order(alerts: list[dict]) -> list[dict]:
    """Worst level first, then the newest, then by topic and id.

    >>> [a["id"] for a in order([{"level": "WARNING", "since": "2026-01-02T00:00:00Z", "topic": "t", "id": "w"},
    ...                          {"level": "CRITICAL", "since": "2026-01-01T00:00:00Z", "topic": "t", "id": "old"},
    ...                          {"level": "CRITICAL", "since": "2026-01-03T00:00:00Z", "topic": "t", "id": "new"}])]
    ['new', 'old', 'w']
    """
    rank = {level: n for n, level in enumerate(LEVELS)}
    by_name = sorted(alerts, key=lambda a: (a["topic"], a["id"]))
    newest = sorted(by_name, key=lambda a: a["since"], reverse=True)  # RFC 3339 in UTC, to the second, sorts as text
    return sorted(newest, key=lambda a: -rank.get(a["level"], -1))


def table(alerts: list[dict], min_level: str, now_ns: int | None = None) -> str:
    """The alerts as aligned columns under a header, each with how long it has been at its level by
    ``now_ns``; a sentence when there are none."""
    if not alerts:
        what = {"OK": "alert", "INFO": "open alert"}.get(min_level, f"alert at {min_level} or above")
        return f"no {what}"
    now_ns = time.time_ns() if now_ns is None else now_ns

    def lasted(alert: dict) -> str:
        began = parse_time(alert["since"])
        return "" if began is None else span(now_ns - began)

    columns = ("level", "since", "for", "topic", "id", "message")
    rows = [(a["level"], a["since"], lasted(a), a["topic"], a["id"], a["message"]) for a in alerts]
    # The message, last, keeps its length; the other columns line up.
    widths = [max(len(c), *(len(str(r[i])) for r in rows)) for i, c in enumerate(columns[:-1])]
    lines = []
    for row in [tuple(c.upper() for c in columns), *rows]:
        lines.append("  ".join(str(v).ljust(w) for v, w in zip(row, widths)) + "  " + str(row[-1]))
    return "\n".join(line.rstrip() for line in lines)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", choices=["list"], help="list: the alerts Kapacitor's topics hold open")
    parser.add_argument("--topic", action="append", metavar="TOPIC",
                        help="only this topic's alerts (repeat for several; default: every topic)")
    parser.add_argument("--level", type=parse_level, default="INFO", metavar="LEVEL",
                        help="only alerts at this level or above: critical, warning, info (the default: every "
                             "open alert) or ok (ended ones too)")
    parser.add_argument("--json", action="store_true",
                        help="a JSON array, one object per alert: topic, id, level, message, since (when its "
                             "level began), and time and duration of its last event as Kapacitor gives them")
    parser.add_argument("--kapacitor", default=None, help="Kapacitor URL (default: from kapacitor/kapacitor.conf)")


def run(args: argparse.Namespace) -> int:
    try:
        alerts = collect(Kapacitor(args.kapacitor), args.topic, args.level)
    except (HttpError, RuntimeError, OSError, LookupError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(alerts, indent=1) if args.json else table(alerts, args.level))
    return 0
