"""What one Kapacitor connection's threads share: the session the reader, the worker and the answers to
init, snapshot and restore all take.

The handler instance, the transport, the byte-bounded queue between the two
threads, the lock under which both write whole messages (so their bytes
never interleave), the counters and the label log lines start with. The
reader (:mod:`~udfs.agent.reader`), the worker (:mod:`~udfs.agent.worker`)
and :mod:`~udfs.agent.management` import this module and nothing of each
other's but what they call; :mod:`~udfs.agent.connection` puts them
together.
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
from udfs.ratelimit import RateLimitedLog
from .transports import PipeTransport, SocketTransport

__all__ = ["Session"]

log = logging.getLogger("udfs.agent.connection")

_ids = itertools.count(1)

_SUMMARY_KEYS = ("points_in", "points_out", "batches_in", "bad_points", "handler_errors",
                 "unknown_requests", "bad_requests")


class Session:
    """One connection's shared state, with a fresh handler instance.

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

    Attributes
    ----------
    stats : collections.Counter
        ``points_in``, ``points_out``, ``batches_in``, ``bad_points``,
        ``handler_errors``, ``unknown_requests``, ``bad_requests`` and
        per-reason counts under ``"bad point: <reason>"``.
    label : str
        What the connection's log lines start with; names the task once
        init succeeded (:meth:`name_task`).
    task : str or None
        The task's id once init succeeded.
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
    ):
        self.handler_cls = handler_cls
        self.transport = transport
        self.max_message_size = max_message_size
        self.id = next(_ids)
        self.label = f"[{handler_cls.name} conn {self.id}]"
        self.task: str | None = None
        self.stats: Counter[str] = Counter()
        self.metrics = ConnectionMetrics(handler_cls.name)
        self.limited = RateLimitedLog(log, interval=log_interval)
        self.handler = handler_cls()
        self.queue = ByteQueue(max_queued_bytes)
        self.write_lock = threading.Lock()

    def name_task(self, task_id: str, node_id: int) -> None:
        """The task and node this connection serves, once init named them: in its log lines and metrics."""
        self.task = task_id
        self.label = f"[{self.handler_cls.name} conn {self.id} task={task_id} node={node_id}]"
        self.metrics.task(task_id, node_id)

    def summary(self, points_in: int) -> str:
        """The counters for a log line, ``points_in`` (the worker's) and ``points_out`` brought up to date."""
        stats = self.stats
        stats["points_in"] = points_in
        stats["points_out"] = self.handler.emitted
        return ", ".join(f"{k}={stats[k]}" for k in _SUMMARY_KEYS)

    def send_now(self, frame: bytes) -> None:
        """Write one whole message at once, from either thread."""
        with self.write_lock:
            self.transport.send_all(frame)
