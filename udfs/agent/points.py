"""Points and batches as handlers see them.

:class:`Point` wraps one protobuf ``Point`` as Kapacitor sent it, with
cheap accessors; :class:`Batch` holds the points between ``BeginBatch`` and
``EndBatch`` and turns a field into a numpy column. :func:`new_point`
builds an output point that keeps an input's series identity. The
numbers-only decoding they use is :mod:`~udfs.agent.numbers_only`'s.

Why one module of ~380 lines: these are the handler's whole view of the
data, and ``handler.py`` and the UDFs import them from here. A
:class:`Batch` is made of :class:`Point` objects and :func:`new_point`
takes either: moved apart, they would import each other, and this module
(where ``handler.py`` finds ``Batch`` and its docs find ``new_point``)
would still have to re-export them.

Examples
--------
>>> from udfs.agent import udf_pb2
>>> msg = udf_pb2.Point(name="cpu", group="host=a,", time=10,
...                     tags={"host": "a"}, fieldsDouble={"t": 21.5}, fieldsInt={"n": 3})
>>> p = Point(msg)
>>> p.name, p.group, p.time, p.tags
('cpu', 'host=a,', 10, {'host': 'a'})
>>> sorted(p.fields.items())
[('n', 3), ('t', 21.5)]
>>> p.number("n"), p.number("t")
(3.0, 21.5)
>>> p.number("missing")
Traceback (most recent call last):
...
udfs.agent.points.BadPoint: missing field 'missing' (fields: n, t)
>>> out = new_point(p, {"t_high": True}, name="alerts")
>>> out.name, out.group, dict(out.tags), dict(out.fieldsBool), out.time
('alerts', 'host=a,', {'host': 'a'}, {'t_high': True}, 10)
"""

from __future__ import annotations

import math
from typing import Any, Mapping

import numpy as np

from google.protobuf.message import DecodeError

from . import udf_pb2
from .numbers_only import BatchNumbers, NumbersRequest

__all__ = ["BadPoint", "Batch", "Point", "new_point", "set_fields"]

_PbPoint = udf_pb2.Point
_PbRequest = udf_pb2.Request


class BadPoint(ValueError):
    """A point the handler cannot use: logged (rate-limited), counted, skipped.

    Raise it from ``Handler.point`` or ``Handler.batch`` with a short reason
    that names the problem and quotes the offending value. The first line
    of the message is the rate-limiting key, so keep values after a colon
    or in the rest of the message consistent.
    """


def _decode(request_cls: type, raw: bytes):
    """The point in the point request ``raw``, decoded as ``request_cls`` (full, or numbers only)."""
    try:
        return request_cls.FromString(raw).point
    except DecodeError as exc:
        raise BadPoint(f"undecodable point request: {exc}") from exc


