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
_STRING_MAP = 10  # Point.fieldsString
_BOOL_MAP = 12  # Point.fieldsBool
_pack_double = struct.Struct("<d").pack


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

    __slots__ = ("_tag", "_entry_head")

    def __init__(self, name: str):
        self._tag, self._entry_head = _key_prefix(_STRING_MAP, name, 0x12)

    def encode(self, value: str) -> bytes:
        data = value.encode()
        entry = self._entry_head + encode_varint(len(data)) + data
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
