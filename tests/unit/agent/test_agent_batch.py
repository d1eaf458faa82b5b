"""Batch edges: the handler gets whole batches and answers with batches."""

from .udf_client import opt

from udfs.agent import udf_pb2


def batch_requests(group, values, t0=0):
    tags = {"device_id": group}
    reqs = [udf_pb2.Request(begin=udf_pb2.BeginBatch(name="m", group=f"device_id={group},", tags=tags,
                                                      size=len(values)))]
    for i, v in enumerate(values):
        p = udf_pb2.Point(time=t0 + i, tags=tags, group=f"device_id={group},")
        if isinstance(v, float):
            p.fieldsDouble["value"] = v
        elif isinstance(v, str):
            p.fieldsString["value"] = v
        reqs.append(udf_pb2.Request(point=p))
    reqs.append(udf_pb2.Request(end=udf_pb2.EndBatch(name="m", group=f"device_id={group},", tags=tags,
                                                      tmax=t0 + 100)))
    return reqs


def test_batches_in_batches_out(socket_udf):
    udf = socket_udf(handler="BatchStats")
    c = udf.connect()
    c.send(udf_pb2.Request(info=udf_pb2.InfoRequest()))
    info = c.recv_kind("info").info
    assert info.wants == udf_pb2.BATCH and info.provides == udf_pb2.BATCH
    c.init_ok(opt("field", "value"))
    c.send(*batch_requests("a", [1.0, 2.0, 6.0]),
           *batch_requests("b", ["x", "y"]),                     # nothing numeric: bad batch, skipped
           *batch_requests("c", [10.0, "oops", 20.0], t0=1000))
    c.close_write()
    out = c.recv_all()
    kinds = [r.WhichOneof("message") for r in out]
    assert kinds == ["begin", "point", "end"] * 2
    begin, point, end = out[:3]
    assert (begin.begin.name, begin.begin.group, dict(begin.begin.tags), begin.begin.size) \
        == ("m", "device_id=a,", {"device_id": "a"}, 1)
    assert point.point.fieldsDouble["mean"] == 3.0 and point.point.fieldsInt["n"] == 3
    assert end.end.tmax == 100 and point.point.time == 100
    c_point = out[4].point
    assert (c_point.fieldsDouble["mean"], c_point.fieldsInt["n"], c_point.fieldsInt["skipped"]) == (15.0, 2, 1)
    assert out[5].end.tmax == 1100
    assert "batch without numbers in field 'value'" in udf.wait_log("batches_in=3")


def test_column_and_times_decoded_in_one_call_equal_point_by_point():
    import math

    import numpy as np

    from udfs.agent.points import Batch, Point

    msgs = [udf_pb2.Point(time=t, tags={"d": "1"}, fieldsDouble={"x": 1.5 * t} if t % 3 else {},
                          fieldsInt={"x": t} if t % 3 == 0 else {"n": t}, fieldsString={"s": "on"})
            for t in range(1, 8)]
    msgs.append(udf_pb2.Point(time=99, fieldsString={"x": "not a number"}))
    raw = Batch(udf_pb2.BeginBatch(name="m", group="g"))
    raw.points = [Point(None, udf_pb2.Request(point=m).SerializeToString()) for m in msgs]
    decoded = Batch(udf_pb2.BeginBatch(name="m", group="g"))
    decoded.points = [Point(m) for m in msgs]      # no bytes: read one by one
    assert raw._decoded() is not None and decoded._decoded() is None
    for field in ("x", "n", "missing"):
        a, b = raw.column(field), decoded.column(field)
        assert [v if not math.isnan(v) else "nan" for v in a] == [v if not math.isnan(v) else "nan" for v in b]
    assert raw.times().tolist() == decoded.times().tolist() == [1, 2, 3, 4, 5, 6, 7, 99]
    assert np.isnan(raw.column("x")[-1]) and raw.column("x")[2] == 3.0
    broken = Batch(udf_pb2.BeginBatch(name="m", group="g"))
    broken.points = [Point(None, b"\x8a\x01\x05\x08")]  # a truncated point: decoded one by one, NaN
    assert np.isnan(broken.column("x")).all()
