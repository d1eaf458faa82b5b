"""Each entity's history beside its champion: bounded, written whole, the pin the trainer honours, rollback to
an earlier version's document, and what a predict process sees of it."""

import errno
import json
import os

import numpy as np
import pytest

from udfs.learn import ModelStore, NoModel, Predictor, TrainConfig, Trainer, encode
from udfs.learn.history import COMPACT_FACTOR, FOLDER, RECORDS, model_record
from udfs.learn.reasons import PINNED

FEATURES = ("a", "b")


@pytest.fixture
def rng():
    return np.random.default_rng(2026)


def window(rng, n=80, coef=(2.0, -1.0), noise=0.01):
    X = rng.uniform(1.0, 5.0, size=(n, len(coef)))
    y = 10.0 + X @ np.asarray(coef) + rng.normal(0, noise, n)
    return {name: X[:, i] for i, name in enumerate(FEATURES)} | {"y": y}


def losing_window(rng):
    """A challenger trained on another relation (the first 75 %), judged on the champion's: it loses."""
    w, wrong = window(rng), window(rng, coef=(-3.0, 4.0))
    for name in w:
        w[name][:60] = wrong[name][:60]
    return w


def trainer(store):
    return Trainer(TrainConfig(FEATURES, "y"), store, fleet_retrain_every=0)


def deploy_versions(t, rng, key, count):
    """``count`` deployed versions: each window is less noisy than the last, so each challenger wins."""
    for k in range(count):
        assert t.train_window(key, window(rng, noise=10.0 / 10**k)).deployed
    return t.store.document(key)


def folder(store, key):
    return store.history(key).folder


def test_every_window_leaves_a_record_and_deployed_versions_their_document(rng, tmp_path):
    store = ModelStore(tmp_path)
    t = trainer(store)
    deploy_versions(t, rng, "d1", 2)
    kept = t.train_window("d1", losing_window(rng))
    assert kept.status == "kept"
    records = store.records("d1")
    assert [(r["event"], r["version"], r["reason"]) for r in records] == [
        ("deployed", 1, "first"), ("deployed", 2, "better"), ("kept", 2, "not_better")]
    assert all(r["metric"] == "mape" and r["value"] > 0 and r["window"]["window_rows"] == 80 for r in records)
    assert sorted(p.name for p in folder(store, "d1").iterdir()) == [RECORDS, "v1.json", "v2.json"]
    # The document of the champion is the one its file holds, byte for byte.
    assert (folder(store, "d1") / "v2.json").read_bytes() == (tmp_path / "d1.json").read_bytes()
    # The store folder's listing is the champions' alone.
    assert store.keys() == ["d1"] and store.count(10) == 1


def test_a_deployed_versions_document_is_the_champion_file_linked_and_outlives_its_replacement(rng, tmp_path):
    store = ModelStore(tmp_path)
    t = trainer(store)
    deploy_versions(t, rng, "d1", 1)
    first = (tmp_path / "d1.json").read_bytes()
    # One file under two names: the champion's write was not done twice.
    assert os.path.samefile(folder(store, "d1") / "v1.json", tmp_path / "d1.json")
    assert t.train_window("d1", window(rng, noise=0.001)).deployed
    assert (folder(store, "d1") / "v1.json").read_bytes() == first != (tmp_path / "d1.json").read_bytes()
    assert os.path.samefile(folder(store, "d1") / "v2.json", tmp_path / "d1.json")


