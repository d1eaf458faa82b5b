"""The base class every UDF handler derives from.

A handler declares its edges and options as class attributes and overrides
a few methods; the agent does the protocol. One instance serves one
Kapacitor connection (one task node), always from a single thread, so
handler code needs no locks.

Examples
--------
A stream filter in full:

>>> from udfs.agent import Handler, Option
>>> class Above(Handler):
...     '''Pass on points whose ``field`` is above ``limit``.'''
...     options = (
...         Option("field", "string", "value"),
...         Option("limit", "double", 0.0),
...     )
...     def point(self, p):
...         if p.number(self.opts.field) > self.opts.limit:
...             self.forward(p)
"""

from __future__ import annotations

import logging
import types
from typing import TYPE_CHECKING, Any, Iterable, Sequence

from . import udf_pb2
from .framing import SMALL_VARINTS, encode_varint
from .options import Option, option_info
from .points import Batch, Point

if TYPE_CHECKING:  # pragma: no cover
    from types import SimpleNamespace

__all__ = ["Handler"]

log = logging.getLogger(__name__)

# A Response holding one data message is that message's bytes behind the
# oneof field's key (field 16/17/18, wire type 2 = length-delimited) and
# length. Writing the key by hand saves building and copying into a
# Response object for every output point.
_BEGIN_KEY = b"\x82\x01"
_POINT_KEY = b"\x8a\x01"
_END_KEY = b"\x92\x01"

_EDGES = {"stream": udf_pb2.STREAM, "batch": udf_pb2.BATCH}
# Lengths below this take their varint from framing's table, without a call (one per output point).
_SMALL = len(SMALL_VARINTS)


