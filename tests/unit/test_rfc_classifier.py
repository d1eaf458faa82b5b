"""rfc_classifier over the real protocol, in process mode (as Kapacitor runs it)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from agent.udf_client import run_process_udf
from udfs.agent import encode_frame, udf_pb2
from udfs.rfc_classifier import train_forest

ROOT = Path(__file__).resolve().parents[2]


def _request(**kwargs) -> bytes:
    return encode_frame(udf_pb2.Request(**kwargs).SerializeToString())


def _point(t, **fields):
    p = udf_pb2.Point(time=t, name="rooms", group="device_id=r1,", tags={"device_id": "r1"})
    for k, v in fields.items():
        if isinstance(v, str):
            p.fieldsString[k] = v
        else:
            p.fieldsDouble[k] = v
    return p


def test_batch_in_prediction_per_point_out_and_bad_points_left_out():
    pairs = [(15.0, 40.0), (22.0, 40.0), (31.0, 30.0)]
    stdin = _request(init=udf_pb2.InitRequest(taskID="t", nodeID="n"))
    stdin += _request(begin=udf_pb2.BeginBatch(name="rooms", group="device_id=r1,", tags={"device_id": "r1"}, size=4))
    for k, (t, h) in enumerate(pairs):
        stdin += _request(point=_point(k, temperature=t, humidity=h))
    stdin += _request(point=_point(9, temperature="hot", humidity=50.0))
    stdin += _request(end=udf_pb2.EndBatch(name="rooms", group="device_id=r1,", tmax=9))
    responses, log = run_process_udf("udfs.rfc_classifier", stdin, cwd=ROOT)
    kinds = [r.WhichOneof("message") for r in responses]
    assert kinds == ["init", "begin", "point", "point", "point", "end"]
    assert responses[0].init.success, responses[0].init.error
    forest = train_forest("training_data_sets/room_climate.csv", ("temperature", "humidity"), "label", 50, 0)
    expected = forest.predict_proba(np.array(pairs))
    for r, proba in zip(responses[2:5], expected):
        assert r.point.fieldsInt["prediction"] == int(forest.classes_[proba.argmax()])
        assert r.point.fieldsDouble["prediction_probability"] == proba.max()
    assert [r.point.fieldsInt["prediction"] for r in responses[2:5]] == [1, 0, 1]
    assert "1 point(s) of the batch left out" in log


def test_imputer_fills_missing_features_with_the_training_mean():
    """The FIREMAN imputer + classifier: a missing humidity is the training mean, and counted."""
    from udfs.rfc_classifier import column_fill

    init = udf_pb2.InitRequest(taskID="t", nodeID="n")
    init.options.add(name="impute", values=[udf_pb2.OptionValue(type=udf_pb2.STRING, stringValue="mean")])
    stdin = _request(init=init)
    stdin += _request(begin=udf_pb2.BeginBatch(name="rooms", group="device_id=r1,", tags={"device_id": "r1"}, size=2))
    stdin += _request(point=_point(1, temperature=22.0))  # humidity missing
    stdin += _request(point=_point(2, temperature=30.0, humidity=40.0))
    stdin += _request(end=udf_pb2.EndBatch(name="rooms", group="device_id=r1,", tmax=2))
    responses, log = run_process_udf("udfs.rfc_classifier", stdin, cwd=ROOT)
    assert [r.WhichOneof("message") for r in responses] == ["init", "begin", "point", "point", "end"]
    features = ("temperature", "humidity")
    fill = column_fill("training_data_sets/room_climate.csv", features, "label", "mean")
    forest = train_forest("training_data_sets/room_climate.csv", features, "label", 50, 0, "mean")
    expected = forest.predict_proba(np.array([[22.0, fill[1]], [30.0, 40.0]]))
    first, second = responses[2].point, responses[3].point
    assert first.fieldsInt["prediction_imputed"] == 1 and second.fieldsInt["prediction_imputed"] == 0
    assert "humidity" not in first.fieldsDouble  # the data as it came; the prediction next to it
    for point, proba in zip((first, second), expected):
        assert point.fieldsInt["prediction"] == int(forest.classes_[proba.argmax()])
        assert point.fieldsDouble["prediction_probability"] == proba.max()
