"""The predict UDF over the real protocol, in process mode, against a model store on disk."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from agent.udf_client import run_process_udf
from udfs.agent import encode_frame, udf_pb2
from udfs.learn import ModelStore, TrainConfig, Trainer

ROOT = Path(__file__).resolve().parents[2]


def _request(**kwargs) -> bytes:
    return encode_frame(udf_pb2.Request(**kwargs).SerializeToString())


def _point(device, t, **fields):
    p = udf_pb2.Point(time=t, name="power_readings", group=f"device_id={device},", tags={"device_id": device, "site": "a"},
                      dimensions=["device_id"])
    for k, v in fields.items():
        p.fieldsDouble[k] = v
    return p


def test_each_point_comes_back_with_its_entitys_prediction(tmp_path, monkeypatch):
    monkeypatch.setenv("TICKML_MODEL_ROOT", str(tmp_path))  # the service's setting: model_dir must be inside
    rng = np.random.default_rng(1)
    trainer = Trainer(TrainConfig("voltage,current", "power", algorithm="linear"), ModelStore(tmp_path / "power"),
                      fleet_retrain_every=0)  # no fleet model: pm-2 has nothing to answer it
    v, i = rng.uniform(220, 240, 80), rng.uniform(5, 15, 80)
    assert trainer.train_window("pm-1", {"voltage": v, "current": i, "power": 2 * v + 50 * i}).deployed

    init = udf_pb2.InitRequest(taskID="t", nodeID="predict2")
    init.options.add(name="model", values=[udf_pb2.OptionValue(type=udf_pb2.STRING, stringValue="power")])
    init.options.add(name="model_dir", values=[udf_pb2.OptionValue(type=udf_pb2.STRING, stringValue=str(tmp_path))])
    stdin = _request(init=init)
    stdin += _request(point=_point("pm-1", 10, voltage=230.0, current=10.0))
    stdin += _request(point=_point("pm-2", 11, voltage=230.0, current=10.0))  # no model, no fleet model
    stdin += _request(point=_point("pm-1", 12, voltage=231.0))  # lacks current
    stdin += _request(point=_point("pm-1", 13, voltage=225.0, current=12.0))
    responses, log = run_process_udf("udfs.predict", stdin, cwd=ROOT)
    assert [r.WhichOneof("message") for r in responses] == ["init", "point", "point"]
    assert responses[0].init.success, responses[0].init.error
    first, second = responses[1].point, responses[2].point
    # The input point, as it came, with the prediction's fields added.
    assert (first.time, first.name, first.group, list(first.dimensions)) == (10, "power_readings", "device_id=pm-1,",
                                                                              ["device_id"])
    assert dict(first.tags) == {"device_id": "pm-1", "site": "a"}
    assert first.fieldsDouble["voltage"] == 230.0
    assert abs(first.fieldsDouble["Hyperprediction"] - (2 * 230 + 50 * 10)) < 1e-6
    assert abs(second.fieldsDouble["Hyperprediction"] - (2 * 225 + 50 * 12)) < 1e-6
    assert first.fieldsString["Answeredby"] == "entity" and first.fieldsString["Algokey"] == "pm-1"
    assert first.fieldsString["Inputdata"] == "230.0,10.0" and first.fieldsString["Fieldnames"] == "voltage,current"
    assert first.fieldsInt["Modelversion"] == 1 and first.fieldsInt["Islogistic"] == 0
    assert "Probability1" not in first.fieldsDouble
    assert "no model yet" in log and "pm-2" in log
    assert "lacks field 'current'" in log


def test_nan_and_non_positive_inputs_are_bad_points_not_errors(tmp_path, monkeypatch):
    monkeypatch.setenv("TICKML_MODEL_ROOT", str(tmp_path))
    rng = np.random.default_rng(2)
    trainer = Trainer(TrainConfig("voltage,current", "power", algorithm="linear", transformtype="log-log"),
                      ModelStore(tmp_path / "power"), fleet_retrain_every=0)
    v, i = rng.uniform(220, 240, 80), rng.uniform(5, 15, 80)
    assert trainer.train_window("pm-1", {"voltage": v, "current": i, "power": 2 * v * i}).deployed
    init = udf_pb2.InitRequest(taskID="t", nodeID="predict3")
    init.options.add(name="model", values=[udf_pb2.OptionValue(type=udf_pb2.STRING, stringValue="power")])
    init.options.add(name="model_dir", values=[udf_pb2.OptionValue(type=udf_pb2.STRING, stringValue=str(tmp_path))])
    stdin = _request(init=init)
    stdin += _request(point=_point("pm-1", 10, voltage=float("nan"), current=10.0))
    stdin += _request(point=_point("pm-1", 11, voltage=230.0, current=-1.0))
    stdin += _request(point=_point("pm-1", 12, voltage=230.0, current=float("inf")))
    stdin += _request(point=_point("pm-1", 13, voltage=230.0, current=10.0))
    responses, log = run_process_udf("udfs.predict", stdin, cwd=ROOT)
    assert [r.WhichOneof("message") for r in responses] == ["init", "point"]
    assert responses[1].point.time == 13
    # Counted as bad points (the log is rate-limited per reason, so the first one is quoted).
    assert "bad_points=3, handler_errors=0" in log and "voltage=nan" in log and "Traceback" not in log


def _handler(tmp_path, refresh_ns: int):
    """A predict handler of this process (no agent around it) over the store at ``tmp_path / 'power'``."""
    from types import SimpleNamespace

    from udfs.predict.handler import Predict

    handler = Predict()
    handler.opts = SimpleNamespace(model="power", model_dir=str(tmp_path), max_resident=100, refresh=refresh_ns,
                                   fallback="fleet")
    handler.setup()
    return handler


def _answers(handler, *points) -> list[udf_pb2.Point]:
    from udfs.agent.framing import FrameDecoder
    from udfs.agent.points import Point

    for p in points:
        handler.point(Point(raw=udf_pb2.Request(point=p).SerializeToString()))
    frames = FrameDecoder().feed(bytes(handler.pending_output))
    handler.pending_output.clear()
    return [udf_pb2.Response.FromString(f).point for f in frames]


def test_a_group_keeps_its_answer_for_refresh_then_asks_the_store_again(tmp_path, monkeypatch):
    """The handler remembers each group's answering model as long as the store would (``refresh``): a champion
    replaced on disk answers from the first point after that, and an entity the fleet answered is answered by
    its own model once it has one."""
    from udfs.confine import Root
    from udfs.learn import paths

    # The root the UDF service's environment gave this process when it started, as that service would set it.
    monkeypatch.setattr(paths, "MODEL_ROOT", Root("model root", str(tmp_path), paths.MODEL_ROOT_VARIABLE))
    rng = np.random.default_rng(3)
    trainer = Trainer(TrainConfig("voltage,current", "power", algorithm="linear"), ModelStore(tmp_path / "power"),
                      fleet_retrain_every=1)

    def train(device, slope):
        v, i = rng.uniform(220, 240, 80), rng.uniform(5, 15, 80)
        return trainer.train_window(device, {"voltage": v, "current": i, "power": slope * v + 50 * i})

    assert train("pm-1", 2.0).deployed
    now = [1000.0]
    monkeypatch.setattr("udfs.predict.handler.time.monotonic", lambda: now[0])
    handler = _handler(tmp_path, refresh_ns=10**9)
    handler.predictor.store.clock = lambda: now[0]  # one clock for the handler and its store
    first, fleet = _answers(handler, _point("pm-1", 1, voltage=230.0, current=10.0),
                            _point("pm-2", 2, voltage=230.0, current=10.0))
    assert (first.fieldsInt["Modelversion"], first.fieldsString["Answeredby"]) == (1, "entity")
    assert fleet.fieldsString["Answeredby"] == "fleet"

    # pm-1's champion replaced on disk (a steeper relation), pm-2's first: within the second, the answers held.
    assert train("pm-1", 4.0).deployed and train("pm-2", 3.0).deployed
    now[0] += 0.5
    held, still_fleet = _answers(handler, _point("pm-1", 3, voltage=230.0, current=10.0),
                                 _point("pm-2", 4, voltage=230.0, current=10.0))
    assert held.fieldsInt["Modelversion"] == 1 and still_fleet.fieldsString["Answeredby"] == "fleet"

    # A second after the answers were asked: the store is asked again, and it reads its disk again.
    now[0] += 0.6
    new, own = _answers(handler, _point("pm-1", 5, voltage=230.0, current=10.0),
                        _point("pm-2", 6, voltage=230.0, current=10.0))
    assert new.fieldsInt["Modelversion"] == 2 and abs(new.fieldsDouble["Hyperprediction"] - (4 * 230 + 500)) < 1e-6
    assert (own.fieldsString["Answeredby"], own.fieldsString["Algokey"]) == ("entity", "pm-2")
    assert abs(own.fieldsDouble["Hyperprediction"] - (3 * 230 + 500)) < 1e-6
