"""``@anomaly()`` beyond the conformance suite: its scores are the detector's, its snapshots carry what each
entity learned, and the shipped task runs it with the defaults the benchmark measured."""

from __future__ import annotations

import json
import math
import re

import numpy as np

import golden
from inprocess import InProcessUdf, run

from tickml.paths import ROOT
from udfs.agent import udf_pb2
from udfs.anomaly import Anomaly
from udfs.detect import Detector, Params

SECOND = 10**9
T0 = 1_700_000_000 * SECOND


def series(n: int, seed: int, spike_at: int | None = None) -> np.ndarray:
    """A noisy cycle of 25 points, with one spike."""
    rng = np.random.default_rng(seed)
    values = 20 + 2 * np.sin(2 * np.pi * np.arange(n) / 25) + rng.normal(0, 0.1, n)
    if spike_at is not None:
        values[spike_at] += 15
    return values


def points(entity: str, values: np.ndarray, offset: int = 0) -> list[dict]:
    return [{"time": T0 + (offset + k) * SECOND, "tags": {"device_id": entity}, "fields": {"value": float(v)}}
            for k, v in enumerate(values)]


def answers(responses) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    for item in golden.items(responses):
        out.setdefault(item["tags"]["device_id"], []).append(item["fields"])
    return out


def test_each_entitys_scores_are_its_own_detectors_scores():
    a, b = series(400, 1, spike_at=300), series(400, 2) * 10
    items = [item for pair in zip(points("a", a), points("b", b)) for item in pair]
    responses, conn = run(Anomaly, {"field": "value"}, items)
    got = answers(responses)
    for entity, values in (("a", a), ("b", b)):
        det = Detector()
        want = [det.update(v, T0 + k * SECOND) for k, v in enumerate(values)]
        assert [f["anomaly_score"] for f in got[entity]] == [s.anomaly_score for s in want]
        assert [f["anomaly_learning"] for f in got[entity]] == [s.learning for s in want]
        assert [f.get("anomaly_expected") for f in got[entity]] == [s.expected for s in want]
    assert got["a"][300]["anomaly_score"] >= 0.5, "the spike is an alarm"
    assert conn.stats["bad_points"] == 0


def snapshot_after(options: dict, items: list[dict]) -> bytes:
    conn = InProcessUdf(Anomaly)
    assert conn.init(options).success
    conn.send(golden.requests(items))
    taken = conn.request(udf_pb2.Request(snapshot=udf_pb2.SnapshotRequest()), "snapshot")[-1].snapshot.snapshot
    conn.finish()
    return taken


def test_a_restored_task_keeps_what_each_entity_learned_and_scores_with_its_new_sensitivity():
    values = series(600, 3, spike_at=450)
    taken = snapshot_after({"field": "value"}, points("a", values[:300]))

    resumed = InProcessUdf(Anomaly)
    assert resumed.init({"field": "value", "sensitivity": 2.0}).success
    restore = udf_pb2.Request(restore=udf_pb2.RestoreRequest(snapshot=taken))
    assert resumed.request(restore, "restore")[-1].restore.success
    resumed.send(golden.requests(points("a", values[300:], offset=300)))
    got = answers(resumed.finish())["a"]

    det = Detector()
    for k, v in enumerate(values[:300]):
        det.update(v, T0 + k * SECOND)
    det = Detector.restore({**det.state(), "params": Params(sensitivity=2.0).to_dict()})
    want = [det.update(v, T0 + (300 + k) * SECOND).anomaly_score for k, v in enumerate(values[300:])]
    assert [f["anomaly_score"] for f in got] == want
    assert not any(f["anomaly_learning"] for f in got), "the restored entity learned again from nothing"


def test_a_snapshot_of_an_entity_with_a_full_memory_is_under_16_kb():
    values = series(3000, 4)
    taken = snapshot_after({"field": "value"}, points("a", values))
    assert b"device_id=a" in taken
    assert len(taken) < 16 * 1024 + 512, len(taken)  # the envelope's few hundred bytes beside the state


def test_an_entity_silent_longer_than_idle_learns_again():
    values = series(200, 5)
    items = points("a", values) + points("b", values[:1], offset=200 + 2 * 3600)
    items += points("a", values[:1], offset=200 + 2 * 3600 + 1)
    conn = InProcessUdf(Anomaly)
    idle = udf_pb2.Option(name="idle", values=[udf_pb2.OptionValue(type=udf_pb2.DURATION, durationValue=3600 * SECOND)])
    conn.client.send(udf_pb2.Request(init=udf_pb2.InitRequest(options=[idle], taskID="t", nodeID="anomaly")))
    assert conn.client.recv_kind("init", timeout=60).init.success
    conn.send(golden.requests(items))
    got = answers(conn.finish())
    assert not got["a"][199]["anomaly_learning"]
    assert got["a"][-1]["anomaly_learning"], "a, silent two hours of stream time with idle 1h, was kept"


def test_the_shipped_task_runs_the_detector_with_the_defaults_the_benchmark_measured():
    text = (ROOT / "tick_scripts" / "device_anomaly.tick").read_text()
    declared = dict(re.findall(r"^var (\w+) = (.+)$", text, re.M))
    defaults = Params()
    assert int(declared["learning"]) == defaults.learning
    assert math.isclose(float(declared["sensitivity"]), defaults.sensitivity)
    assert ".learning(learning)" in text and ".sensitivity(sensitivity)" in text
    assert {o.name: o.default for o in Anomaly.options}["learning"] == defaults.learning


def test_an_entity_whose_state_cannot_be_read_learns_afresh_and_the_others_go_on(caplog):
    values = series(400, 6)
    taken = json.loads(snapshot_after({"field": "value"}, points("a", values[:300]) + points("b", values[:300])))
    state = taken["state"] if "state" in taken else taken
    entities = state["entities"]
    entities[0][2] = {**entities[0][2], "version": 1}  # a state this code does not read
    resumed = InProcessUdf(Anomaly)
    assert resumed.init({"field": "value"}).success
    restore = udf_pb2.Request(restore=udf_pb2.RestoreRequest(snapshot=json.dumps(taken).encode()))
    assert resumed.request(restore, "restore")[-1].restore.success
    resumed.send(golden.requests(points("a", values[300:310], offset=300) + points("b", values[300:310], offset=300)))
    got = answers(resumed.finish())
    first, second = entities[0][0], entities[1][0]
    fresh, kept = ("a", "b") if "device_id=a" in first else ("b", "a")
    assert all(f["anomaly_learning"] for f in got[fresh]), "the unreadable entity did not start afresh"
    assert not any(f["anomaly_learning"] for f in got[kept])
    assert "1 of 2 entities' detector states not restored" in caplog.text
