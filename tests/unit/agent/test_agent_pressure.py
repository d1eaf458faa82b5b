"""The agent under load: bounded input, a hung handler noticed, answers not held back."""

import socket
import time

from .udf_client import frame, opt, point_req

from udfs.agent import udf_pb2


def keepalive(i):
    return udf_pb2.Request(keepalive=udf_pb2.KeepaliveRequest(time=i))


def answered_within(c, i, timeout):
    """Whether keepalive ``i`` came back within ``timeout`` seconds (other responses are skipped)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            resp = c.recv(timeout=max(0.01, deadline - time.monotonic()))
        except AssertionError:
            return False
        if resp.WhichOneof("message") == "keepalive" and resp.keepalive.time == i:
            return True
    return False


def test_a_hung_handler_stops_answering_keepalives(socket_udf):
    udf = socket_udf(handler="Sleepy", args=("--hang-limit", "1"))
    c = udf.connect()
    c.init_ok(opt("pause", ("dur", 6_000_000_000)))   # one point that takes 6 s: no progress
    c.send(point_req(1))
    time.sleep(0.3)
    c.send(keepalive(1))
    assert answered_within(c, 1, 1.0)                   # busy, but not for long yet
    time.sleep(1.2)
    c.send(keepalive(2))
    assert not answered_within(c, 2, 1.5)               # past the limit: Kapacitor will stop the task
    assert "made no progress" in udf.stderr()


def test_a_busy_handler_that_progresses_keeps_its_task(socket_udf):
    udf = socket_udf(handler="Sleepy", args=("--hang-limit", "1"))
    c = udf.connect()
    c.init_ok(opt("pause", ("dur", 200_000_000)))       # 0.2 s a point, 20 points: 4 s, 4 times the limit
    c.send(*(point_req(t) for t in range(20)))
    for i in range(8):
        time.sleep(0.5)
        c.send(keepalive(i))
        assert answered_within(c, i, 0.5), f"keepalive {i} not answered"
    assert "made no progress" not in udf.stderr()


def test_a_trickle_of_output_is_not_held_behind_a_long_backlog(socket_udf):
    udf = socket_udf(handler="Sparse")
    c = udf.connect()
    c.init_ok(opt("pause", ("dur", 20_000_000)), opt("every", 10))
    sent = time.monotonic()
    c.send(*(point_req(t) for t in range(150)))         # 3 s of work, one output every 0.2 s
    first = c.recv_kind("point", timeout=5)
    delay = time.monotonic() - sent
    assert first.point.time == 9
    assert delay < 1.0, f"the first output took {delay:.2f} s"   # produced at ~0.2 s, held at most 0.1 s more


def test_input_is_bounded_and_reading_pauses_instead(socket_udf):
    udf = socket_udf(handler="Sleepy", args=("--max-queued-bytes", str(256 * 1024)))
    points = b"".join(frame(point_req(t, value=float(t), text="x" * 200)) for t in range(20_000))  # ~5 MB
    raw = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    raw.connect(udf.path)
    # 5 ms a point: 200 points/s. Nothing reads the answers, as from a Kapacitor that is slow too.
    raw.sendall(frame(udf_pb2.Request(init=udf_pb2.InitRequest(options=[opt("pause", ("dur", 5_000_000))]))))
    raw.settimeout(2.0)
    sent = 0
    try:
        while sent < len(points):
            sent += raw.send(points[sent:sent + 65536])
    except (socket.timeout, BlockingIOError):
        pass
    # The UDF stopped reading: far less than everything went in within 2 s.
    assert sent < len(points) / 2, f"{sent} of {len(points)} bytes accepted"
    raw.close()
    udf.proc.kill()  # not a drain of the backlog: that is the SIGTERM tests' business