class Point:
    """One point from Kapacitor.

    Parameters
    ----------
    msg
        The protobuf ``udf_pb2.Point``, or ``None`` to decode it from
        ``raw`` on first use.
    raw
        The serialized ``Request`` it came in. ``Handler.forward`` sends
        these bytes on as they are, and a handler that never looks inside a
        point (a router, a sampler) never pays for decoding it.

    Notes
    -----
    Mutating ``msg`` and then calling ``forward`` sends the original bytes;
    build a new point with :func:`new_point` (or ``emit(p.msg)``) instead.
    """

    __slots__ = ("_msg", "raw", "_fields", "_nums")

    def __init__(self, msg: _PbPoint | None = None, raw: bytes | None = None):
        if msg is None and raw is None:
            raise ValueError("Point needs a message or its bytes")
        self._msg = msg
        self.raw = raw
        self._fields = None
        self._nums = None

    @property
    def msg(self) -> _PbPoint:
        """The protobuf point (decoded on first access).

        Raises
        ------
        BadPoint
            If the bytes do not decode as a point request.
        """
        msg = self._msg
        if msg is None:
            msg = self._msg = _decode(_PbRequest, self.raw)
        return msg

    def numeric(self):
        """The point's ``time``, ``group``, ``fieldsDouble`` and ``fieldsInt``, decoded at the lowest cost.

        The full message if it is decoded already, else a message of just
        those fields (tags, strings and booleans are not decoded). Raises
        :class:`BadPoint` for bytes that do not decode.
        """
        return self._numbers()

    def _numbers(self):
        """Whatever holds fieldsDouble/fieldsInt at the lowest decoding cost."""
        m = self._msg
        if m is None:
            m = self._nums
            if m is None:
                m = self._nums = _decode(NumbersRequest, self.raw)
        return m

    @property
    def name(self) -> str:
        """Measurement name."""
        return self.msg.name

    @property
    def group(self) -> str:
        """Kapacitor group ID, the per-entity state key (``''`` when ungrouped)."""
        return self.msg.group

    @property
    def time(self) -> int:
        """Timestamp in nanoseconds since the epoch."""
        return self.msg.time

    @property
    def tags(self) -> dict[str, str]:
        """Tags as a new dict."""
        return dict(self.msg.tags)

    def tag(self, key: str, default: str | None = None) -> str | None:
        """One tag value, e.g. the entity ``p.tag("device_id")``."""
        return self.msg.tags.get(key, default)

    @property
    def fields(self) -> dict[str, Any]:
        """All fields in one dict, whatever their Kapacitor type (cached)."""
        if self._fields is None:
            m = self.msg
            f = dict(m.fieldsDouble)
            if m.fieldsInt:
                f.update(m.fieldsInt)
            if m.fieldsString:
                f.update(m.fieldsString)
            if m.fieldsBool:
                f.update(m.fieldsBool)
            self._fields = f
        return self._fields

    def number(self, field: str) -> float:
        """A numeric field as a float, or :class:`BadPoint` saying why not.

        Missing fields, strings, booleans and NaN are all bad points.
        """
        m = self._numbers()
        value = m.fieldsDouble.get(field)
        if value is None:
            value = m.fieldsInt.get(field)
            if value is None:
                raise BadPoint(self._why_missing(field))
            return float(value)
        if value != value:
            raise BadPoint(f"field {field!r} is NaN")
        return value

    def _why_missing(self, field: str) -> str:
        m = self.msg
        if field in m.fieldsString:
            return f"field {field!r} is a string, not a number: {m.fieldsString[field]!r}"
        if field in m.fieldsBool:
            return f"field {field!r} is a bool, not a number: {m.fieldsBool[field]!r}"
        known = ", ".join(sorted(self.fields)) or "none"
        return f"missing field {field!r} (fields: {known})"

    def __repr__(self) -> str:
        return f"Point(name={self.name!r}, group={self.group!r}, time={self.time}, fields={self.fields!r})"


class Batch:
    """The points of one batch, with its metadata.

    Attributes
    ----------
    name, group, tags, by_name
        From ``BeginBatch`` (tags as a dict).
    tmax
        From ``EndBatch``: the batch's end time in nanoseconds.
    points
        The :class:`Point` list in arrival order.

    Examples
    --------
    >>> from udfs.agent import udf_pb2
    >>> b = Batch(udf_pb2.BeginBatch(name="m", group="g", tags={"d": "1"}))
    >>> for t, v in [(1, 2.0), (2, 4.0)]:
    ...     b.points.append(Point(udf_pb2.Point(time=t, fieldsDouble={"x": v})))
    >>> b.points.append(Point(udf_pb2.Point(time=3, fieldsInt={"x": 6})))
    >>> b.column("x").tolist(), b.times().tolist()
    ([2.0, 4.0, 6.0], [1, 2, 3])
    """

    __slots__ = ("name", "group", "tags", "by_name", "tmax", "begin", "_raws", "_points", "_numbers")

    def __init__(self, begin: udf_pb2.BeginBatch):
        self.begin = begin
        self.name = begin.name
        self.group = begin.group
        self.tags = dict(begin.tags)
        self.by_name = begin.byName
        self.tmax = 0
        # The agent appends each point's bytes as they come; Point objects are
        # made only if a handler asks for ``points`` (columns never need them).
        self._raws: list[bytes] = []
        self._points: list[Point] | None = None
        self._numbers = None

    @property
    def points(self) -> list[Point]:
        """The :class:`Point` list in arrival order."""
        if self._points is None:
            self._points = [Point(None, raw) for raw in self._raws]
        return self._points

    @points.setter
    def points(self, points: list[Point]) -> None:
        self._points = points
        self._numbers = None

    def __len__(self) -> int:
        return len(self._raws) if self._points is None else len(self._points)

    def _decoded(self):
        """Every point's time and numeric fields, decoded in one call from the bytes they came in
        (None when a point has no bytes or they do not decode: then points are read one by one)."""
        if self._numbers is None:
            raws = self._raws if self._points is None else [p.raw for p in self._points]
            decoded = False
            if raws and all(type(r) is bytes for r in raws):
                try:
                    decoded = BatchNumbers.FromString(b"".join(raws)).point
                except DecodeError:
                    pass
            self._numbers = decoded if decoded is not False and len(decoded) == len(raws) else False
        return self._numbers or None

    def times(self) -> np.ndarray:
        """Point times as an int64 array (ns)."""
        decoded = self._decoded()
        if decoded is None:
            return np.fromiter((p.msg.time for p in self.points), dtype=np.int64, count=len(self))
        return np.array([m.time for m in decoded], dtype=np.int64)

    def column(self, field: str) -> np.ndarray:
        """One numeric field as a float64 array, NaN where missing or not numeric.

        Vectorised statistics can then drop or count NaNs in one step instead
        of checking every point in Python.
        """
        decoded = self._decoded()
        if decoded is None:
            return np.fromiter((_number_or_nan(p, field) for p in self.points), dtype=np.float64, count=len(self))
        nan = math.nan
        values = [m.fieldsDouble.get(field, nan) for m in decoded]
        column = np.array(values, dtype=np.float64)
        missing = np.flatnonzero(np.isnan(column))
        for i in missing.tolist():  # an integer field, or none: rare, so looked up only here
            value = decoded[i].fieldsInt.get(field)
            if value is not None:
                column[i] = value
        return column

    def __repr__(self) -> str:
        return f"Batch(name={self.name!r}, group={self.group!r}, points={len(self.points)}, tmax={self.tmax})"


