"""ModelStore.offer: a champion replaces the stored one only if it supersedes it, across processes too."""

import multiprocessing
import os
import random

import pytest

from udfs.learn import ModelStore, TrainConfig, Trainer
from udfs.learn.document import supersedes
from udfs.learn.fleet import FLEET_KEY

DOC = {"schema": 1, "key": "dev-1", "version": 1, "algorithm": "linear", "task": "regression", "target": "y",
       "features": ["x"], "transform": "", "min": [0.0], "max": [1.0], "params": {"coef": [2.0], "intercept": 1.0},
       "hyper": {}, "metric": {"mape": 0.01}, "rows": 30, "window_rows": 40, "created": "2026-01-01T00:00:00.000Z"}


def test_a_lower_or_equal_version_is_refused_and_the_stored_one_kept(tmp_path):
    store = ModelStore(tmp_path)
    assert store.offer(dict(DOC, version=5))
    assert not store.offer(dict(DOC, version=4))
    assert not store.offer(dict(DOC, version=5))  # itself
    assert store.document("dev-1")["version"] == 5
    assert store.offer(dict(DOC, version=6)) and ModelStore(tmp_path).model("dev-1").version == 6


def test_the_comparison_is_with_the_file_not_a_copy_in_memory(tmp_path):
    mine = ModelStore(tmp_path, refresh_seconds=3600)
    mine.put(dict(DOC, version=1))
    assert mine.model("dev-1").version == 1  # resident, not checked again for an hour
    ModelStore(tmp_path).put(dict(DOC, version=9))  # another process: the materialiser, say
    assert not mine.offer(dict(DOC, version=2))
    assert mine.model("dev-1").version == 9  # and the refusal brought the newer one in


def test_equal_versions_end_the_same_in_either_order(tmp_path):
    a = dict(DOC, version=3, created="2026-01-01T00:00:05.000Z")
    b = dict(DOC, version=3, created="2026-01-01T00:00:07.000Z")
    first, second = ModelStore(tmp_path / "1"), ModelStore(tmp_path / "2")
    first.offer(a), first.offer(b)
    second.offer(b), second.offer(a)
    assert first.document("dev-1") == second.document("dev-1") == b
    assert supersedes(b, a) and not supersedes(a, b)


def test_the_fleet_model_and_an_entity_named_like_it_are_offered_apart(tmp_path):
    store = ModelStore(tmp_path)
    assert store.offer(dict(DOC, key="__fleet__", version=7), FLEET_KEY)
    assert store.offer(dict(DOC, key="__fleet__", version=1))  # the device whose id is __fleet__
    assert store.model(FLEET_KEY).version == 7 and store.model("__fleet__").version == 1


def test_a_bad_document_is_refused_with_its_reason_and_nothing_written(tmp_path):
    store = ModelStore(tmp_path)
    with pytest.raises(ValueError, match="unknown algorithm 'magic'"):
        store.offer(dict(DOC, algorithm="magic"))
    assert store.keys() == []


def _offer_versions(folder: str, versions: list[int]) -> int:
    store = ModelStore(folder)
    return sum(store.offer(dict(DOC, version=v, created=f"2026-01-01T00:00:{v % 60:02d}.000Z")) for v in versions)


def test_processes_offering_at_once_never_put_back_an_older_version(tmp_path):
    versions = list(range(1, 301))
    shares = [random.Random(seed).sample(versions, len(versions)) for seed in range(4)]
    reader = ModelStore(tmp_path, refresh_seconds=0)
    seen = []
    with multiprocessing.get_context("spawn").Pool(4) as pool:
        result = pool.starmap_async(_offer_versions, [(str(tmp_path), share) for share in shares])
        while not result.ready():
            model = reader.model("dev-1")
            if model is not None:
                seen.append(model.version)
        stored = result.get(60)
    assert reader.model("dev-1").version == 300
    assert seen == sorted(seen), "a reader saw a version go back"
    # Each version won at most once across the processes, and 300 won in exactly one.
    assert 1 <= sum(stored) <= 300
    assert not [name for name in os.listdir(tmp_path) if name.endswith(".tmp")]


def test_the_trainer_keeps_a_newer_champion_a_shared_store_already_holds(tmp_path):
    """A store whose put only offers (as on a shard): the window's challenger is reported kept, not deployed."""

    class OfferingStore(ModelStore):
        def put(self, doc, key=None):
            return self.offer(doc, key)

    store = OfferingStore(tmp_path, refresh_seconds=3600)
    trainer = Trainer(TrainConfig(["x"], "y"), store, fleet_retrain_every=0)
    rng = random.Random(0)
    x = [rng.random() for _ in range(60)]
    first = {"x": x, "y": [3 * v + 1 + rng.gauss(0, 0.01) for v in x]}
    assert trainer.train_window("dev-1", first, times=list(range(60))).status == "deployed"
    newer = dict(store.document("dev-1"), version=50, created="2999-01-01T00:00:00.000Z")
    ModelStore(tmp_path).put(newer)  # another shard's champion, written by the materialiser
    # A relation the resident champion (version 1) predicts badly: the challenger beats it...
    second = {"x": x, "y": [-5 * v + 2 + rng.gauss(0, 0.01) for v in x]}
    outcome = trainer.train_window("dev-1", second, times=list(range(60, 120)))
    assert outcome.challenger["version"] == 2
    # ...but the store holds version 50, which stays.
    assert outcome.status == "kept" and not outcome.deployed
    assert store.document("dev-1") == newer
