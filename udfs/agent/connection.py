"""One Kapacitor connection: a reader thread, a worker thread, one handler.

A :class:`Connection` holds what its two threads share and runs them: the
transport (:mod:`~udfs.agent.transports`), the byte-bounded queue between
them (:mod:`~udfs.agent.bytequeue`), the lock under which both write whole
messages (so their bytes never interleave), the counters and the label its
log lines start with. The reader (:mod:`~udfs.agent.reader`) splits the
input, answers ``keepalive`` and ``info`` at once and queues the rest; the
worker (:mod:`~udfs.agent.worker`) runs the handler and writes its output;
the answers to init, snapshot and restore are :mod:`~udfs.agent.management`'s.

Under load: the queue between the threads is bounded in bytes
(``max_queued_bytes``); when it is full the reader stops reading, so
Kapacitor's writes block instead of this process growing without limit. A
handler busy for minutes does not get its task killed for a missed
keepalive as long as it makes progress; one that has made none for
``hang_limit`` seconds (a point or batch that never returns) is reported
and its keepalives go unanswered, so Kapacitor stops the task instead of
waiting for ever.

Error tiers (STYLE.md): bad options fail ``init``; a bad snapshot fails
``restore``; a bad point or a handler exception on one point or batch is
logged (rate-limited), counted and skipped; only a broken byte stream
(framing error) or a request the agent cannot answer ends the connection,
with an ``ErrorResponse`` first.
"""

from __future__ import annotations

import itertools
import logging
import threading
from collections import Counter

from .bytequeue import DEFAULT_MAX_QUEUED_BYTES, ByteQueue
from .framing import DEFAULT_MAX_MESSAGE_SIZE
from .handler import Handler
from .metrics import ConnectionMetrics
from .ratelimit import RateLimitedLog
from .reader import DEFAULT_HANG_LIMIT, Reader
from .transports import PipeTransport, SocketTransport
from .worker import Worker

__all__ = ["DEFAULT_HANG_LIMIT", "DEFAULT_MAX_QUEUED_BYTES", "Connection"]

log = logging.getLogger(__name__)

_ids = itertools.count(1)

_SUMMARY_KEYS = ("points_in", "points_out", "batches_in", "bad_points", "handler_errors",
                 "unknown_requests", "bad_requests")


class Connection:
    """Serve one Kapacitor connection with a fresh handler instance.

    Parameters
    ----------
    handler_cls
        The UDF's :class:`~udfs.agent.handler.Handler` subclass.
    transport
        :class:`~udfs.agent.transports.SocketTransport` or
        :class:`~udfs.agent.transports.PipeTransport`.
    max_message_size
        Largest accepted request, in bytes.
    log_interval
        Seconds between two log lines of the same problem.
    max_queued_bytes
        Requests read but not yet handled that one connection holds before
        it stops reading (back-pressure to Kapacitor).
    hang_limit
        Seconds a busy handler may go without finishing a request before its
        keepalives go unanswered.

    Attributes
    ----------
    stats : collections.Counter
        ``points_in``, ``points_out``, ``batches_in``, ``bad_points``,
        ``handler_errors``, ``unknown_requests``, ``bad_requests`` and
        per-reason counts under ``"bad point: <reason>"``.
    label : str
        What the connection's log lines start with; names the task once
        init succeeded.
    metrics : ConnectionMetrics
        The same counters in Prometheus format (:mod:`~udfs.agent.metrics`).
    """

    def __init__(
        self,
        handler_cls: type[Handler],
        transport: SocketTransport | PipeTransport,
        max_message_size: int = DEFAULT_MAX_MESSAGE_SIZE,
        log_interval: float = 10.0,
        max_queued_bytes: int = DEFAULT_MAX_QUEUED_BYTES,
        hang_limit: float = DEFAULT_HANG_LIMIT,
    ):
        self.handler_cls = handler_cls
        self.transport = transport
        self.max_message_size = max_message_size
        self.id = next(_ids)
        self.label = f"[{handler_cls.name} conn {self.id}]"
        self.stats: Counter[str] = Counter()
        self.metrics = ConnectionMetrics(handler_cls.name)
        self.limited = RateLimitedLog(log, interval=log_interval)
        self.handler = handler_cls()
        self.queue = ByteQueue(max_queued_bytes)
        self.write_lock = threading.Lock()
        self.worker = Worker(self)
        self.reader = Reader(self, hang_limit)

    def serve(self) -> None:
        """Run until Kapacitor closes its side or the stream breaks."""
        worker = threading.Thread(target=self.worker.run, name=f"udf-worker-{self.id}", daemon=True)
        worker.start()
        try:
            self.reader.run()
        finally:
            worker.join()
            self.transport.close()
            log.info("%s closed: %s", self.label, self.summary())

    def summary(self) -> str:
        """The counters for a log line, ``points_in`` and ``points_out`` brought up to date first."""
        stats = self.stats
        stats["points_in"] = self.worker.points_in
        stats["points_out"] = self.handler.emitted
        return ", ".join(f"{k}={stats[k]}" for k in _SUMMARY_KEYS)

    def send_now(self, frame: bytes) -> None:
        """Write one whole message at once, from either thread."""
        with self.write_lock:
            self.transport.send_all(frame)
