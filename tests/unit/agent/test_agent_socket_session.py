"""Full sessions against ``python -m udfs.<name> --socket`` in a subprocess."""

import math
import os
import re
import signal
import socket
import stat
import time

from .udf_client import INFO, init_req, opt, point_req, varint

from udfs.agent import udf_pb2


def temps(responses):
    return [r.point.fieldsDouble["temperature"] for r in responses if r.WhichOneof("message") == "point"]


def test_py_classifier_info_init_and_points(socket_udf):
    udf = socket_udf("py_classifier")
    info_conn = udf.connect()           # Kapacitor's start-up connection: info only
    info_conn.send(INFO)
    info = info_conn.recv_kind("info").info
    assert info.wants == udf_pb2.STREAM and info.provides == udf_pb2.STREAM
    assert {k: list(v.valueTypes) for k, v in info.options.items()} == {
        "field": [udf_pb2.STRING], "low": [udf_pb2.DOUBLE], "high": [udf_pb2.DOUBLE]}
    info_conn.close_write()
    assert info_conn.recv_all() == []

    c = udf.connect()
    c.init_ok()                          # defaults: temperature, 20, 25
    sent = [point_req(i, temperature=t) for i, t in enumerate([19.9, 20.0, 22.0, 25.0, 25.1, -3.0, 40.0])]
    c.send(*sent)
    c.close_write()
    out = c.recv_all()
    assert temps(out) == [19.9, 25.1, -3.0, 40.0]
    # Passed through unchanged, identity and all.
    assert out[0].point == sent[0].point and out[2].point == sent[5].point


def test_int_fields_and_custom_options(socket_udf):
    c = socket_udf("py_classifier").connect()
    c.init_ok(opt("field", "t"), opt("low", 0.0), opt("high", 10.0))
    c.send(point_req(1, t=5), point_req(2, t=11), point_req(3, t=-1), point_req(4, temperature=50.0))
    c.close_write()
    out = c.recv_all()
    assert [r.point.fieldsInt["t"] for r in out] == [11, -1]


def test_two_concurrent_connections_keep_separate_state(socket_udf):
    udf = socket_udf("py_classifier")
    a, b = udf.connect(), udf.connect()
    a.init_ok()
    b.init_ok(opt("low", 10.0), opt("high", 30.0))
    for i, t in enumerate([5.0, 15.0, 27.0, 35.0]):
        a.send(point_req(i, temperature=t))
        b.send(point_req(i, temperature=t))
    a.close_write()
    b.close_write()
    assert temps(a.recv_all()) == [5.0, 15.0, 27.0, 35.0]
    assert temps(b.recv_all()) == [5.0, 35.0]


def test_stateful_handler_two_connections(socket_udf):
    udf = socket_udf(handler="Counter")
    a, b = udf.connect(), udf.connect()
    a.init_ok()
    b.init_ok()
    a.send(point_req(1, x=1.0), point_req(2, x=1.0))
    b.send(point_req(1, x=1.0))
    a.send(point_req(3, x=1.0))
    a.close_write()
    b.close_write()
    assert [r.point.fieldsInt["count"] for r in a.recv_all()] == [1, 2, 3]
    assert [r.point.fieldsInt["count"] for r in b.recv_all()] == [1]


def test_init_with_bad_options_lists_them_all(socket_udf):
    udf = socket_udf(handler="Strict")
    c = udf.connect()
    c.send(init_req(opt("ratio", 2.0), opt("mode", "slow"), opt("odd", 2), opt("colour", "red"),
                    opt("window", 5)))
    resp = c.recv_kind("init").init
    assert not resp.success
    for needle in ["unknown option 'colour'", "missing required option 'label'", "option 'ratio' must be <= 1.0",
                   "option 'mode' must be one of 'fast', 'exact', got 'slow'", "option 'odd' must be an odd number",
                   "option 'window' must be a duration, got int 5"]:
        assert needle in resp.error
    # Data after a failed init is skipped, not processed with half options.
    c.send(point_req(1, x=1.0))
    c.close_write()
    assert c.recv_all() == []


