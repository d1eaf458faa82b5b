"""Hostile input, fuzzed with Hypothesis, against every shipped UDF on a real socket.

Each UDF runs as the stack runs it (``python -m udfs.<module> --socket``),
one server for all examples of a test. Whatever arrives (random bytes,
truncated or corrupted requests, points of any shape, option values of any
type), the server must stay up and the next connection must be served.
"""

from __future__ import annotations

import math
import socket
import tempfile
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from udfs import registry
from udfs.agent import udf_pb2

from .udf_client import Client, SocketUdf, frame, init_req, opt, varint

# The models of train and predict go to a folder of their own, which the UDF service
# (not a task) names as the model root.
MODEL_ROOT = tempfile.mkdtemp(prefix="tickml-fuzz-")
# Every registered UDF, with the options its shipped TICKscript gives it (the fuzzing
# below reaches the handler only if init succeeds). Train and predict name the same
# model, in MODEL_ROOT: the server's default model_dir.
UDFS = {udf.name: ([opt(k, v) for k, v in udf.sample_options.items()], udf.wants == "batch")
        for udf in registry.UDFS}
FAST = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@pytest.fixture(scope="module", params=sorted(UDFS))
def served(request):
    with tempfile.TemporaryDirectory(prefix="tickml-") as folder:
        import sys
        udf = SocketUdf([sys.executable, "-m", f"udfs.{request.param}"], Path(folder) / "u.sock",
                        Path(folder) / "u.stderr", env={"TICKML_MODEL_ROOT": MODEL_ROOT})
        yield request.param, udf
        alive = udf.proc.poll() is None
        log = udf.stderr()
        udf.stop()
        assert alive, f"{request.param} died:\n{log[-3000:]}"
        assert "internal error" not in log, log[-3000:]


def _still_serves(udf) -> None:
    assert udf.proc.poll() is None, f"the UDF server died:\n{udf.stderr()[-3000:]}"
    c = Client.connect(udf.path)
    try:
        c.send(udf_pb2.Request(info=udf_pb2.InfoRequest()))
        assert c.recv_kind("info", timeout=10)
    finally:
        c.close()


def _send_and_close(udf, data: bytes) -> None:
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(5)
    s.connect(udf.path)
    try:
        s.sendall(data)
        s.shutdown(socket.SHUT_WR)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and s.recv(65536):
            pass
    except OSError:
        pass  # the server may close first on a broken stream: that is its right
    finally:
        s.close()


def _init(name: str) -> bytes:
    options, _ = UDFS[name]
    return frame(init_req(*options, task="fuzz", node=name))


def test_the_shipped_options_init(served):
    """The fuzzing below reaches the handlers only if init succeeds with these options."""
    name, udf = served
    options, _ = UDFS[name]
    c = Client.connect(udf.path)
    try:
        c.send(init_req(*options, task="fuzz", node=name))
        response = c.recv_kind("init", timeout=10).init
    finally:
        c.close()
    assert response.success, response.error


# -- random bytes -------------------------------------------------------------

@FAST
@given(data=st.binary(max_size=4096))
def test_random_bytes(served, data):
    name, udf = served
    _send_and_close(udf, data)
    _send_and_close(udf, _init(name) + data)
    _still_serves(udf)


@FAST
@given(cut=st.integers(min_value=1, max_value=200), flip=st.integers(min_value=0, max_value=255),
       at=st.integers(min_value=0, max_value=199))
def test_truncated_and_corrupted_requests(served, cut, flip, at):
    name, udf = served
    good = _init(name) + frame(udf_pb2.Request(point=udf_pb2.Point(
        time=1, name="m", group="device_id=d1,", tags={"device_id": "d1"}, dimensions=["device_id"],
        fieldsDouble={"value": 1.0, "voltage": 230.0, "current": 10.0, "power": 2300.0})))
    corrupted = bytearray(good)
    corrupted[at % len(corrupted)] ^= flip
    _send_and_close(udf, good[: max(1, len(good) - cut)])
    _send_and_close(udf, bytes(corrupted))
    # A length prefix larger than anything the UDF accepts.
    _send_and_close(udf, varint(1 << 40) + b"\x00" * 16)
    _still_serves(udf)


