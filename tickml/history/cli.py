"""``tickml history``: tasks over what InfluxDB holds, and recorded sessions published.

    tickml history backfill power_train --since 30d           # train every entity from history
    tickml history backfill power_predict --since 30d         # predictions for history
    tickml history repair power_preprocess --from 2026-11-20T10:00:00Z --to 2026-11-20T10:30:00Z
    tickml history session publish campaign-7 campaign.jsonl --speed 10
    tickml history session status campaign-7
"""

from __future__ import annotations

import argparse
import logging
import sys


def add_arguments(parser: argparse.ArgumentParser) -> None:
    subs = parser.add_subparsers(title="commands", required=True)
    for name, help in (("backfill", "run a stream task's TICKscript and UDFs over history with Kapacitor's replay: "
                                    "a train task trains every entity's models, a predict task fills predictions"),
                       ("repair", "recompute a task's windows over a time range from InfluxDB (a gap when it was "
                                  "down): points already written are written again in place, never twice")):
        p = subs.add_parser(name, help=help, description=help + ". Stop with Ctrl-C; the same command goes on "
                            "where it stopped.")
        p.set_defaults(run=run_backfill, command=name)
        p.add_argument("task", help="a stream task Kapacitor holds (or of the task list)")
        if name == "backfill":
            p.add_argument("--since", help="how far back from --to: 90s, 15m, 6h, 30d, 2w")
        else:
            p.set_defaults(since=None)
        p.add_argument("--from", dest="start", required=name == "repair", help="start: RFC 3339, epoch seconds, now-2h")
        p.add_argument("--to", dest="end", required=name == "repair",
                       help="end (default: when the live task was last enabled, or now when it is not)")
        p.add_argument("--where", default="", help="an InfluxQL condition on tags restricting the entities, e.g. "
                       "\"device_id =~ /^pm-/\"")
        p.add_argument("--chunk", default=None, help="chunk length (default: chosen so a chunk holds about "
                       "--chunk-points points)")
        p.add_argument("--chunk-points", type=int, default=None, help="points per chunk aimed at (100000)")
        p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    from tickml.history import sessions

    sessions.add_arguments(subs)


def run_backfill(args: argparse.Namespace) -> int:
    from tickml.history import timerange
    from tickml.history.backfill import DEFAULT_TARGET_POINTS, Backfill, BackfillError
    from tickml.influx import Influx
    from tickml.kapacitor import Kapacitor
    from tickml.tickscript import ScriptError

    logging.basicConfig(stream=sys.stderr, level=logging.INFO, format="%(levelname)s: %(message)s")
    kapacitor = Kapacitor()
    try:
        held = kapacitor.task(args.task) or {}
        live_since = _enabled_at(held) if held.get("status") == "enabled" else None
        start, end = timerange.resolve(args.since, args.start, args.end, default_end_ns=live_since)
        chunk = timerange.span_ns(args.chunk) if args.chunk else None
        backfill = Backfill(kapacitor, Influx(), args.task, start, end, where=args.where, chunk_ns=chunk,
                            target_points=args.chunk_points or DEFAULT_TARGET_POINTS, progress=not args.quiet)
        summary = backfill.run()
    except (ValueError, BackfillError, ScriptError, RuntimeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    for line in summary.lines():
        print(line)
    return 0 if not summary.chunks_left else 130


def _enabled_at(task: dict) -> int | None:
    """When Kapacitor last enabled the task, in ns: history ends where the live task took over."""
    from tickml.history.timerange import instant_ns

    stamp = task.get("last-enabled")
    if not stamp or stamp.startswith("0001-"):
        return None
    return instant_ns(stamp)
