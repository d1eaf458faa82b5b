"""Serialized points assembled from parts, for handlers on a hot path.

Serialized protobuf messages merge when concatenated: map entries add up and
a later scalar wins. A handler that answers every point with the point plus
a few fields can therefore send ``point_bytes(p.raw)`` followed by the
encoded new fields, never decoding and re-encoding the whole point. The
field numbers are those of ``udf.proto``'s ``Point``.
"""

from __future__ import annotations

import struct

from .framing import encode_varint

_DOUBLE_MAP = 8  # Point.fieldsDouble
_INT_MAP = 9  # Point.fieldsInt
_STRING_MAP = 10  # Point.fieldsString
_BOOL_MAP = 12  # Point.fieldsBool
_pack_double = struct.Struct("<d").pack
_SHORT = 0x20  # strings shorter than this many bytes take StringField's table


def point_bytes(raw_request: bytes) -> bytes:
    """The serialized ``Point`` inside a serialized point ``Request`` (field 17).

    >>> from udfs.agent import udf_pb2
    >>> req = udf_pb2.Request(point=udf_pb2.Point(name="m", time=5))
    >>> udf_pb2.Point.FromString(point_bytes(req.SerializeToString())).name
    'm'
    """
    if raw_request[:2] != b"\x8a\x01":
        raise ValueError("not a point request")
    i, shift, length = 2, 0, 0
    while True:
        byte = raw_request[i]
        length |= (byte & 0x7F) << shift
        i += 1
        if byte < 0x80:
            return raw_request[i:i + length]
        shift += 7


def _key_prefix(map_field: int, name: str, value_tag: int) -> tuple[bytes, bytes]:
    """The map field's tag, and a map entry's bytes up to its value."""
    key = name.encode()
    entry_head = b"\x0a" + encode_varint(len(key)) + key + bytes([value_tag])
    return bytes([(map_field << 3) | 2]), entry_head


class DoubleField:
    """A ``fieldsDouble`` entry of a fixed name, encoded per value in one pack.

    >>> from udfs.agent import udf_pb2
    >>> udf_pb2.Point.FromString(DoubleField("x").encode(2.5)).fieldsDouble["x"]
    2.5
    """

    __slots__ = ("_head",)

    def __init__(self, name: str):
        tag, entry_head = _key_prefix(_DOUBLE_MAP, name, 0x11)
        self._head = tag + encode_varint(len(entry_head) + 8) + entry_head

    def encode(self, value: float) -> bytes:
        return self._head + _pack_double(value)


class StringField:
    """A ``fieldsString`` entry of a fixed name.

    >>> from udfs.agent import udf_pb2
    >>> udf_pb2.Point.FromString(StringField("s").encode("1.0,2.5")).fieldsString["s"]
    '1.0,2.5'
    """

    __slots__ = ("_tag", "_entry_head", "_short_head")

    def __init__(self, name: str):
        self._tag, self._entry_head = _key_prefix(_STRING_MAP, name, 0x12)
        # Everything before the string's bytes, per string length below _SHORT: built once, so encoding a
        # short value (Inputdata's few numbers) is one lookup and one concatenation.
        self._short_head = tuple(self._tag + encode_varint(len(self._entry_head) + 1 + n) + self._entry_head +
                                 bytes((n,)) for n in range(_SHORT))

    def encode(self, value: str) -> bytes:
        data = value.encode()
        n = len(data)
        if n < _SHORT:  # the common short string: both lengths one byte each, looked up, no call
            return self._short_head[n] + data
        entry = self._entry_head + encode_varint(n) + data
        return self._tag + encode_varint(len(entry)) + entry


class BoolField:
    """A ``fieldsBool`` entry of a fixed name; both encodings are built once.

    >>> from udfs.agent import udf_pb2
    >>> udf_pb2.Point.FromString(BoolField("b").encode(True)).fieldsBool["b"]
    True
    """

    __slots__ = ("_false", "_true")

    def __init__(self, name: str):
        tag, entry_head = _key_prefix(_BOOL_MAP, name, 0x10)
        head = tag + encode_varint(len(entry_head) + 1) + entry_head
        self._false, self._true = head + b"\x00", head + b"\x01"

    def encode(self, value: bool) -> bytes:
        return self._true if value else self._false


class IntField:
    """A ``fieldsInt`` entry of a fixed name (an int64: negative values as their two's complement).

    >>> from udfs.agent import udf_pb2
    >>> [udf_pb2.Point.FromString(IntField("n").encode(v)).fieldsInt["n"] for v in (0, 300, -2)]
    [0, 300, -2]
    """

    __slots__ = ("_tag", "_entry_head")

    def __init__(self, name: str):
        self._tag, self._entry_head = _key_prefix(_INT_MAP, name, 0x10)

    def encode(self, value: int) -> bytes:
        entry = self._entry_head + encode_varint(value & 0xFFFF_FFFF_FFFF_FFFF)
        return self._tag + encode_varint(len(entry)) + entry


_FIELD_TYPES = {float: DoubleField, str: StringField, bool: BoolField, int: IntField}


class PointFields:
    """Output fields as serialized ``Point`` map entries, each in the map ``points.set_fields`` puts it in,
    with one encoder per field name and type, built once.

    For a handler that emits one point of many fields per batch (train): appended to the serialized point
    that carries the name, tags and time, they decode as one point with those fields.

    >>> from udfs.agent import udf_pb2
    >>> fields = PointFields()
    >>> p = udf_pb2.Point.FromString(fields.encode({"a": 1.5, "b": "x", "c": 3, "d": True}))
    >>> p.fieldsDouble["a"], p.fieldsString["b"], p.fieldsInt["c"], p.fieldsBool["d"]
    (1.5, 'x', 3, True)
    >>> fields.encode({"n": 2**63}) is None   # not an int64: set_fields says why
    True
    """

    #: Encoders kept; past it the table starts again (field names come from code, so it is never reached).
    LIMIT = 4096

    def __init__(self):
        self._encoders: dict[tuple[str, type], object] = {}

    def encode(self, fields) -> bytes | None:
        """The entries of ``fields``; None when a value is of no plain type here (a numpy scalar, an int
        outside int64: build the point with ``points.new_point`` instead, which converts or refuses it)."""
        encoders = self._encoders
        parts = []
        for name, value in fields.items():
            kind = type(value)
            encode = encoders.get((name, kind))
            if encode is None:
                field_type = _FIELD_TYPES.get(kind)
                if field_type is None:
                    return None
                if len(encoders) >= self.LIMIT:
                    encoders.clear()
                encode = encoders[name, kind] = field_type(name).encode
            if kind is int and not -0x8000_0000_0000_0000 <= value <= 0x7FFF_FFFF_FFFF_FFFF:
                return None
            parts.append(encode(value))
        return b"".join(parts)
