"""Model documents and the store: JSON round trips, schema, bounds, sharing, snapshots."""

import json
import os

import numpy as np
import pytest

from udfs.learn import ModelStore, TrainConfig, Trainer, decode, encode
from udfs.learn.document import validate


@pytest.fixture
def rng():
    """A fixed generator: every test is deterministic."""
    return np.random.default_rng(12345)


def trained_doc(rng, key="dev-1", algorithm="", islogistic=0, features=None, transformtype=""):
    features = features or [f"Field{i}_preprocessed_AnomProb" for i in range(5)]
    X = rng.uniform(1, 100, size=(500, len(features)))
    z = (X - 50) @ np.linspace(0.05, -0.03, len(features))
    y = (z + rng.normal(0, 0.5, 500) > 0).astype(float) if islogistic else 20 + z + rng.normal(0, 0.1, 500)
    cols = {f: X[:, i] for i, f in enumerate(features)} | {"target": y}
    config = TrainConfig(features, "target", islogistic=islogistic, algorithm=algorithm,
                         modelruns=3, transformtype=transformtype)
    outcome = Trainer(config, ModelStore(), fleet_retrain_every=0).train_window(key, cols)
    assert outcome.deployed, outcome
    return outcome.challenger, X


@pytest.mark.parametrize("islogistic", [0, 1])
def test_linear_and_logistic_documents_under_1kb(rng, islogistic):
    doc, _ = trained_doc(rng, key="AC000W020486693", islogistic=islogistic)
    assert len(encode(doc)) < 1024, len(encode(doc))


@pytest.mark.parametrize("algorithm, islogistic, transformtype", [
    ("linear", 0, ""), ("ridge", 0, "log-log"), ("logistic", 1, "lin-log"),
    ("gradient_boosting", 0, ""), ("gradient_boosting", 1, ""), ("neural_network", 0, "log-lin"),
    ("neural_network", 1, ""), ("auto", 0, ""),
])
def test_store_disk_load_gives_same_predictions(rng, tmp_path, algorithm, islogistic, transformtype):
    doc, X = trained_doc(rng, algorithm=algorithm, islogistic=islogistic, transformtype=transformtype)
    writer = ModelStore(tmp_path)
    writer.put(doc)
    before = writer.model("dev-1").predict_rows(X)
    reader = ModelStore(tmp_path)  # a fresh process: nothing resident
    after = reader.model("dev-1").predict_rows(X)
    np.testing.assert_array_equal(before, after)
    assert reader.document("dev-1") == json.loads(json.dumps(doc))
    singles = [reader.model("dev-1").predict_row(list(row)) for row in X[:20]]
    np.testing.assert_allclose(singles, after[:20], rtol=1e-12)


def test_unknown_schema_version_is_a_clear_error(rng, tmp_path):
    doc, _ = trained_doc(rng)
    with pytest.raises(ValueError, match="schema version 2; this tickml reads version 1"):
        decode(encode(dict(doc, schema=2)))
    with pytest.raises(ValueError, match="schema version 2"):
        ModelStore().put(dict(doc, schema=2))
    with pytest.raises(ValueError, match="params missing"):
        validate({k: v for k, v in doc.items() if k != "params"})
    with pytest.raises(ValueError, match="not valid JSON"):
        decode(b"{nope")


def test_unreadable_file_is_skipped_not_fatal(rng, tmp_path):
    doc, _ = trained_doc(rng)
    store = ModelStore(tmp_path)
    (tmp_path / "dev-1.json").write_text(json.dumps(dict(doc, schema=99)))
    assert store.model("dev-1") is None


def test_bounded_store_spills_and_reloads(rng, tmp_path):
    doc, X = trained_doc(rng)
    store = ModelStore(tmp_path, max_resident=3)
    expected = {}
    for i in range(10):
        d = dict(doc, key=f"dev/{i}", params=dict(doc["params"], intercept=float(i)))
        store.put(d)
        expected[d["key"]] = store.model(d["key"]).predict_rows(X[:5])
        assert store.resident <= 3
    assert len(store) == 10 and store.keys() == sorted(expected)
    for key, values in expected.items():
        np.testing.assert_array_equal(store.model(key).predict_rows(X[:5]), values)
        assert store.resident <= 3
    assert sorted(os.listdir(tmp_path)) == sorted(f"dev%2F{i}.json" for i in range(10))


