"""Varint length framing of Kapacitor's UDF protocol.

Kapacitor writes each protobuf message after its length as an unsigned
varint (Go's ``binary.PutUvarint``), with nothing between messages. The
decoder here is fed whatever a ``recv`` returned and gives back every whole
message in its buffer, so one system call can deliver thousands of points.

Examples
--------
>>> encode_varint(300)
b'\\xac\\x02'
>>> frame = encode_frame(b'hello')
>>> frame
b'\\x05hello'
>>> decoder = FrameDecoder()
>>> decoder.feed(frame[:3])
[]
>>> decoder.feed(frame[3:] + encode_frame(b'') + encode_frame(b'x' * 200)[:2])
[b'hello', b'']
>>> len(decoder.feed(b'x' * 200)[0])
200
"""

from __future__ import annotations

__all__ = [
    "DEFAULT_MAX_MESSAGE_SIZE",
    "FrameDecoder",
    "FramingError",
    "encode_frame",
    "encode_varint",
]

#: Largest message accepted by default. Kapacitor's biggest requests are
#: batches' points one at a time and snapshots, far below this; a larger
#: prefix means a corrupted or foreign stream, not a big message.
DEFAULT_MAX_MESSAGE_SIZE = 64 * 1024 * 1024

# A uint64 varint is at most 10 bytes; more is malformed by definition.
_MAX_VARINT_BYTES = 10

# Most frames are shorter than 16 KiB, so their prefixes come from a table
# instead of being built byte by byte for every message written (the handler
# indexes it directly where a call per output point shows in profiles).
SMALL_VARINTS = tuple(
    bytes((n,)) if n < 0x80 else bytes(((n & 0x7F) | 0x80, n >> 7))
    for n in range(1 << 14)
)


class FramingError(Exception):
    """The byte stream cannot be split into messages any more.

    After this error the stream position is lost, so the connection must be
    answered with an ``ErrorResponse`` and closed.

    Attributes
    ----------
    messages : list of bytes
        Whole messages that preceded the bad prefix in the same chunk; they
        are good and should still be handled.
    """

    def __init__(self, message: str, messages: list[bytes] | None = None):
        super().__init__(message)
        self.messages = messages or []


def encode_varint(value: int) -> bytes:
    """Encode a non-negative integer as an unsigned varint.

    Parameters
    ----------
    value
        The integer, ``0 <= value < 2**64``.

    Examples
    --------
    >>> encode_varint(0), encode_varint(127), encode_varint(128)
    (b'\\x00', b'\\x7f', b'\\x80\\x01')
    >>> encode_varint(16384)
    b'\\x80\\x80\\x01'
    """
    if value < 16384:
        if value < 0:
            raise ValueError(f"varint must be non-negative, got {value}")
        return SMALL_VARINTS[value]
    out = bytearray()
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def encode_frame(message: bytes) -> bytes:
    """Prefix serialized message bytes with their varint length.

    Examples
    --------
    >>> encode_frame(b'ab')
    b'\\x02ab'
    """
    return encode_varint(len(message)) + message


class FrameDecoder:
    """Split a byte stream into varint-length-prefixed messages.

    Parameters
    ----------
    max_message_size
        A length prefix above this raises :class:`FramingError` as soon as
        the prefix is complete, before any of the body is buffered.

    Notes
    -----
    Not thread-safe; each connection owns one decoder.

    Examples
    --------
    >>> d = FrameDecoder(max_message_size=10)
    >>> d.feed(b'\\x02ok\\x01!')
    [b'ok', b'!']
    >>> d.feed(b'\\x0b')
    Traceback (most recent call last):
    ...
    udfs.agent.framing.FramingError: message length 11 bytes exceeds the maximum of 10 bytes
    """

    def __init__(self, max_message_size: int = DEFAULT_MAX_MESSAGE_SIZE):
        self.max_message_size = max_message_size
        self._buf = bytearray()

    @property
    def buffered(self) -> int:
        """Number of bytes held that do not yet form a whole message."""
        return len(self._buf)

    def feed(self, data: bytes) -> list[bytes]:
        """Add bytes read from the stream; return the messages now complete.

        Parameters
        ----------
        data
            Any chunk of the stream, possibly empty, possibly ending in the
            middle of a length prefix or of a message.

        Returns
        -------
        list of bytes
            Message bodies (without prefixes) in stream order.

        Raises
        ------
        FramingError
            On a malformed varint (more than 10 bytes) or a length above
            ``max_message_size``; its ``messages`` holds the whole messages
            decoded before the bad prefix.
        """
        buf = self._buf
        buf += data
        end = len(buf)
        pos = 0
        limit = self.max_message_size
        messages = []
        append = messages.append
        try:
            while pos < end:
                # Inline fast paths: points are shorter than 128 bytes, or than 16 KiB.
                first = buf[pos]
                if first < 0x80:
                    size = first
                    start = pos + 1
                elif pos + 1 < end and buf[pos + 1] < 0x80:
                    size = (first & 0x7F) | (buf[pos + 1] << 7)
                    start = pos + 2
                else:
                    size, start = self._read_long_varint(buf, pos, end)
                    if start < 0:
                        break
                if size > limit:
                    raise FramingError(
                        f"message length {size} bytes exceeds the maximum of {limit} bytes"
                    )
                stop = start + size
                if stop > end:
                    break
                append(bytes(buf[start:stop]))
                pos = stop
        except FramingError as exc:
            exc.messages = messages
            raise
        if pos:
            del buf[:pos]
        return messages

    def _read_long_varint(self, buf: bytearray, pos: int, end: int) -> tuple[int, int]:
        """Return ``(value, position after it)``, or ``(0, -1)`` if incomplete."""
        value = 0
        shift = 0
        for i in range(pos, min(end, pos + _MAX_VARINT_BYTES)):
            byte = buf[i]
            value |= (byte & 0x7F) << shift
            if byte < 0x80:
                return value, i + 1
            shift += 7
            # Refuse early: no need to wait for the last prefix byte to know.
            if value > self.max_message_size:
                raise FramingError(
                    f"message length of at least {value} bytes exceeds the maximum "
                    f"of {self.max_message_size} bytes"
                )
        if end - pos >= _MAX_VARINT_BYTES:
            raise FramingError(
                "malformed length prefix: varint longer than 10 bytes "
                f"(starts {bytes(buf[pos:pos + _MAX_VARINT_BYTES]).hex()})"
            )
        return 0, -1
