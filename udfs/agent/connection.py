"""One Kapacitor connection: a reader thread, a worker thread, one handler.

A :class:`Connection` is the session its two threads share
(:mod:`~udfs.agent.session`: the transport, the byte-bounded queue between
them, the lock under which both write whole messages, the counters and the
label its log lines start with) and runs them. The reader (:mod:`~udfs.agent.reader`) splits the
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

import logging
import threading

from .bytequeue import DEFAULT_MAX_QUEUED_BYTES
from .framing import DEFAULT_MAX_MESSAGE_SIZE
from .handler import Handler
from .reader import DEFAULT_HANG_LIMIT, Reader
from .session import Session
from .transports import PipeTransport, SocketTransport
from .worker import Worker

__all__ = ["DEFAULT_HANG_LIMIT", "DEFAULT_MAX_QUEUED_BYTES", "Connection"]

log = logging.getLogger(__name__)


class Connection(Session):
    """Serve one Kapacitor connection: its :class:`~udfs.agent.session.Session`, a reader and a worker.

    Parameters as :class:`~udfs.agent.session.Session`'s, and

    hang_limit
        Seconds a busy handler may go without finishing a request before its
        keepalives go unanswered.
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
        super().__init__(handler_cls, transport, max_message_size, log_interval, max_queued_bytes)
        self.worker = Worker(self)
        self.reader = Reader(self, self.worker, hang_limit)

    def serve(self) -> None:
        """Run until Kapacitor closes its side or the stream breaks."""
        worker = threading.Thread(target=self.worker.run, name=f"udf-worker-{self.id}", daemon=True)
        worker.start()
        try:
            self.reader.run()
        finally:
            worker.join()
            self.transport.close()
            summary = self.summary()
            # A connection that served no task and counted nothing is a probe of Info (the task watcher's
            # udfcheck, every second): a line each at INFO would be most of every UDF's log.
            quiet = self.task is None and not any(self.stats.values())
            log.log(logging.DEBUG if quiet else logging.INFO, "%s closed: %s", self.label, summary)

    def summary(self, points_in: int | None = None) -> str:
        """The counters for a log line, brought up to date first."""
        return super().summary(self.worker.points_in if points_in is None else points_in)
