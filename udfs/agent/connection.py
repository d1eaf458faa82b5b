"""One Kapacitor connection: a reader thread, a worker thread, one handler.

The reader splits what it reads in large chunks into messages and answers
``keepalive`` and ``info`` itself, at once; everything else goes, one list
per chunk read, to the worker, which runs the handler and writes its output
in large writes when it has drained what was read, when 256 KiB piled up,
when ``FLUSH_DELAY`` passed since output was first held back, or at once
for an answer to init, snapshot or restore. Data messages cross undecoded:
the worker decodes a point only when the handler looks at it, and
``forward`` sends it on as the bytes it came in. Both threads write whole
messages under one lock, so their bytes never interleave.

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
import json
import logging
import os
import queue
import socket
import threading
import time
from collections import Counter
from typing import Any

from google.protobuf.message import DecodeError

from . import udf_pb2
from .framing import DEFAULT_MAX_MESSAGE_SIZE, FrameDecoder, FramingError, encode_frame
from .handler import Handler
from .options import Duration, OptionsError, parse_options
from .points import BadPoint, Batch, Point
from .ratelimit import RateLimitedLog

__all__ = ["Connection", "PipeTransport", "SocketTransport", "READ_SIZE", "FLUSH_SIZE"]

log = logging.getLogger(__name__)

#: Bytes asked of the OS per read.
READ_SIZE = 64 * 1024
#: Seconds between two log lines with a connection's counters.
STATS_INTERVAL = 300.0
#: The worker writes out before its buffer grows past this, even when more
#: input is waiting, to bound memory and latency under a steady flood.
FLUSH_SIZE = 256 * 1024
# Room for the RestoreRequest around a snapshot within the largest message a reader accepts.
SNAPSHOT_OVERHEAD = 1024
#: Longest output is held back while more input waits, in seconds.
FLUSH_DELAY = 0.1
#: Bytes of read but unhandled requests one connection holds before it stops reading.
DEFAULT_MAX_QUEUED_BYTES = 32 * 1024 * 1024
#: Seconds without progress after which a busy handler counts as hung (Kapacitor's
#: keepalive timeout is 10 s by default).
DEFAULT_HANG_LIMIT = 60.0

_ids = itertools.count(1)


class SocketTransport:
    """A connected unix socket."""

    def __init__(self, sock: socket.socket):
        self.sock = sock

    def recv(self, n: int) -> bytes:
        data = self.sock.recv(n)
        if len(data) < n // 2 and data:
            # Take what else has arrived meanwhile, without waiting: Kapacitor
            # writes a message at a time, and every read handed to the worker
            # costs a thread wake-up, so fewer, larger reads cost less per point.
            parts = [data]
            got = len(data)
            try:
                while got < n:
                    more = self.sock.recv(n - got, socket.MSG_DONTWAIT)
                    if not more:
                        break
                    parts.append(more)
                    got += len(more)
            except (BlockingIOError, InterruptedError):
                pass
            data = b"".join(parts) if len(parts) > 1 else data
        return data

    def send_all(self, data: bytes | bytearray) -> None:
        self.sock.sendall(data)

    def close_write(self) -> None:
        try:
            self.sock.shutdown(socket.SHUT_WR)
        except OSError:
            pass

    def close(self) -> None:
        self.sock.close()


class PipeTransport:
    """A pair of file descriptors, e.g. stdin and stdout of a process UDF."""

    def __init__(self, read_fd: int, write_fd: int):
        self.read_fd = read_fd
        self.write_fd = write_fd
        self._write_closed = False

    def recv(self, n: int) -> bytes:
        return os.read(self.read_fd, n)

    def send_all(self, data: bytes | bytearray) -> None:
        view = memoryview(data)
        while view:
            written = os.write(self.write_fd, view)
            view = view[written:]

    def close_write(self) -> None:
        if not self._write_closed:
            self._write_closed = True
            os.close(self.write_fd)

    def close(self) -> None:
        self.close_write()


class _Fatal:
    __slots__ = ("message",)

    def __init__(self, message: str):
        self.message = message


_EOF = object()

# First byte of the key of Request.begin/point/end (fields 16, 17, 18,
# length-delimited); the second byte is 0x01 for all three.
_BEGIN, _POINT, _END = 0x82, 0x8A, 0x92
_DATA_KEYS = frozenset((_BEGIN, _POINT, _END))

_INFO_CACHE: dict[type, bytes] = {}


def _info_frame(handler_cls: type[Handler]) -> bytes:
    frame = _INFO_CACHE.get(handler_cls)
    if frame is None:
        frame = _INFO_CACHE[handler_cls] = encode_frame(handler_cls.info_response().SerializeToString())
    return frame


def _option_value(v: udf_pb2.OptionValue) -> Any:
    which = v.WhichOneof("value")
    if which == "durationValue":
        return Duration(v.durationValue)
    if which is None:
        # Defensive: a zero value without oneof presence; trust the type tag.
        return (False, 0, 0.0, "", Duration(0))[v.type]
    return getattr(v, which)


def _response_frame(**kwargs: Any) -> bytes:
    return encode_frame(udf_pb2.Response(**kwargs).SerializeToString())


class _ByteQueue:
    """A FIFO bounded by the bytes it holds: ``put`` waits while it is over ``max_bytes``.

    An item is always taken when the queue is empty, so one read larger than
    the bound still passes. Sentinels (``size`` 0) never wait. One thread
    puts (the reader) and one gets (the worker): each owns one counter, the
    items travel through C's SimpleQueue, and a lock is taken only when the
    reader has to wait, so the common case costs what SimpleQueue does.
    """

    def __init__(self, max_bytes: int):
        self.max_bytes = max_bytes
        self.peak = 0
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._put_bytes = 0   # written by the reader only
        self._got_bytes = 0   # written by the worker only
        self._room = threading.Condition(threading.Lock())
        self._waiting = False

    @property
    def bytes(self) -> int:
        return self._put_bytes - self._got_bytes

    def put(self, item, size: int = 0) -> None:
        if size and self._put_bytes - self._got_bytes + size > self.max_bytes:
            with self._room:
                self._waiting = True
                while self._put_bytes != self._got_bytes and \
                        self._put_bytes - self._got_bytes + size > self.max_bytes:
                    self._room.wait()
                self._waiting = False
        self._put_bytes += size
        self.peak = max(self.peak, self._put_bytes - self._got_bytes)
        self._queue.put((item, size))

    def get(self):
        item, size = self._queue.get()
        if size:
            self._got_bytes += size
            if self._waiting:
                with self._room:
                    self._room.notify()
        return item

    def empty(self) -> bool:
        return self._queue.empty()


class Connection:
    """Serve one Kapacitor connection with a fresh handler instance.

    Parameters
    ----------
    handler_cls
        The UDF's :class:`~udfs.agent.handler.Handler` subclass.
    transport
        :class:`SocketTransport` or :class:`PipeTransport`.
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
        self.limited = RateLimitedLog(log, interval=log_interval)
        self.handler = handler_cls()
        self._queue = _ByteQueue(max_queued_bytes)
        self.hang_limit = hang_limit
        self._done = 0          # requests the worker finished (points, batch messages, management)
        self._busy = False      # the worker holds a chunk
        self._seen_done = 0     # the reader's last look at _done, and when it changed
        self._seen_at = time.monotonic()
        self._hung_reported = False
        self._urgent = False    # an init, snapshot or restore answer waits in the output
        self._held_since = time.monotonic()
        # Batches that ended in the chunk being handled, for a handler that takes them together.
        self._groups_batches = type(self.handler).batches is not Handler.batches
        self._closed: list[Batch] = []
        self._write_lock = threading.Lock()
        self._ready = False
        self._batch: Batch | None = None
        self._points_in = 0
        self._next_stats = time.monotonic() + STATS_INTERVAL

    # ---- running ----------------------------------------------------------

    def serve(self) -> None:
        """Run until Kapacitor closes its side or the stream breaks."""
        worker = threading.Thread(target=self._work, name=f"udf-worker-{self.id}", daemon=True)
        worker.start()
        try:
            self._read()
        finally:
            worker.join()
            self.transport.close()
            self.stats["points_in"] = self._points_in
            self.stats["points_out"] = self.handler.emitted
            log.info("%s closed: %s", self.label, self._summary())

    def _summary(self) -> str:
        keys = ("points_in", "points_out", "batches_in", "bad_points", "handler_errors",
                "unknown_requests", "bad_requests")
        return ", ".join(f"{k}={self.stats[k]}" for k in keys)

    def _send_now(self, frame: bytes) -> None:
        with self._write_lock:
            self.transport.send_all(frame)

    # ---- reader thread ----------------------------------------------------

    def _read(self) -> None:
        decoder = FrameDecoder(self.max_message_size)
        put = self._queue.put
        recv = self.transport.recv
        Request = udf_pb2.Request
        info_frame = _info_frame(self.handler_cls)
        try:
            while True:
                data = recv(READ_SIZE)
                if not data:
                    if decoder.buffered:
                        log.warning("%s input ended inside a message; %d bytes dropped",
                                    self.label, decoder.buffered)
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
                    if len(frame) > 1 and frame[1] == 0x01 and frame[0] in _DATA_KEYS:
                        append(frame)
                        continue
                    req = Request()
                    try:
                        req.ParseFromString(frame)
                    except DecodeError as exc:
                        self.stats["bad_requests"] += 1
                        self.limited.error("undecodable request skipped",
                                           f"{exc} ({len(frame)} bytes)", prefix=self.label + " ")
                        continue
                    kind = req.WhichOneof("message")
                    if kind == "keepalive":
                        if not self._hung():
                            self._send_now(_response_frame(
                                keepalive=udf_pb2.KeepaliveResponse(time=req.keepalive.time)))
                    elif kind == "info":
                        self._send_now(info_frame)
                    elif kind is None:
                        self._unknown(frame)
                    else:
                        append(req)
                if chunk:
                    put(chunk, len(data))
                if fatal is not None:
                    log.error("%s %s; closing the connection", self.label, fatal)
                    put(_Fatal(f"tickml agent: cannot read the request stream: {fatal}"))
                    return
        except OSError as exc:
            log.warning("%s connection lost: %s", self.label, exc)
        finally:
            put(_EOF)

    def _hung(self) -> bool:
        """True once the worker has held work without finishing any of it for ``hang_limit`` seconds."""
        now = time.monotonic()
        done = self._done
        if done != self._seen_done or not self._busy:
            self._seen_done, self._seen_at = done, now
            return False
        if now - self._seen_at < self.hang_limit:
            return False
        if not self._hung_reported:
            self._hung_reported = True
            log.error("%s handler made no progress for %.0f s (a point or batch that does not return); "
                      "keepalives are no longer answered so that Kapacitor stops the task", self.label,
                      now - self._seen_at)
        return True

    def _unknown(self, frame: bytes) -> None:
        # No ErrorResponse: Kapacitor stops the task on one, and a request it
        # does not wait an answer for is no reason to stop the task.
        self.stats["unknown_requests"] += 1
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
        self.limited.error("unknown request type", detail, prefix=self.label + " ")

    # ---- worker thread ----------------------------------------------------

    def _work(self) -> None:
        get = self._queue.get
        empty = self._queue.empty
        out = self.handler._out
        try:
            while True:
                item = get()
                if type(item) is list:
                    self._busy = True
                    self._dispatch(item)
                    self._busy = False
                    if len(out) >= FLUSH_SIZE or self._urgent or empty() or \
                            (out and time.monotonic() - self._held_since >= FLUSH_DELAY):
                        self._flush()
                elif item is _EOF:
                    break
                else:
                    self._fail(item.message)
                    return
            self._flush()
        except OSError as exc:
            log.warning("%s cannot write to Kapacitor: %s", self.label, exc)
        except _SnapshotFailed:
            return
        except Exception as exc:  # a bug in the agent: say so to Kapacitor, then stop
            log.exception("%s internal error", self.label)
            self._fail(f"tickml agent internal error: {type(exc).__name__}: {exc}")
            return
        finally:
            self.transport.close_write()

    def _fail(self, message: str) -> None:
        try:
            self._flush()
            self._send_now(_response_frame(error=udf_pb2.ErrorResponse(error=message)))
        except OSError as exc:
            log.warning("%s cannot send the error to Kapacitor: %s", self.label, exc)

    def _flush(self) -> None:
        out = self.handler._out
        self._urgent = False
        if out:
            with self._write_lock:
                self.transport.send_all(out)
            del out[:]
        # Checked per flush, not per point: long-running tasks show their
        # counters without anyone asking.
        now = time.monotonic()
        if now >= self._next_stats:
            self._next_stats = now + STATS_INTERVAL
            if self._points_in:
                self.stats["points_in"] = self._points_in
                self.stats["points_out"] = self.handler.emitted
                log.info("%s running: %s", self.label, self._summary())

    def _dispatch(self, chunk: list) -> None:
        handler = self.handler
        stream = handler.wants == "stream"
        out = handler._out
        # Output is measured from the start of the chunk that first held it back.
        held = bool(out)
        self._held_since = self._held_since if held else time.monotonic()
        monotonic = time.monotonic
        for item in chunk:
            if type(item) is bytes and item[0] == _POINT and self._batch is not None:
                # A point inside a batch: no handler runs until the batch ends, so
                # nothing to time or count as progress; kept as the bytes it came in.
                self._batch._raws.append(item)
                self._points_in += 1
                continue
            self._done += 1
            if out and monotonic() - self._held_since >= FLUSH_DELAY:
                # A long chunk of slow points: what it produced so far goes out now.
                self._flush()
                self._held_since = monotonic()
            if type(item) is bytes:
                key = item[0]
                if key == _POINT:
                    self._points_in += 1
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
                                       prefix=self.label + " ")
                    continue
                if key == _BEGIN:
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
                self._init(item.init)
            elif kind == "snapshot":
                self._snapshot()
            elif kind == "restore":
                self._restore(item.restore.snapshot)
        if self._closed:
            self._run_closed()

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
        self.limited.warning("skipped: " + reason, reason, prefix=self.label + " ", title="skipped")

    def _bad_point(self, exc: BadPoint) -> None:
        self.stats["bad_points"] += 1
        text = str(exc)
        # The reason up to the quoted value keys the rate limit, so one
        # sensor's changing values do not each get a line of their own.
        reason = text.split(":", 1)[0]
        key = "bad point: " + reason
        self.stats[key] += 1
        self.limited.warning(key, text, prefix=self.label + " ", title="bad point skipped")

    def _handler_error(self, what: str, exc: Exception) -> None:
        self.stats["handler_errors"] += 1
        self.limited.error(
            f"{type(self.handler).__name__}.{what}() raised {type(exc).__name__}; {what} skipped",
            str(exc), exc_info=True, prefix=self.label + " ")

    # ---- management requests ----------------------------------------------

    def _init(self, init: udf_pb2.InitRequest) -> None:
        handler = self.handler
        given: dict[str, list] = {}
        for opt in init.options:
            given.setdefault(opt.name, []).append(tuple(_option_value(v) for v in opt.values))
        try:
            opts = parse_options(self.handler_cls.options, given)
            problems = list(handler.check_options(opts) or ())
            if problems:
                raise OptionsError(problems)
            handler.opts = opts
            handler.task_id = init.taskID
            handler.node_id = init.nodeID
            self.label = f"[{self.handler_cls.name} conn {self.id} task={init.taskID} node={init.nodeID}]"
            handler.setup()
        except OptionsError as exc:
            error = f"invalid options for {self.handler_cls.name}: {exc}"
            log.error("%s init failed: %s", self.label, error)
            self._respond(init=udf_pb2.InitResponse(success=False, error=error))
            return
        except Exception as exc:
            log.exception("%s setup failed", self.label)
            error = f"{self.handler_cls.name} setup failed: {type(exc).__name__}: {exc}"
            self._respond(init=udf_pb2.InitResponse(success=False, error=error))
            return
        self._ready = True
        log.info("%s initialised with %s", self.label, vars(handler.opts))
        self._respond(init=udf_pb2.InitResponse(success=True))

    def _respond(self, **kwargs: Any) -> None:
        # Through the output buffer so the answer stays behind the points
        # produced before the request, which go out with it right after the chunk.
        self.handler._out += _response_frame(**kwargs)
        self._urgent = True

    def _snapshot(self) -> None:
        cls = self.handler_cls
        try:
            state = self.handler.get_state()
            data = _envelope(cls, state)
            limit = self.max_message_size - SNAPSHOT_OVERHEAD
            if len(data) > limit:
                # Kapacitor hands the snapshot back in a RestoreRequest at the
                # next start; one larger than the reader accepts would fail
                # that start. A smaller state restores; an empty one at worst.
                size = len(data)
                data = _envelope(cls, self.handler.shrink_state(state, size, limit))
                if len(data) > limit:
                    data = _envelope(cls, None)
                self.limited.error("snapshot too large to restore",
                                   f"state of {size} bytes, a restore accepts {limit}; "
                                   f"the snapshot keeps {len(data)} bytes", prefix=self.label + " ")
        except Exception as exc:
            # SnapshotResponse has no error field, and Kapacitor waits for an
            # answer: an ErrorResponse is the only honest one.
            log.exception("%s snapshot failed", self.label)
            self._fail(f"{cls.name} cannot snapshot its state: {type(exc).__name__}: {exc}")
            raise _SnapshotFailed from exc
        self._respond(snapshot=udf_pb2.SnapshotResponse(snapshot=data))

    def _restore(self, data: bytes) -> None:
        cls = self.handler_cls
        if not data:
            self._respond(restore=udf_pb2.RestoreResponse(success=True))
            return
        try:
            try:
                envelope = json.loads(data)
            except (UnicodeDecodeError, json.JSONDecodeError) as exc:
                raise ValueError(f"snapshot is not JSON: {exc}") from exc
            if not isinstance(envelope, dict) or not {"schema", "handler", "state"} <= envelope.keys():
                raise ValueError("snapshot is not a tickml snapshot (needs schema, handler, state)")
            if envelope["handler"] != cls.name:
                raise ValueError(f"snapshot belongs to handler {envelope['handler']!r}, not {cls.name!r}")
            if envelope["schema"] != cls.state_schema:
                raise ValueError(
                    f"snapshot has state schema {envelope['schema']!r}; "
                    f"{cls.name} reads schema {cls.state_schema}")
            self.handler.set_state(envelope["state"])
        except Exception as exc:
            if not isinstance(exc, (ValueError, TypeError, KeyError)):
                log.exception("%s restore failed", self.label)
            error = f"cannot restore {cls.name}: {exc}"
            log.error("%s %s", self.label, error)
            self._respond(restore=udf_pb2.RestoreResponse(success=False, error=error))
            return
        log.info("%s state restored (%d bytes)", self.label, len(data))
        self._respond(restore=udf_pb2.RestoreResponse(success=True))


def _envelope(cls, state) -> bytes:
    return json.dumps({"schema": cls.state_schema, "handler": cls.name, "state": state},
                      separators=(",", ":")).encode()


class _SnapshotFailed(Exception):
    """Raised after the ErrorResponse is sent, to end the connection."""