def _number_or_nan(p: Point, field: str) -> float:
    try:
        msg = p._numbers()
    except BadPoint:
        return math.nan
    value = msg.fieldsDouble.get(field)
    if value is None:
        value = msg.fieldsInt.get(field)
        return math.nan if value is None else float(value)
    return value


def set_fields(msg: _PbPoint, fields: Mapping[str, Any]) -> None:
    """Put Python values into the typed field maps of a protobuf point.

    Raises
    ------
    TypeError
        For values of no Kapacitor field type (e.g. None, lists).
    """
    for key, value in fields.items():
        # bool before int: bool is an int subclass.
        if isinstance(value, bool):
            msg.fieldsBool[key] = value
        elif isinstance(value, float):
            msg.fieldsDouble[key] = value
        elif isinstance(value, (int, np.integer)):
            msg.fieldsInt[key] = int(value)
        elif isinstance(value, np.floating):
            msg.fieldsDouble[key] = float(value)
        elif isinstance(value, str):
            msg.fieldsString[key] = value
        elif isinstance(value, np.bool_):
            msg.fieldsBool[key] = bool(value)
        else:
            raise TypeError(f"field {key!r}: cannot send {type(value).__name__} {value!r} to Kapacitor")


def new_point(
    like: Point | Batch | None = None,
    fields: Mapping[str, Any] | None = None,
    *,
    time: int | None = None,
    name: str | None = None,
    tags: Mapping[str, str] | None = None,
) -> _PbPoint:
    """Build an output point that keeps the series identity of an input.

    Parameters
    ----------
    like
        Point or batch whose name, group, tags, dimensions, database and
        retention policy are copied (dimensions/database only from a point).
    fields
        Output fields; the Kapacitor type follows the Python type.
    time
        Nanoseconds; defaults to the input point's time (a batch's ``tmax``).
    name
        Measurement name override.
    tags
        Tags added to (or replacing) the copied ones.
    """
    out = _PbPoint()
    if isinstance(like, Point):
        src = like.msg
        out.name = src.name
        out.database = src.database
        out.retentionPolicy = src.retentionPolicy
        out.group = src.group
        out.dimensions.extend(src.dimensions)
        out.tags.update(src.tags)
        out.byName = src.byName
        out.time = src.time
    elif isinstance(like, Batch):
        out.name = like.name
        out.group = like.group
        out.tags.update(like.tags)
        out.byName = like.by_name
        out.time = like.tmax
    if name is not None:
        out.name = name
    if time is not None:
        out.time = time
    if tags:
        out.tags.update(tags)
    if fields:
        set_fields(out, fields)
    return out