def test_init_with_good_options_of_every_type(socket_udf):
    c = socket_udf(handler="Strict").connect()
    c.init_ok(opt("label", "L"), opt("ratio", 1), opt("window", ("dur", 60 * 10**9)),
              opt("limit", "y", 2.0), opt("tag", "a"), opt("tag", "b"))
    c.send(point_req(1, x=1.0))
    c.close_write()
    (out,) = c.recv_all()
    p = out.point
    assert (p.fieldsString["label"], p.fieldsDouble["ratio"], p.fieldsInt["window"], p.fieldsString["tags"]) \
        == ("L", 1.0, 60 * 10**9, "a,b")


def test_cross_option_check(socket_udf):
    c = socket_udf("py_classifier").connect()
    c.send(init_req(opt("low", 30.0), opt("high", 25.0)))
    resp = c.recv_kind("init").init
    assert not resp.success
    assert "option 'low' (30.0) must not be above option 'high' (25.0)" in resp.error


def test_unknown_request_type_is_logged_and_the_session_goes_on(socket_udf):
    udf = socket_udf("py_classifier")
    c = udf.connect()
    c.init_ok()
    # Field 7 (length-delimited, empty): not a request type of udf.proto.
    c.send_raw(varint(2) + bytes([7 << 3 | 2, 0]))
    c.send(point_req(1, temperature=30.0))
    c.close_write()
    out = c.recv_all()
    assert temps(out) == [30.0]
    assert "unknown request type: field number 7 is not a request type" in udf.stderr()


def test_oversized_length_prefix_gets_an_error_response_and_close(socket_udf):
    udf = socket_udf("py_classifier")
    c = udf.connect()
    c.init_ok()
    c.send(point_req(1, temperature=30.0))
    c.send_raw(varint(65 * 1024 * 1024))
    out = c.recv_all()
    assert temps(out[:-1]) == [30.0]       # what came before is still delivered
    err = out[-1]
    assert err.WhichOneof("message") == "error"
    assert "68157440 bytes exceeds the maximum of 67108864 bytes" in err.error.error
    # The server itself lives on for other tasks.
    d = udf.connect()
    d.send(INFO)
    assert d.recv_kind("info")


def test_malformed_varint_gets_an_error_response(socket_udf):
    c = socket_udf("py_classifier").connect()
    c.send_raw(b"\x80" * 12)
    (err,) = c.recv_all()
    assert "malformed length prefix" in err.error.error


def test_large_messages_split_across_reads_and_many_in_one_write(socket_udf):
    c = socket_udf("py_classifier").connect()
    c.init_ok()
    big = point_req(1, temperature=30.0, note="n" * 20_000)    # > 16383: 3-byte prefix
    mid = point_req(2, temperature=31.0, note="m" * 200)       # > 127: 2-byte prefix
    data = b"".join(varint(len(r.SerializeToString())) + r.SerializeToString() for r in (big, mid))
    for i in range(0, len(data), 997):                          # cut through prefixes and bodies
        c.send_raw(data[i:i + 997])
        time.sleep(0.001)
    c.send(*[point_req(10 + i, temperature=40.0 + i) for i in range(500)])   # one write, many messages
    c.close_write()
    out = c.recv_all()
    assert len(out) == 502
    assert out[0].point.fieldsString["note"] == "n" * 20_000
    assert out[1].point.fieldsString["note"] == "m" * 200
    assert temps(out[2:]) == [40.0 + i for i in range(500)]


def test_bad_points_are_skipped_counted_and_rate_limited(socket_udf):
    udf = socket_udf("py_classifier")
    c = udf.connect()
    c.init_ok()
    bad = [point_req(1, humidity=1.0), point_req(2, temperature="hot"), point_req(3, temperature=True)]
    bad += [point_req(10 + i, temperature=math.nan) for i in range(100)]
    c.send(*bad)
    c.send_raw(varint(8) + b"\x8a\x01\x05" + b"\xff" * 5)    # a point request that does not decode
    c.send(point_req(200, temperature=30.0))
    c.close_write()
    assert temps(c.recv_all()) == [30.0]
    err = udf.wait_log("bad_points=104")
    assert "missing field 'temperature' (fields: humidity)" in err
    assert "field 'temperature' is a string, not a number: 'hot'" in err
    assert "field 'temperature' is a bool, not a number: True" in err
    assert err.count("field 'temperature' is NaN") == 1     # 100 NaNs, one line
    assert "bad point skipped: undecodable point request" in err
    assert "points_in=105, points_out=1, batches_in=0, bad_points=104" in err