# -- random points ------------------------------------------------------------

names = st.sampled_from(["value", "voltage", "current", "power", "temperature", "x", "", "ünï", "a" * 300])
numbers = st.floats(allow_nan=True, allow_infinity=True) | st.sampled_from([0.0, -0.0, 1e308, -1e308, math.nan])
points = st.builds(
    lambda time_ns, group, tags, doubles, ints, strings, bools: udf_pb2.Point(
        time=time_ns, name="fuzz", group=group, tags=tags, dimensions=sorted(tags)[:2],
        fieldsDouble=doubles, fieldsInt=ints, fieldsString=strings, fieldsBool=bools),
    time_ns=st.integers(min_value=-(1 << 63), max_value=(1 << 63) - 1),
    group=st.text(max_size=50),
    tags=st.dictionaries(st.text(max_size=20), st.text(max_size=100), max_size=40),
    doubles=st.dictionaries(names, numbers, max_size=6),
    ints=st.dictionaries(names, st.integers(min_value=-(1 << 63), max_value=(1 << 63) - 1), max_size=4),
    strings=st.dictionaries(names, st.text(max_size=2000), max_size=3),
    bools=st.dictionaries(names, st.booleans(), max_size=2),
)


@FAST
@given(batch=st.lists(points, min_size=1, max_size=30))
def test_random_points(served, batch):
    name, udf = served
    _, wants_batches = UDFS[name]
    body = _init(name)
    if wants_batches:
        body += frame(udf_pb2.Request(begin=udf_pb2.BeginBatch(name="fuzz", group=batch[0].group, size=len(batch))))
    body += b"".join(frame(udf_pb2.Request(point=p)) for p in batch)
    if wants_batches:
        body += frame(udf_pb2.Request(end=udf_pb2.EndBatch(name="fuzz", group=batch[0].group, tmax=batch[-1].time)))
    body += frame(udf_pb2.Request(keepalive=udf_pb2.KeepaliveRequest(time=7)))
    _send_and_close(udf, body)
    _still_serves(udf)


# -- random options -----------------------------------------------------------

option_values = st.one_of(
    st.builds(lambda v: udf_pb2.OptionValue(type=udf_pb2.BOOL, boolValue=v), st.booleans()),
    st.builds(lambda v: udf_pb2.OptionValue(type=udf_pb2.INT, intValue=v),
              st.integers(min_value=-(1 << 63), max_value=(1 << 63) - 1)),
    st.builds(lambda v: udf_pb2.OptionValue(type=udf_pb2.DOUBLE, doubleValue=v), numbers),
    st.builds(lambda v: udf_pb2.OptionValue(type=udf_pb2.STRING, stringValue=v), st.text(max_size=200)),
    st.builds(lambda v: udf_pb2.OptionValue(type=udf_pb2.DURATION, durationValue=v),
              st.integers(min_value=-(1 << 63), max_value=(1 << 63) - 1)),
)
option_names = st.sampled_from(["field", "size", "as", "fields", "types", "independentvariables",
                                "dependentvariable", "algorithm", "modelruns", "holdout_fraction", "metric",
                                "shrinkage", "model", "model_dir", "threshold", "low", "high", "features",
                                "columns", "impute", "data_set", "bogus"])


@FAST
@given(options=st.lists(st.builds(lambda n, vs: udf_pb2.Option(name=n, values=vs), option_names,
                                  st.lists(option_values, max_size=3)), max_size=8))
def test_random_options_fail_init_with_a_message_or_succeed(served, options):
    name, udf = served
    c = Client.connect(udf.path)
    try:
        c.send(udf_pb2.Request(init=udf_pb2.InitRequest(options=options, taskID="fuzz", nodeID="opts")))
        response = c.recv_kind("init", timeout=10).init
        assert response.success or response.error.strip(), "init failed without saying why"
    finally:
        c.close()
    _still_serves(udf)
