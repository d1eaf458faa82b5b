"""The agent's counters in Prometheus format, summed over every UDF process of the machine.

A UDF runs in many processes: one socket server per socket UDF, and a
process per task node for every process UDF that Kapacitor starts. So the
counters use prometheus_client's multiprocess mode: each process writes its
own to a memory-mapped file in the folder ``PROMETHEUS_MULTIPROC_DIR`` names,
and one exporter (``tickml udfs serve-metrics``) sums the files and serves
them for Telegraf to scrape. The variable must be set before
prometheus_client is imported, so the stack sets it in the environment of
the UDF servers and of Kapacitor (whose process UDFs inherit it); without it
the counters stay in the process and no one reads them.

Every counter is labelled with the UDF (its handler's name), the task and
the task's node (from Kapacitor's init request; empty before it):

| counter | counts |
|---|---|
| ``tickml_udf_points_in_total`` | points received, inside batches or not |
| ``tickml_udf_points_out_total`` | points sent back to Kapacitor |
| ``tickml_udf_batches_in_total`` | batches received |
| ``tickml_udf_bad_points_total`` | points skipped, by ``reason`` |
| ``tickml_udf_errors_total`` | by ``kind``: ``handler_error`` (the handler raised), ``bad_request``, ``unknown_request`` |
| ``tickml_udf_handler_seconds_total`` | time the worker spent on requests: the handler, and the agent decoding around it |
| ``tickml_udf_keepalives_total`` | keepalives answered |
| ``tickml_udf_keepalives_withheld_total`` | keepalives left unanswered because the handler hung |
| ``tickml_udf_connections_total`` | connections accepted from Kapacitor |

The worker publishes what its connection counted when it writes its output
(once per chunk of input, never per point), so counting costs the per-point
path nothing. Handler time per point is ``handler_seconds / points_in``.
"""

from __future__ import annotations

import os
import re
from collections import Counter as _Tally

# prometheus_client chooses between in-process and file-backed values at import.
if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    os.makedirs(os.environ["PROMETHEUS_MULTIPROC_DIR"], exist_ok=True)

from prometheus_client import Counter  # noqa: E402

__all__ = ["ConnectionMetrics", "reason_label"]

_LABELS = ("udf", "task", "node")

POINTS_IN = Counter("tickml_udf_points_in", "Points received from Kapacitor, inside batches or not.", _LABELS)
POINTS_OUT = Counter("tickml_udf_points_out", "Points sent back to Kapacitor.", _LABELS)
BATCHES_IN = Counter("tickml_udf_batches_in", "Batches received from Kapacitor.", _LABELS)
BAD_POINTS = Counter("tickml_udf_bad_points", "Points skipped as bad, by reason.", (*_LABELS, "reason"))
ERRORS = Counter("tickml_udf_errors", "Errors by kind: handler_error, bad_request, unknown_request.",
                 (*_LABELS, "kind"))
HANDLER_SECONDS = Counter("tickml_udf_handler_seconds",
                          "Seconds the worker spent on requests (the handler and the decoding around it).", _LABELS)
KEEPALIVES = Counter("tickml_udf_keepalives", "Keepalives answered.", _LABELS)
KEEPALIVES_WITHHELD = Counter("tickml_udf_keepalives_withheld",
                              "Keepalives left unanswered because the handler made no progress.", _LABELS)
CONNECTIONS = Counter("tickml_udf_connections", "Connections accepted from Kapacitor.", ("udf",))

# The connection's Counter keys of each error kind.
_ERROR_KINDS = {"handler_errors": "handler_error", "bad_requests": "bad_request",
                "unknown_requests": "unknown_request"}
_BAD_POINT = "bad point: "
_REASON_END = re.compile(r": | \(")


def reason_label(text: str) -> str:
    """A bad point's reason as a label: its words up to the offending value, so the label set stays small.

    >>> reason_label("field 'power' is a string, not a number: 'high'")
    "field 'power' is a string, not a number"
    >>> reason_label("missing field 'power' (fields: current, voltage)")
    "missing field 'power'"
    """
    return _REASON_END.split(text, 1)[0][:80]


class ConnectionMetrics:
    """What one connection counted, published to the process's counters in steps.

    The connection keeps its own tallies (cheap, per point); ``publish`` adds
    what grew since the last call to the labelled counters. Before init no
    counter exists until it counts something.
    """

    def __init__(self, udf: str):
        self.udf = udf
        self._published: _Tally[str] = _Tally()
        CONNECTIONS.labels(udf).inc()
        self.task("", "")

    def task(self, task: str, node: str) -> None:
        """Label what follows with the task and node Kapacitor's init named.

        Once a task is named, the counters a healthy node keeps at zero exist at zero, so that "no
        errors" is a zero on the dashboard rather than no series at all.
        """
        self._labels = (self.udf, task, node)
        self._children: dict = {}
        if task:
            for counter in (POINTS_IN, POINTS_OUT, HANDLER_SECONDS, KEEPALIVES, KEEPALIVES_WITHHELD):
                self._child(counter)
            self._child(ERRORS, "handler_error")

    def _child(self, counter: Counter, *extra: str):
        key = (counter, extra)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = counter.labels(*self._labels, *extra)
        return child

    def keepalive(self, answered: bool) -> None:
        self._child(KEEPALIVES if answered else KEEPALIVES_WITHHELD).inc()

    def publish(self, points_in: int, points_out: int, handler_seconds: float, stats: _Tally[str]) -> None:
        """Add what grew since the last call: the running totals of the connection."""
        seen = self._published
        totals = [("points_in", points_in, POINTS_IN, ()), ("points_out", points_out, POINTS_OUT, ()),
                  ("handler_seconds", handler_seconds, HANDLER_SECONDS, ())]
        for key, total in stats.items():
            if key == "batches_in":
                totals.append((key, total, BATCHES_IN, ()))
            elif key.startswith(_BAD_POINT):
                totals.append((key, total, BAD_POINTS, (reason_label(key[len(_BAD_POINT):]),)))
            elif key in _ERROR_KINDS:
                totals.append((key, total, ERRORS, (_ERROR_KINDS[key],)))
        for key, total, counter, extra in totals:
            if total > seen[key]:
                self._child(counter, *extra).inc(total - seen[key])
                seen[key] = total
