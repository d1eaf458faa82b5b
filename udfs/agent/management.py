"""The agent's answers to Kapacitor's requests that carry no data: info, init, snapshot, restore.

``info`` is generated from the handler's class attributes (and cached);
``init`` parses the options against the handler's table, runs its
``check_options`` and ``setup`` and reports every problem in one message;
a snapshot is the handler's ``get_state`` in a JSON envelope naming the
handler and its state schema, cut down to what a restore accepts; a
restore checks that envelope before the handler's ``set_state`` sees it.

Separate from the threads that call it: these are the error tiers of
options and snapshots (STYLE.md), and they have nothing to do with how
bytes are read, queued or written. The reader sends the info frame itself;
the worker puts the other answers in its output, behind the points that
came before the request.

Examples
--------
>>> class Counter(Handler):
...     state_schema = 2
>>> envelope(Counter, {"n": 1})
b'{"schema":2,"handler":"Counter","state":{"n":1}}'
"""

from __future__ import annotations

import json
import logging
from typing import Any

from . import udf_pb2
from .framing import encode_frame
from .handler import Handler
from .options import Duration, OptionsError, parse_options
from .session import Session

__all__ = ["SNAPSHOT_OVERHEAD", "SnapshotFailed", "envelope", "info_frame", "init", "response_frame", "restore",
           "snapshot"]

log = logging.getLogger(__name__)

# Room for the RestoreRequest around a snapshot within the largest message a reader accepts.
SNAPSHOT_OVERHEAD = 1024

_INFO_CACHE: dict[type, bytes] = {}


class SnapshotFailed(Exception):
    """``get_state`` raised: the worker sends ``message`` as an ErrorResponse and ends the connection.

    SnapshotResponse has no error field, and Kapacitor waits for an answer:
    an ErrorResponse is the only honest one.
    """

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


def response_frame(**kwargs: Any) -> bytes:
    """A framed ``Response`` with ``kwargs`` as its fields."""
    return encode_frame(udf_pb2.Response(**kwargs).SerializeToString())


def info_frame(handler_cls: type[Handler]) -> bytes:
    """The framed InfoResponse of ``handler_cls``, built once per class."""
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


def init(conn: Session, request: udf_pb2.InitRequest) -> udf_pb2.InitResponse:
    """Set the handler's options up from ``request``; on success the connection's label names the task."""
    cls, handler = conn.handler_cls, conn.handler
    given: dict[str, list] = {}
    for opt in request.options:
        given.setdefault(opt.name, []).append(tuple(_option_value(v) for v in opt.values))
    try:
        opts = parse_options(cls.options, given)
        problems = list(handler.check_options(opts) or ())
        if problems:
            raise OptionsError(problems)
        handler.opts = opts
        handler.task_id = request.taskID
        handler.node_id = request.nodeID
        conn.name_task(request.taskID, request.nodeID)
        handler.setup()
    except OptionsError as exc:
        error = f"invalid options for {cls.name}: {exc}"
        log.error("%s init failed: %s", conn.label, error)
        return udf_pb2.InitResponse(success=False, error=error)
    except Exception as exc:
        log.exception("%s setup failed", conn.label)
        error = f"{cls.name} setup failed: {type(exc).__name__}: {exc}"
        return udf_pb2.InitResponse(success=False, error=error)
    log.info("%s initialised with %s", conn.label, vars(handler.opts))
    return udf_pb2.InitResponse(success=True)


def snapshot(conn: Session) -> udf_pb2.SnapshotResponse:
    """The handler's state in its envelope, no larger than a restore accepts; :class:`SnapshotFailed` if it raises."""
    cls = conn.handler_cls
    try:
        state = conn.handler.get_state()
        data = envelope(cls, state)
        limit = conn.max_message_size - SNAPSHOT_OVERHEAD
        if len(data) > limit:
            # Kapacitor hands the snapshot back in a RestoreRequest at the
            # next start; one larger than the reader accepts would fail
            # that start. A smaller state restores; an empty one at worst.
            size = len(data)
            data = envelope(cls, conn.handler.shrink_state(state, size, limit))
            if len(data) > limit:
                data = envelope(cls, None)
            conn.limited.error("snapshot too large to restore",
                               f"state of {size} bytes, a restore accepts {limit}; "
                               f"the snapshot keeps {len(data)} bytes", prefix=conn.label + " ")
    except Exception as exc:
        log.exception("%s snapshot failed", conn.label)
        raise SnapshotFailed(f"{cls.name} cannot snapshot its state: {type(exc).__name__}: {exc}") from exc
    return udf_pb2.SnapshotResponse(snapshot=data)


def restore(conn: Session, data: bytes) -> udf_pb2.RestoreResponse:
    """Hand a snapshot's state to the handler; refused, the state unchanged, unless it is this handler's."""
    cls = conn.handler_cls
    if not data:
        return udf_pb2.RestoreResponse(success=True)
    try:
        try:
            snap = json.loads(data)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ValueError(f"snapshot is not JSON: {exc}") from exc
        if not isinstance(snap, dict) or not {"schema", "handler", "state"} <= snap.keys():
            raise ValueError("snapshot is not a tickml snapshot (needs schema, handler, state)")
        if snap["handler"] != cls.name:
            raise ValueError(f"snapshot belongs to handler {snap['handler']!r}, not {cls.name!r}")
        if snap["schema"] != cls.state_schema:
            raise ValueError(
                f"snapshot has state schema {snap['schema']!r}; "
                f"{cls.name} reads schema {cls.state_schema}")
        conn.handler.set_state(snap["state"])
    except Exception as exc:
        if not isinstance(exc, (ValueError, TypeError, KeyError)):
            log.exception("%s restore failed", conn.label)
        error = f"cannot restore {cls.name}: {exc}"
        log.error("%s %s", conn.label, error)
        return udf_pb2.RestoreResponse(success=False, error=error)
    log.info("%s state restored (%d bytes)", conn.label, len(data))
    return udf_pb2.RestoreResponse(success=True)


def envelope(cls: type[Handler], state: Any) -> bytes:
    """``state`` as the JSON a snapshot carries: its handler's name and state schema around it."""
    return json.dumps({"schema": cls.state_schema, "handler": cls.name, "state": state},
                      separators=(",", ":")).encode()