def test_long_and_odd_keys(rng, tmp_path):
    doc, _ = trained_doc(rng)
    keys = ["x" * 300, "a b/c?d", ".hidden", "#hash", "ünï"]
    store = ModelStore(tmp_path)
    for key in keys:
        store.put(dict(doc, key=key))
    assert ModelStore(tmp_path).keys() == sorted(keys)
    with pytest.raises(ValueError, match="non-empty"):
        store.put(dict(doc, key=""))


def test_memory_only_store_cannot_be_bounded():
    with pytest.raises(ValueError, match="max_resident needs a directory"):
        ModelStore(max_resident=10)


def test_predict_process_notices_newer_model_at_bounded_rate(rng, tmp_path):
    doc, X = trained_doc(rng)
    now = [0.0]
    trainer_store = ModelStore(tmp_path)
    predict_store = ModelStore(tmp_path, refresh_seconds=5.0, clock=lambda: now[0])
    trainer_store.put(doc)
    assert predict_store.model("dev-1").version == 1
    trainer_store.put(dict(doc, version=2, params=dict(doc["params"], intercept=123.0)))
    now[0] = 4.9
    assert predict_store.model("dev-1").version == 1  # within the interval: no stat
    now[0] = 5.0
    assert predict_store.model("dev-1").version == 2
    assert predict_store.model("new") is None
    trainer_store.put(dict(doc, key="new"))
    assert predict_store.model("new") is None  # absence is remembered too
    now[0] = 10.0
    assert predict_store.model("new") is not None
    trainer_store.delete("dev-1")
    now[0] = 15.0
    assert predict_store.model("dev-1") is None


def test_no_temporary_files_left_and_atomic_replace(rng, tmp_path):
    doc, _ = trained_doc(rng)
    store = ModelStore(tmp_path, fsync=True)
    for v in range(1, 4):
        store.put(dict(doc, version=v))
    assert os.listdir(tmp_path) == ["dev-1.json"]
    assert decode((tmp_path / "dev-1.json").read_bytes())["version"] == 3


def test_export_import_keeps_newer_versions(rng, tmp_path):
    doc, X = trained_doc(rng)
    source = ModelStore()
    source.put(doc)
    source.put(dict(doc, key="dev-2", version=5))
    state = json.loads(json.dumps(source.export_state()))
    target = ModelStore(tmp_path / "restored")
    target.put(dict(doc, key="dev-2", version=7, params=dict(doc["params"], intercept=0.0)))
    assert target.import_state(state) == 1
    assert target.model("dev-2").version == 7  # disk was newer than the snapshot
    np.testing.assert_array_equal(target.model("dev-1").predict_rows(X), source.model("dev-1").predict_rows(X))


def test_bad_snapshot_changes_nothing(rng):
    doc, _ = trained_doc(rng)
    store = ModelStore()
    state = {"schema": 1, "kind": "tickml.learn.store", "models": [doc, dict(doc, key="b", schema=3)]}
    with pytest.raises(ValueError, match="schema version 3"):
        store.import_state(state)
    assert store.keys() == []
    with pytest.raises(ValueError, match="not a model store snapshot"):
        store.import_state({"models": []})


def test_count_stops_at_its_limit_and_reads_no_model(rng, tmp_path, monkeypatch):
    store = ModelStore(tmp_path, max_resident=10)
    doc, _ = trained_doc(rng)
    for i in range(50):
        store.put(dict(doc, key=f"dev-{i}"))
    (tmp_path / ".dev-x.json.1.2.tmp").write_bytes(b"{")  # a writer's temporary file is not a model
    monkeypatch.setattr(ModelStore, "_load", lambda *a: pytest.fail("count() read a model"))
    assert store.count(limit=100) == 50
    assert store.count(limit=10) == 11  # "more than 10", without scanning on
    assert ModelStore().count(limit=5) == 0


def test_trainer_snapshot_without_models_keeps_the_rest(rng):
    trainer = Trainer(TrainConfig(["x"], "y", algorithm="auto"), ModelStore(), fleet_retrain_every=0)
    x = rng.random(40)
    trainer.train_window("d", {"x": x, "y": 2 * x + rng.normal(0, 0.1, 40)})
    state = trainer.export_state(models=False)
    assert state["store"]["models"] == [] and state["counts"] == {"deployed": 1} and "fleet_prior" in state