def test_handler_exception_is_caught_and_the_stream_goes_on(socket_udf):
    udf = socket_udf(handler="Raiser")
    c = udf.connect()
    c.init_ok()
    c.send(*[point_req(i, boom=True) for i in range(50)], point_req(99, x=1.0))
    c.close_write()
    (out,) = c.recv_all()
    assert out.point.time == 99
    err = udf.wait_log("handler_errors=50")
    assert "Raiser.point() raised RuntimeError; point skipped: boom requested by the test" in err
    assert err.count("Traceback") == 1          # rate-limited
    assert "points_in=51, points_out=1" in err


def test_socket_mode_stale_file_and_sigterm(socket_udf, short_tmp):
    path = short_tmp / "Counter.sock"
    stale = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    stale.bind(str(path))
    stale.close()                               # leaves a dead socket file behind
    udf = socket_udf(handler="Counter")
    assert udf.proc.poll() is None
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o660
    c = udf.connect()                           # an open connection must not block shutdown
    c.init_ok()
    udf.proc.send_signal(signal.SIGTERM)
    assert udf.proc.wait(10) == 0
    assert not path.exists()
    assert "stopping on SIGTERM" in udf.stderr()


def test_refuses_to_replace_a_regular_file(short_tmp):
    import subprocess
    import sys

    from .udf_client import REPO, udf_env

    path = short_tmp / "not-a-socket"
    path.write_text("keep me")
    proc = subprocess.run([sys.executable, "-m", "udfs.py_classifier", "--socket", str(path)],
                          cwd=REPO, env=udf_env(), capture_output=True, text=True, timeout=30)
    assert proc.returncode == 1
    assert "exists and is not a socket" in proc.stderr
    assert path.read_text() == "keep me"


def test_sigterm_drains_the_points_a_connection_holds(socket_udf):
    udf = socket_udf(handler="Sleepy")
    c = udf.connect()
    c.init_ok(opt("pause", ("dur", 200_000_000)))  # 0.2 s per point
    c.send(*(point_req(time_ns=t) for t in range(5)))
    time.sleep(0.1)                              # the first point is in the handler
    udf.proc.send_signal(signal.SIGTERM)
    answered = [r.point.time for r in c.recv_all(timeout=10) if r.WhichOneof("message") == "point"]
    assert answered == [0, 1, 2, 3, 4]           # nothing read before the signal is lost
    assert udf.proc.wait(10) == 0
    assert "stopping on SIGTERM" in udf.stderr()


def test_a_probe_of_info_closes_at_debug_a_task_at_info_with_its_counts(socket_udf):
    # The task watcher asks every UDF for its Info every second: a line each at INFO (the servers' level)
    # would be most of the log. The test's server logs at DEBUG, so both lines are there, at their levels.
    udf = socket_udf("py_classifier")
    probe = udf.connect()
    probe.send(INFO)
    probe.recv_kind("info")
    probe.close_write()
    assert probe.recv_all() == []
    task = udf.connect()
    task.init_ok()
    task.send(point_req(1, temperature=30.0))
    task.close_write()
    assert len(task.recv_all()) == 1
    # conn 1 is the fixture's check that the server listens, conn 2 the probe; each closes on a thread of its
    # own, in any order.
    def levels():
        return {int(m[2]): m[1] for m in re.finditer(r" (\w+) udfs\.agent\.connection: \[py_classifier conn (\d+)"
                                                    r"[^\]]*\] closed: ", udf.stderr())}
    deadline = time.monotonic() + 10
    while len(levels()) < 3:
        assert time.monotonic() < deadline, udf.stderr()
        time.sleep(0.05)
    assert levels() == {1: "DEBUG", 2: "DEBUG", 3: "INFO"}, udf.stderr()
    assert "task=t1 node=udf1] closed: points_in=1, points_out=1" in udf.stderr()
