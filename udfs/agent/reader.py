"""The reader thread of a connection: split the input into requests, answer what cannot wait, queue the rest.

It reads 64 KiB at a time and splits messages. ``keepalive`` and ``info``
are answered here, at once, whatever the handler is doing, so a handler
busy for minutes never gets its task killed for a missed keepalive; unless
it has finished nothing for ``hang_limit`` seconds (a point or batch that
never returns): then its keepalives go unanswered, so Kapacitor stops the
task instead of waiting for ever. Everything else is queued for the worker,
one list per read; data messages cross undecoded. A framing error ends the
input with a :class:`~udfs.agent.bytequeue.Fatal` for the worker to answer.

Separate from :mod:`~udfs.agent.worker` because it runs on its own thread
and must never wait on the handler: it shares only the queue, the write
lock and the worker's progress counters, read here to tell a slow handler
from a hung one.
"""

from __future__ import annotations

import logging
import time

from google.protobuf.message import DecodeError

from . import udf_pb2
from .bytequeue import DATA_KEYS, EOF, Fatal
from .framing import FrameDecoder, FramingError
from .management import info_frame, response_frame
from .session import Session
from .worker import Worker

__all__ = ["DEFAULT_HANG_LIMIT", "READ_SIZE", "Reader"]

log = logging.getLogger(__name__)

#: Bytes asked of the OS per read.
READ_SIZE = 64 * 1024
#: Seconds without progress after which a busy handler counts as hung (Kapacitor's
#: keepalive timeout is 10 s by default).
DEFAULT_HANG_LIMIT = 60.0


class Reader:
    """Reads one connection's input until it ends; see the module docstring.

    Parameters
    ----------
    conn
        The session: its transport, queue, write lock, counters and label.
    worker
        The worker, whose ``done`` and ``busy`` tell progress.
    hang_limit
        Seconds a busy handler may go without finishing a request before its
        keepalives go unanswered.
    """

    def __init__(self, conn: Session, worker: Worker, hang_limit: float = DEFAULT_HANG_LIMIT):
        self.conn = conn
        self.worker = worker
        self.hang_limit = hang_limit
        self._seen_done = 0     # the last look at the worker's done count, and when it changed
        self._seen_at = time.monotonic()
        self._hung_reported = False

    def run(self) -> None:
        """Read until the input ends or breaks; the worker's queue always ends with a marker."""
        conn = self.conn
        decoder = FrameDecoder(conn.max_message_size)
        put = conn.queue.put
        recv = conn.transport.recv
        send_now = conn.send_now
        Request = udf_pb2.Request
        info = info_frame(conn.handler_cls)
        try:
            while True:
                data = recv(READ_SIZE)
                if not data:
                    if decoder.buffered:
                        log.warning("%s input ended inside a message; %d bytes dropped",
                                    conn.label, decoder.buffered)
                    break
                fatal = None
                try:
                    frames = decoder.feed(data)
                except FramingError as exc:
                    frames, fatal = exc.messages, exc
                chunk = []
                append = chunk.append
                for frame in frames:
                    # Data messages (field 16/17/18: key bytes 0x82/0x8a/0x92,
                    # 0x01) go to the worker undecoded; it decodes a point
                    # only if its handler looks inside.
                    if len(frame) > 1 and frame[1] == 0x01 and frame[0] in DATA_KEYS:
                        append(frame)
                        continue
                    req = Request()
                    try:
                        req.ParseFromString(frame)
                    except DecodeError as exc:
                        conn.stats["bad_requests"] += 1
                        conn.limited.error("undecodable request skipped",
                                           f"{exc} ({len(frame)} bytes)", prefix=conn.label + " ")
                        continue
                    kind = req.WhichOneof("message")
                    if kind == "keepalive":
                        answered = not self._hung()
                        if answered:
                            send_now(response_frame(
                                keepalive=udf_pb2.KeepaliveResponse(time=req.keepalive.time)))
                        conn.metrics.keepalive(answered)
                    elif kind == "info":
                        send_now(info)
                    elif kind is None:
                        self._unknown(frame)
                    else:
                        append(req)
                if chunk:
                    put(chunk, len(data))
                if fatal is not None:
                    log.error("%s %s; closing the connection", conn.label, fatal)
                    put(Fatal(f"tickml agent: cannot read the request stream: {fatal}"))
                    return
        except OSError as exc:
            log.warning("%s connection lost: %s", conn.label, exc)
        finally:
            put(EOF)

    def _hung(self) -> bool:
        """True once the worker has held work without finishing any of it for ``hang_limit`` seconds."""
        now = time.monotonic()
        worker = self.worker
        done = worker.done
        if done != self._seen_done or not worker.busy:
            self._seen_done, self._seen_at = done, now
            return False
        if now - self._seen_at < self.hang_limit:
            return False
        if not self._hung_reported:
            self._hung_reported = True
            log.error("%s handler made no progress for %.0f s (a point or batch that does not return); "
                      "keepalives are no longer answered so that Kapacitor stops the task", self.conn.label,
                      now - self._seen_at)
        return True

    def _unknown(self, frame: bytes) -> None:
        # No ErrorResponse: Kapacitor stops the task on one, and a request it
        # does not wait an answer for is no reason to stop the task.
        self.conn.stats["unknown_requests"] += 1
        if frame:
            key = shift = 0
            for byte in frame[:10]:
                key |= (byte & 0x7F) << shift
                shift += 7
                if byte < 0x80:
                    break
            detail = (f"field number {key >> 3} is not a request type of udf.proto this agent "
                      f"knows (1-5, 16-18); ignored")
        else:
            detail = "empty request message; ignored"
        self.conn.limited.error("unknown request type", detail, prefix=self.conn.label + " ")