def test_a_champion_replaced_before_its_record_or_a_file_system_without_links_gets_a_copy(rng, tmp_path,
                                                                                       monkeypatch):
    store = ModelStore(tmp_path)
    doc = deploy_versions(trainer(store), rng, "d1", 1)
    ours = dict(doc, version=2)
    store.put(ours)
    # Another writer (tickml models, a shard's materialiser) puts a champion of its own in between.
    (tmp_path / "other.json").write_bytes(encode(dict(doc, version=7)))
    os.replace(tmp_path / "other.json", tmp_path / "d1.json")
    store.record("d1", model_record("deployed", ours, "better"), ours, stored=True)
    assert (folder(store, "d1") / "v2.json").read_bytes() == encode(ours)
    assert not os.path.samefile(folder(store, "d1") / "v2.json", tmp_path / "d1.json")

    def no_links(src, dst):
        raise OSError(errno.EPERM, "Operation not permitted")

    monkeypatch.setattr(os, "link", no_links)
    third = dict(doc, version=8)
    store.put(third)
    store.record("d1", model_record("deployed", third, "better"), third, stored=True)
    assert (folder(store, "d1") / "v8.json").read_bytes() == (tmp_path / "d1.json").read_bytes() == encode(third)
    assert [r["version"] for r in store.records("d1")] == [1, 2, 8]


def test_the_history_is_bounded_and_prunes_documents_with_their_records(rng, tmp_path):
    store = ModelStore(tmp_path, history=3)
    t = trainer(store)
    deploy_versions(t, rng, "d1", 6)
    for _ in range(5):
        assert t.train_window("d1", losing_window(rng)).status == "kept"
    records = store.records("d1")
    assert [r["version"] for r in records if r["event"] == "deployed"] == [4, 5, 6]
    assert len([r for r in records if r["event"] == "kept"]) == 3
    assert sorted(p.name for p in folder(store, "d1").iterdir()) == [RECORDS, "v4.json", "v5.json", "v6.json"]


def test_the_records_file_is_compacted_to_its_bound_and_a_torn_line_is_skipped(tmp_path):
    history = ModelStore(tmp_path, history=2).history("d1")
    doc = {"version": 1, "metric": {"mape": 0.1}, "rows": 10, "window_rows": 10}
    history.add(model_record("deployed", doc, "first"), b"{}")
    for k in range(200):
        history.add(model_record("kept", doc, "not_better", time=f"t{k}"))
    size = (history.folder / RECORDS).stat().st_size
    assert size <= COMPACT_FACTOR * 2 * 2 * 512 + 512  # rewritten to its bound as it grew
    assert [r.get("time") for r in history.read()["records"] if r["event"] == "kept"] == ["t198", "t199"]
    assert [r["event"] for r in history.read()["records"]][0] == "deployed"  # the version outlives the kept ones
    with open(history.folder / RECORDS, "ab") as f:
        f.write(b'{"event":"ke')  # a crash in the middle of an append
    history.add(model_record("kept", doc, "pinned", time="after"))
    assert [r.get("time") for r in history.read()["records"] if r["event"] == "kept"] == ["t199", "after"]


def test_a_history_that_cannot_be_written_keeps_the_old_one_and_training_goes_on(rng, tmp_path, monkeypatch):
    store = ModelStore(tmp_path)
    t = trainer(store)
    deploy_versions(t, rng, "d1", 1)
    before = (folder(store, "d1") / RECORDS).read_bytes()
    real_replace, real_link = os.replace, os.link

    def history_disk_full(real):
        def call(src, dst):
            if FOLDER in str(dst):
                raise OSError(errno.ENOSPC, "No space left on device")
            return real(src, dst)
        return call

    # A version's document is the champion's file linked, or (where links fail) a copy renamed into place.
    monkeypatch.setattr(os, "replace", history_disk_full(real_replace))
    monkeypatch.setattr(os, "link", history_disk_full(real_link))
    outcome = t.train_window("d1", window(rng, noise=0.001))
    assert outcome.deployed and store.document("d1")["version"] == 2  # the champion is what matters
    assert (folder(store, "d1") / RECORDS).read_bytes() == before  # the old records, whole
    assert not [p.name for p in folder(store, "d1").iterdir() if p.name.endswith(".tmp")]


