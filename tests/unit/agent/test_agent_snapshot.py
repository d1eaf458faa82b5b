"""Snapshot/restore: versioned JSON round trip; bad snapshots refused with state unchanged."""

import json

from .udf_client import point_req

from udfs.agent import udf_pb2

SNAPSHOT = udf_pb2.Request(snapshot=udf_pb2.SnapshotRequest())


def restore(data: bytes):
    return udf_pb2.Request(restore=udf_pb2.RestoreRequest(snapshot=data))


def counts(responses):
    return [(r.point.group, r.point.fieldsInt["count"]) for r in responses if r.WhichOneof("message") == "point"]


def test_round_trip_into_a_new_connection(socket_udf):
    udf = socket_udf(handler="Counter")
    a = udf.connect()
    a.init_ok()
    a.send(point_req(1, group="g=a,"), point_req(2, group="g=a,"), point_req(3, group="g=b,"), SNAPSHOT)
    responses = [a.recv() for _ in range(4)]
    assert counts(responses[:3]) == [("g=a,", 1), ("g=a,", 2), ("g=b,", 1)]
    snap = responses[3].snapshot.snapshot
    doc = json.loads(snap)
    assert doc["schema"] == 2 and doc["handler"] == "Counter"
    assert doc["state"]["entities"] == [["g=a,", 2, {"n": 2}], ["g=b,", 3, {"n": 1}]]

    b = udf.connect()                   # as after a Kapacitor restart
    b.init_ok()
    b.send(restore(snap))
    resp = b.recv_kind("restore").restore
    assert resp.success, resp.error
    b.send(point_req(4, group="g=a,"), point_req(5, group="g=c,"))
    b.close_write()
    assert counts(b.recv_all()) == [("g=a,", 3), ("g=c,", 1)]


def test_bad_snapshots_are_refused_and_state_is_unchanged(socket_udf):
    udf = socket_udf(handler="Counter")
    c = udf.connect()
    c.init_ok()
    c.send(point_req(1, group="g=a,"))
    assert counts([c.recv()]) == [("g=a,", 1)]
    bad = {
        b"\xff\x00 not json": "snapshot is not JSON",
        b"[1, 2]": "not a tickml snapshot",
        json.dumps({"schema": 1, "handler": "Counter", "state": {"entities": []}}).encode():
            "snapshot has state schema 1; Counter reads schema 2",
        json.dumps({"schema": 2, "handler": "Other", "state": {}}).encode():
            "snapshot belongs to handler 'Other', not 'Counter'",
        json.dumps({"schema": 2, "handler": "Counter", "state": {"entities": [["g=a,", "x"]]}}).encode():
            "entity store snapshot is malformed",
    }
    for data, message in bad.items():
        c.send(restore(data))
        resp = c.recv_kind("restore").restore
        assert not resp.success
        assert message in resp.error, resp.error
    c.send(point_req(2, group="g=a,"))
    c.close_write()
    assert counts(c.recv_all()) == [("g=a,", 2)]


def test_empty_snapshot_restores_nothing(socket_udf):
    c = socket_udf(handler="Counter").connect()
    c.init_ok()
    c.send(restore(b""))
    assert c.recv_kind("restore").restore.success


def test_stateless_handler_snapshot(socket_udf):
    c = socket_udf("py_classifier").connect()
    c.init_ok()
    c.send(SNAPSHOT)
    snap = c.recv_kind("snapshot").snapshot.snapshot
    assert json.loads(snap) == {"schema": 1, "handler": "py_classifier", "state": None}
    c.send(restore(snap))
    assert c.recv_kind("restore").restore.success


def _moving_average(stdin: bytes, max_message_size: int):
    from .udf_client import REPO, run_process_udf

    return run_process_udf("udfs.moving_average", stdin, REPO, args=("--max-message-size", str(max_message_size)))


def test_a_snapshot_too_large_to_restore_keeps_the_newest_entities_that_fit():
    from .udf_client import frame, init_req, opt

    limit = 8192
    init = frame(init_req(opt("field", "value"), opt("size", 5)))
    points = b"".join(frame(point_req(t, group=f"device_id=d{t:03d},", value=float(t))) for t in range(400))
    responses, log = _moving_average(init + points + frame(SNAPSHOT), limit)
    snap = responses[-1].snapshot.snapshot
    assert 0 < len(snap) <= limit - 1024
    kept = [e[0] for e in json.loads(snap)["state"]["entities"]]
    assert kept and kept == [f"device_id=d{t:03d}," for t in range(400 - len(kept), 400)]  # the newest
    assert "snapshot too large to restore" in log
    # And it restores into a UDF that reads no larger messages.
    responses, _ = _moving_average(init + frame(restore(snap)) + frame(point_req(500, group=kept[-1], value=1.0)), limit)
    assert responses[1].restore.success, responses[1].restore.error
    assert responses[2].point.fieldsDouble["value_moving_average"] == (399.0 + 1.0) / 2
