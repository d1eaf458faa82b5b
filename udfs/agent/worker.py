"""The worker thread of a connection: run the handler on what the reader queued, and write its output.

Points cross from the reader as the bytes they came in and are decoded only
if the handler looks inside; a batch's points are kept as bytes until its
``EndBatch``, and the batches that ended in one read go to a handler's
``batches`` together. Output piles up in the handler's buffer and goes out
in large writes: when the queue is drained, when ``FLUSH_SIZE`` piled up,
when ``FLUSH_DELAY`` passed since it was first held back (a slow filter's
trickle is not held behind a backlog), and at once after an answer to init,
snapshot or restore. A bad point or a handler exception on one point or
batch is logged (rate-limited), counted and skipped; a broken stream or a
failed snapshot is answered with an ``ErrorResponse`` and ends the
connection. When the input ends, the worker drains the queue, flushes and
closes our side.

Separate from :mod:`~udfs.agent.reader` because this is the only thread
that runs handler code (so handlers need no locks), and it holds the
per-point path: nothing here may add work per point.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from google.protobuf.message import DecodeError

from . import management, udf_pb2
from .bytequeue import BEGIN, EOF, POINT
from .handler import Handler
from .management import SnapshotFailed, response_frame
from .points import BadPoint, Batch, Point
from .session import Session

__all__ = ["FLUSH_DELAY", "FLUSH_SIZE", "STATS_INTERVAL", "Worker"]

log = logging.getLogger(__name__)

#: Seconds between two log lines with a connection's counters.
STATS_INTERVAL = 300.0
#: The worker writes out before its buffer grows past this, even when more
#: input is waiting, to bound memory and latency under a steady flood.
FLUSH_SIZE = 256 * 1024
#: Longest output is held back while more input waits, in seconds.
FLUSH_DELAY = 0.1


class Worker:
    """Handles one connection's queued requests until the input ends; see the module docstring.

    Attributes
    ----------
    done : int
        Requests finished (points, batch messages, management); with
        ``busy``, how the reader tells a slow handler from a hung one.
    busy : bool
        The worker holds a chunk.
    points_in : int
        Points received, inside batches or not.
    busy_seconds : float
        Time spent on chunks of requests (the handler and the decoding around it).
    """

    def __init__(self, conn: Session):
        self.conn = conn
        self.handler = handler = conn.handler
        self.transport = conn.transport
        self.stats = conn.stats
        self.limited = conn.limited
        self.done = 0
        self.busy = False
        self.points_in = 0
        self.busy_seconds = 0.0
        self._write_lock = conn.write_lock
        self._urgent = False    # an init, snapshot or restore answer waits in the output
        self._held_since = time.monotonic()
        # Batches that ended in the chunk being handled, for a handler that takes them together.
        self._groups_batches = type(handler).batches is not Handler.batches
        self._closed: list[Batch] = []
        self._ready = False
        self._batch: Batch | None = None
        self._next_stats = time.monotonic() + STATS_INTERVAL

    def run(self) -> None:
        """Handle the queue until its end marker, then close our side of the connection."""
        get = self.conn.queue.get
        empty = self.conn.queue.empty
        out = self.handler.pending_output
        try:
            while True:
                item = get()
                if type(item) is list:
                    self.busy = True
                    started = time.perf_counter()
                    self._dispatch(item)
                    self.busy_seconds += time.perf_counter() - started
                    self.busy = False
                    if len(out) >= FLUSH_SIZE or self._urgent or empty() or \
                            (out and time.monotonic() - self._held_since >= FLUSH_DELAY):
                        self._flush()
                elif item is EOF:
                    break
                else:
                    self._fail(item.message)
                    return
            self._flush()
        except OSError as exc:
            log.warning("%s cannot write to Kapacitor: %s", self.conn.label, exc)
        except SnapshotFailed as exc:
            self._fail(exc.message)
            return
        except Exception as exc:  # a bug in the agent: say so to Kapacitor, then stop
            log.exception("%s internal error", self.conn.label)
            self._fail(f"tickml agent internal error: {type(exc).__name__}: {exc}")
            return
        finally:
            self.transport.close_write()

    def _fail(self, message: str) -> None:
        try:
            self._flush()
            self.conn.send_now(response_frame(error=udf_pb2.ErrorResponse(error=message)))
        except OSError as exc:
            log.warning("%s cannot send the error to Kapacitor: %s", self.conn.label, exc)

    def _flush(self) -> None:
        out = self.handler.pending_output
        self._urgent = False
        if out:
            with self._write_lock:
                self.transport.send_all(out)
            del out[:]
        self.conn.metrics.publish(self.points_in, self.handler.emitted, self.busy_seconds, self.stats)
        # Checked per flush, not per point: long-running tasks show their
        # counters without anyone asking.
        now = time.monotonic()
        if now >= self._next_stats:
            self._next_stats = now + STATS_INTERVAL
            if self.points_in:
                log.info("%s running: %s", self.conn.label, self.conn.summary(self.points_in))

    def _dispatch(self, chunk: list) -> None:
        handler = self.handler
        stream = handler.wants == "stream"
        out = handler.pending_output
        # Output is measured from the start of the chunk that first held it back.
        held = bool(out)
        self._held_since = self._held_since if held else time.monotonic()
        monotonic = time.monotonic
        for item in chunk:
            if type(item) is bytes and item[0] == POINT and self._batch is not None:
                # A point inside a batch: no handler runs until the batch ends, so
                # nothing to time or count as progress; kept as the bytes it came in.
                self._batch._raws.append(item)
                self.points_in += 1
                continue
            self.done += 1
            if out and monotonic() - self._held_since >= FLUSH_DELAY:
                # A long chunk of slow points: what it produced so far goes out now.
                self._flush()
                self._held_since = monotonic()
            if type(item) is bytes:
                key = item[0]
                if key == POINT:
                    self.points_in += 1
                    if not self._ready:
                        self._skip("point before a successful init")
                        continue
                    if not stream:
                        self._skip("point outside a batch (this UDF wants batches)")
                        continue
                    try:
                        handler.point(Point(None, item))
                    except BadPoint as exc:
                        self._bad_point(exc)
                    except Exception as exc:
                        self._handler_error("point", exc)
                    continue
                req = udf_pb2.Request()
                try:
                    req.ParseFromString(item)
                except DecodeError as exc:
                    self.stats["bad_requests"] += 1
                    self.limited.error("undecodable request skipped", f"{exc} ({len(item)} bytes)",
                                       prefix=self.conn.label + " ")
                    continue
                if key == BEGIN:
                    if stream:
                        self._skip("BeginBatch on a stream UDF")
                        continue
                    if self._batch is not None:
                        self._skip("BeginBatch inside an open batch; the open batch is dropped")
                    self._batch = Batch(req.begin)
                else:
                    self._end_batch(req.end)
                continue
            if self._closed:
                self._run_closed()  # answers stay behind the batches that came before the request
            kind = item.WhichOneof("message")
            if kind == "init":
                answer = management.init(self.conn, item.init)
                if answer.success:
                    self._ready = True
                self._respond(init=answer)
            elif kind == "snapshot":
                self._respond(snapshot=management.snapshot(self.conn))
            elif kind == "restore":
                self._respond(restore=management.restore(self.conn, item.restore.snapshot))
        if self._closed:
            self._run_closed()

    def _respond(self, **kwargs: Any) -> None:
        # Through the output buffer so the answer stays behind the points
        # produced before the request, which go out with it right after the chunk.
        self.handler.pending_output += response_frame(**kwargs)
        self._urgent = True

    def _end_batch(self, end: udf_pb2.EndBatch) -> None:
        batch, self._batch = self._batch, None
        if batch is None:
            if self.handler.wants == "batch":
                self._skip("EndBatch without BeginBatch")
            return
        self.stats["batches_in"] += 1
        if not self._ready:
            self._skip("batch before a successful init")
            return
        batch.tmax = end.tmax
        if self._groups_batches:
            self._closed.append(batch)
        else:
            self._run_batch(batch)

    def _run_batch(self, batch: Batch) -> None:
        try:
            self.handler.batch(batch)
        except BadPoint as exc:
            self._bad_point(exc)
        except Exception as exc:
            self._handler_error("batch", exc)

    def _run_closed(self) -> None:
        """The batches that ended in this chunk, to ``handler.batches`` together."""
        closed, self._closed = self._closed, []
        if len(closed) == 1:
            self._run_batch(closed[0])
            return
        try:
            self.handler.batches(closed)
        except Exception as exc:
            self._handler_error("batches", exc)
            for batch in closed:
                self._run_batch(batch)

    def _skip(self, reason: str) -> None:
        self.stats["bad_points"] += 1
        self.stats["bad point: " + reason] += 1
        self.limited.warning("skipped: " + reason, reason, prefix=self.conn.label + " ", title="skipped")

    def _bad_point(self, exc: BadPoint) -> None:
        self.stats["bad_points"] += 1
        text = str(exc)
        # The reason up to the quoted value keys the rate limit, so one
        # sensor's changing values do not each get a line of their own.
        reason = text.split(":", 1)[0]
        key = "bad point: " + reason
        self.stats[key] += 1
        self.limited.warning(key, text, prefix=self.conn.label + " ", title="bad point skipped")

    def _handler_error(self, what: str, exc: Exception) -> None:
        self.stats["handler_errors"] += 1
        self.limited.error(
            f"{type(self.handler).__name__}.{what}() raised {type(exc).__name__}; {what} skipped",
            str(exc), exc_info=True, prefix=self.conn.label + " ")