def test_a_pinned_champion_stays_against_a_better_challenger(rng, tmp_path):
    store = ModelStore(tmp_path)
    t = trainer(store)
    champion = deploy_versions(t, rng, "d1", 1)
    assert store.pin("d1")["version"] == 1 and store.pinned("d1")
    better = t.train_window("d1", window(rng, noise=0.001))
    assert better.challenger_score["mape"] < better.champion_score["mape"]
    assert (better.status, better.reason) == ("kept", PINNED) and "version 1 is pinned" in better.detail
    assert store.document("d1") == champion and t.reasons_[PINNED] == 1
    assert [(r["event"], r.get("reason")) for r in store.records("d1")][-2:] == [("pin", None), ("kept", PINNED)]
    # A worse challenger is kept for its own reason, not the pin's.
    assert t.train_window("d1", losing_window(rng)).reason is None
    store.pin("d1", False)
    assert t.train_window("d1", window(rng, noise=0.001)).deployed and store.document("d1")["version"] == 2


def test_rollback_restores_an_earlier_versions_document_under_the_next_version(rng, tmp_path):
    store = ModelStore(tmp_path)
    t = trainer(store)
    X = np.array([[1.0, 2.0], [3.0, 4.0]])
    deploy_versions(t, rng, "d1", 1)
    first, first_predicted = (tmp_path / "d1.json").read_bytes(), store.model("d1").predict_rows(X)
    assert t.train_window("d1", window(rng, noise=1e-4)).deployed
    store.pin("d1")
    restored = store.restore("d1")  # default: the version deployed before the champion
    assert restored["version"] == 3
    # Byte for byte the first version's document, but for its version number, which only goes up.
    assert encode(dict(restored, version=1)) == first
    assert json.loads((tmp_path / "d1.json").read_bytes()) == restored
    assert np.array_equal(Predictor(ModelStore(tmp_path)).predict_batch("d1", X)[0], first_predicted)
    last = store.records("d1")[-1]
    assert (last["event"], last["version"], last["from"], last["value"]) == ("rollback", 3, 1,
                                                                            restored["metric"]["mape"])
    assert store.pinned("d1")  # a rollback keeps the pin
    # Again: the version before the champion is now 2; a version the history lacks is refused by name.
    assert store.restore("d1")["version"] == 4 and store.records("d1")[-1]["from"] == 2
    with pytest.raises(ValueError, match=r"holds no version 9; it holds 1, 2, 3, 4"):
        store.restore("d1", 9)
    with pytest.raises(ValueError, match="is the champion already"):
        store.restore("d1", 4)
    with pytest.raises(KeyError):
        store.restore("nobody")


def test_the_trainer_judges_the_next_window_against_the_restored_champion(rng, tmp_path):
    store = ModelStore(tmp_path)
    t = trainer(store)
    deploy_versions(t, rng, "d1", 2)
    store.restore("d1", 1)
    outcome = t.train_window("d1", window(rng, noise=1e-4))
    assert outcome.deployed and outcome.challenger["version"] == 4  # above the restored champion's 3


def test_a_predict_process_sees_a_rollback_and_a_delete_at_its_next_refresh(rng, tmp_path):
    store = ModelStore(tmp_path)
    t = trainer(store)
    deploy_versions(t, rng, "d1", 2)
    now = [0.0]
    predictor = Predictor(ModelStore(tmp_path, max_resident=10, refresh_seconds=1.0, clock=lambda: now[0]),
                          use_fleet=False)
    X = np.array([[2.0, 3.0]])
    assert predictor.predict_batch("d1", X)[2].version == 2
    store.restore("d1", 1)
    assert predictor.predict_batch("d1", X)[2].version == 2  # within the refresh interval: the resident copy
    now[0] = 1.5
    assert predictor.predict_batch("d1", X)[2].version == 3
    assert store.forget("d1") and not folder(store, "d1").exists() and store.records("d1") == []
    now[0] = 3.0
    with pytest.raises(NoModel):
        predictor.predict_batch("d1", X)
