"""Keepalives are answered while the handler is busy for longer than Kapacitor's timeout."""

import time

import pytest
from .udf_client import opt, point_req

from udfs.agent import udf_pb2

KAPACITOR_TIMEOUT = 1.0     # what kapacitor.conf's `timeout` would be in this test


@pytest.mark.parametrize("busy", [False, True], ids=["sleeping", "cpu-bound"])
def test_keepalive_answered_while_handler_works(socket_udf, busy):
    c = socket_udf(handler="Sleepy").connect()
    c.init_ok(opt("pause", ("dur", 3 * 10**9)), opt("busy", busy))
    start = time.monotonic()
    c.send(point_req(42, x=1.0))
    latencies = []
    point_at = None
    # Kapacitor sends a keepalive every timeout/2; we send them faster.
    for i in range(1, 16):
        sent = time.monotonic()
        c.send(udf_pb2.Request(keepalive=udf_pb2.KeepaliveRequest(time=i)))
        while True:
            resp = c.recv(timeout=KAPACITOR_TIMEOUT)
            if resp.WhichOneof("message") == "keepalive":
                assert resp.keepalive.time == i
                latencies.append(time.monotonic() - sent)
                break
            assert resp.point.time == 42
            point_at = time.monotonic() - start
        time.sleep(0.2)
    if point_at is None:
        point_at = time.monotonic() - start
        assert c.recv(timeout=5).point.time == 42
    # The handler really was busy for longer than the timeout ...
    assert point_at >= 3 * KAPACITOR_TIMEOUT - 0.1
    # ... while every keepalive came back far within it.
    assert len(latencies) == 15
    assert max(latencies) < 0.2, latencies
    assert sorted(latencies)[len(latencies) // 2] < 0.05, latencies
