"""Varint framing: lengths over 127 and 16383, splits, several per read, bad prefixes."""

import random

import pytest
from .udf_client import frame, varint

from udfs.agent.framing import FrameDecoder, FramingError, encode_frame, encode_varint


@pytest.mark.parametrize("n", [0, 1, 127, 128, 300, 16383, 16384, 2_097_151, 2_097_152, 2**32, 2**63])
def test_encode_varint_matches_independent_encoder(n):
    assert encode_varint(n) == varint(n)


@pytest.mark.parametrize("size", [0, 1, 127, 128, 16383, 16384, 70_000])
def test_length_prefix_sizes_round_trip(size):
    body = bytes(random.Random(size).getrandbits(8) for _ in range(size))
    decoder = FrameDecoder()
    assert decoder.feed(encode_frame(body)) == [body]
    assert decoder.buffered == 0
    prefix_len = len(varint(size))
    assert prefix_len == (1 if size < 128 else 2 if size < 16384 else 3)


def test_message_split_at_every_byte():
    bodies = [b"a" * 5, b"b" * 200, b"c" * 20_000]
    stream = b"".join(frame(b) for b in bodies)
    for cut in range(len(stream) + 1):
        decoder = FrameDecoder()
        got = decoder.feed(stream[:cut]) + decoder.feed(stream[cut:])
        assert got == bodies, cut


def test_one_byte_at_a_time():
    bodies = [b"x" * n for n in (0, 1, 128, 16384)]
    decoder = FrameDecoder()
    got = []
    for byte in b"".join(frame(b) for b in bodies):
        got += decoder.feed(bytes([byte]))
    assert got == bodies


def test_several_messages_in_one_read_random_chunks():
    rng = random.Random(7)
    bodies = [bytes(rng.getrandbits(8) for _ in range(rng.choice([0, 3, 127, 128, 500, 16384])))
              for _ in range(200)]
    stream = b"".join(frame(b) for b in bodies)
    decoder = FrameDecoder()
    got, pos = [], 0
    while pos < len(stream):
        step = rng.choice([1, 2, 7, 100, 4096, 65536])
        got += decoder.feed(stream[pos:pos + step])
        pos += step
    assert got == bodies
    whole = FrameDecoder().feed(stream)
    assert whole == bodies


def test_oversized_prefix_is_refused_before_the_body_arrives():
    decoder = FrameDecoder(max_message_size=1000)
    with pytest.raises(FramingError, match="1001 bytes exceeds the maximum of 1000"):
        decoder.feed(varint(1001))


def test_oversized_prefix_refused_on_partial_varint():
    decoder = FrameDecoder(max_message_size=100)
    # 0xff 0xff ... is already above 100 after two bytes, whatever follows.
    with pytest.raises(FramingError, match="exceeds the maximum"):
        decoder.feed(b"\xff\xff")


def test_malformed_varint():
    decoder = FrameDecoder()
    with pytest.raises(FramingError, match="malformed length prefix"):
        decoder.feed(b"\x80" * 11)


def test_incomplete_varint_waits():
    decoder = FrameDecoder()
    assert decoder.feed(b"\x80") == []
    assert decoder.feed(b"\x01" + b"z" * 127) == []
    assert decoder.feed(b"z") == [b"z" * 128]


def test_messages_before_a_bad_prefix_are_kept():
    decoder = FrameDecoder(max_message_size=100)
    with pytest.raises(FramingError) as err:
        decoder.feed(frame(b"ok") + frame(b"fine") + varint(101))
    assert err.value.messages == [b"ok", b"fine"]