class Handler:
    """Base class of UDF handlers.

    Class attributes
    ----------------
    wants, provides : {"stream", "batch"}
        Edge types in and out.
    options : tuple of Option
        The option table; ``info`` and ``init`` are generated from it.
    state_schema : int
        Version of what :meth:`get_state` returns. Bump it when that shape
        changes: snapshots of another version are refused on restore.
    name : str
        Identifies the handler inside snapshots; defaults to the class name.

    Set by the agent before :meth:`setup`
    --------------------------------------
    opts : types.SimpleNamespace
        Validated option values, one attribute per option.
    task_id, node_id : str
        From Kapacitor's InitRequest.

    Methods to override
    -------------------
    point(p) / batch(b)
        Handle one point (wants stream) or one whole batch (wants batch).
        Raise :class:`~udfs.agent.points.BadPoint` for unusable input.
    check_options(opts)
        Cross-option constraints: return a list of problems.
    setup()
        Build state after the options are accepted.
    get_state() / set_state(state)
        JSON-able state for Kapacitor's snapshots. ``set_state`` must raise
        (ValueError) on bad input *before* changing anything.

    Output
    ------
    forward(p), emit(point), emit_batch(like, points), emit_begin(...),
    emit_end(...) append to ``pending_output``, the encoded responses not yet
    written, which the agent's worker writes in large chunks and empties
    (a handler never touches it itself).
    """

    wants: str = "stream"
    provides: str = "stream"
    options: Sequence[Option] = ()
    state_schema: int = 1
    name: str = ""

    opts: "SimpleNamespace"
    task_id: str = ""
    node_id: str = ""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        for attr in ("wants", "provides"):
            if getattr(cls, attr) not in _EDGES:
                raise TypeError(f"{cls.__name__}.{attr} must be 'stream' or 'batch', got {getattr(cls, attr)!r}")
        names = [o.name for o in cls.options]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise TypeError(f"{cls.__name__}.options declares {', '.join(dupes)} more than once")
        if "name" not in cls.__dict__:
            cls.name = cls.__name__

    def __init__(self) -> None:
        self.opts = types.SimpleNamespace()
        self.pending_output = bytearray()
        self.emitted = 0

    # ---- hooks ------------------------------------------------------------

    def check_options(self, opts: "SimpleNamespace") -> Iterable[str]:
        """Problems that involve several options together (none by default)."""
        return ()

    def setup(self) -> None:
        """Prepare to receive data; ``self.opts`` is set."""

    def point(self, p: Point) -> None:
        """Handle one stream point."""
        raise NotImplementedError(f"{type(self).__name__} wants {self.wants} but does not define point()")

    def batch(self, b: Batch) -> None:
        """Handle one whole batch."""
        raise NotImplementedError(f"{type(self).__name__} wants {self.wants} but does not define batch()")

    def batches(self, batches: list[Batch]) -> None:
        """Handle several whole batches that arrived together (Kapacitor closes aligned windows together).

        Define it to compute them in one go (one vectorised call over many
        entities' windows). The agent calls it with the batches that ended in
        one read, in arrival order, and answers a snapshot only after them.
        Contract: compute first, emit after; if it raises, the agent logs it
        and hands the same batches to :meth:`batch` one by one, so a bad
        window costs only itself. Not defined: :meth:`batch` per batch.
        """
        for b in batches:
            self.batch(b)

    def get_state(self) -> Any:
        """JSON-able state for a snapshot; ``None`` when stateless."""
        return None

    def shrink_state(self, state: Any, size: int, limit: int) -> Any:
        """A smaller state when ``state`` encodes to ``size`` bytes, more than the ``limit`` a restore accepts.

        The agent calls it only then; the default keeps no state (the next
        start begins empty, which beats a task that cannot start at all).
        """
        return None

    def set_state(self, state: Any) -> None:
        """Replace the state with one from :meth:`get_state`."""
        if state is not None:
            raise ValueError(f"{type(self).__name__} keeps no state but the snapshot carries some")

    # ---- output -----------------------------------------------------------

    def forward(self, p: Point) -> None:
        """Send an input point on unchanged, reusing the bytes it came in.

        A ``Request`` with a point and a ``Response`` with a point are the
        same bytes (both use field 17), so nothing is encoded.
        """
        raw = p.raw
        if raw is None:
            self.emit(p.msg)
            return
        out = self.pending_output
        out += encode_varint(len(raw))
        out += raw
        self.emitted += 1

    def emit(self, point: udf_pb2.Point) -> None:
        """Send one protobuf point (see :func:`~udfs.agent.points.new_point`)."""
        self._write(_POINT_KEY, point.SerializeToString())
        self.emitted += 1

    def emit_serialized(self, point: bytes) -> None:
        """Send a point given as serialized ``udf_pb2.Point`` bytes.

        Serialized protobuf messages merge when concatenated, so a handler
        may keep the constant part of its output points serialized once and
        append only what changes per point (see ``udfs/predict/handler.py``).
        """
        self._write(_POINT_KEY, point)
        self.emitted += 1

    def emit_begin(
        self, name: str = "", group: str = "", tags: dict | None = None, size: int = 0, by_name: bool = False
    ) -> None:
        """Start an output batch; send its points with :meth:`emit`, then :meth:`emit_end`."""
        msg = udf_pb2.BeginBatch(name=name, group=group, tags=tags or {}, size=size, byName=by_name)
        self._write(_BEGIN_KEY, msg.SerializeToString())

    def emit_end(
        self, name: str = "", group: str = "", tags: dict | None = None, tmax: int = 0, by_name: bool = False
    ) -> None:
        """End an output batch."""
        msg = udf_pb2.EndBatch(name=name, group=group, tags=tags or {}, tmax=tmax, byName=by_name)
        self._write(_END_KEY, msg.SerializeToString())

    def emit_batch(
        self,
        like: Batch | None,
        points: Sequence[udf_pb2.Point],
        *,
        name: str | None = None,
        tags: dict | None = None,
        tmax: int | None = None,
    ) -> None:
        """Send a whole batch: begin, the points, end.

        Parameters
        ----------
        like
            Input batch whose name, group, tags and tmax are reused.
        points
            Protobuf points (e.g. from :func:`~udfs.agent.points.new_point`).
        name, tags, tmax
            Overrides.
        """
        b_name = name if name is not None else (like.name if like else "")
        b_group = like.group if like else ""
        b_tags = dict(like.tags) if like else {}
        if tags:
            b_tags.update(tags)
        by_name = like.by_name if like else False
        b_tmax = tmax if tmax is not None else (like.tmax if like else max((p.time for p in points), default=0))
        self.emit_begin(b_name, b_group, b_tags, len(points), by_name)
        for p in points:
            self.emit(p)
        self.emit_end(b_name, b_group, b_tags, b_tmax, by_name)

    def _write(self, key: bytes, body: bytes) -> None:
        n = len(body)
        length = SMALL_VARINTS[n] if n < _SMALL else encode_varint(n)
        n += len(key) + len(length)
        out = self.pending_output
        out += SMALL_VARINTS[n] if n < _SMALL else encode_varint(n)
        out += key
        out += length
        out += body

    # ---- used by the agent ------------------------------------------------

    @classmethod
    def info_response(cls) -> udf_pb2.Response:
        """The InfoResponse generated from the class attributes."""
        resp = udf_pb2.Response()
        info = resp.info
        info.wants = _EDGES[cls.wants]
        info.provides = _EDGES[cls.provides]
        for name, kinds in option_info(cls.options).items():
            info.options[name].valueTypes.extend(kinds)
        return resp
