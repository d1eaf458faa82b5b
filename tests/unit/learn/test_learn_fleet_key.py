"""The fleet-wide model has a namespace of its own: no entity, whatever its id, reaches it.

A device whose id is ``__fleet__`` (the fleet document's old key) gets a
model of its own; its training never changes the fleet model, and stores and
snapshots written before the namespace existed still give their fleet model.
"""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

from udfs.learn import FLEET_KEY, ModelStore, Predictor, TrainConfig, Trainer, encode
FEATURES = ("a", "b")
FLEET_NAME = "__fleet__"  # the fleet document's key, and a device id like any other
OLD_FLEET_FILE = "__fleet__.json"  # where the fleet document lived before (quote("__fleet__") + ".json")


@pytest.fixture
def rng():
    return np.random.default_rng(7)


def window(rng, coef, intercept, n=120):
    X = rng.uniform(1.0, 5.0, size=(n, 2))
    return {"a": X[:, 0], "b": X[:, 1], "y": intercept + X @ np.asarray(coef) + rng.normal(0, 0.01, n)}


def trainer(store, **kwargs):
    kwargs.setdefault("fleet_retrain_every", 10_000)
    return Trainer(TrainConfig(FEATURES, "y", algorithm="linear"), store, wall_clock=lambda: 1.7e9, **kwargs)


def fleet_document(rng, version=3):
    """A fleet document as the old code wrote it: key ``__fleet__``."""
    store = ModelStore()
    t = trainer(store)
    t.train_window("dev-0", window(rng, (1.0, 1.0), 10.0))  # the fleet model is trained after the first window
    return dict(store.document(FLEET_KEY), key=FLEET_NAME, version=version)


def test_a_device_named_like_the_fleet_trains_its_own_model(rng, tmp_path):
    store = ModelStore(tmp_path)
    t = trainer(store)
    for e in range(3):
        assert t.train_window(f"dev-{e}", window(rng, (1.0, 1.0), 10.0)).deployed
    t.train_fleet()
    fleet_before = store.document(FLEET_KEY)

    # (Fleet retraining off: the fleet model learns from every device's rows, this one's too, when it is due.)
    outcome = trainer(store, fleet_retrain_every=0).train_window(FLEET_NAME, window(rng, (-40.0, 7.0), 500.0))
    assert outcome.deployed and outcome.champion_score is None  # it had no champion: the fleet is not its model
    assert store.document(FLEET_KEY) == fleet_before
    own = store.document(FLEET_NAME)
    assert own["version"] == 1 and own["key"] == FLEET_NAME

    # Another process on the same folder (the predictor) sees both, apart.
    reader = ModelStore(tmp_path)
    assert reader.document(FLEET_KEY) == fleet_before and reader.document(FLEET_NAME) == own
    p = Predictor(reader)
    mine = p.predict_one(FLEET_NAME, [1.0, 1.0])
    theirs = p.predict_one("never-seen", [1.0, 1.0])
    assert mine["Answeredby"] == "entity" and mine["Hyperprediction"] == pytest.approx(467.0, abs=0.1)
    assert theirs["Answeredby"] == "fleet" and theirs["Hyperprediction"] == pytest.approx(12.0, abs=0.1)
    assert theirs["Algokey"] == FLEET_NAME  # what the output says has not changed
    assert FLEET_KEY not in store.keys() and FLEET_NAME in store.keys()


def test_the_fleet_answers_the_device_named_like_it_until_it_has_a_model(rng):
    store = ModelStore()
    t = trainer(store)
    t.train_window("dev-0", window(rng, (1.0, 1.0), 10.0))
    t.train_fleet()
    assert Predictor(store).predict_one(FLEET_NAME, [1.0, 1.0])["Answeredby"] == "fleet"


def test_the_fleet_retrains_on_the_device_named_like_it_without_taking_its_model(rng):
    store = ModelStore()
    t = trainer(store, fleet_retrain_every=1)
    t.train_window(FLEET_NAME, window(rng, (1.0, 1.0), 10.0))
    t.train_window(FLEET_NAME, window(rng, (1.0, 1.0), 10.0))
    assert store.model(FLEET_NAME) is not None and store.model(FLEET_KEY) is not None
    assert store.model(FLEET_NAME) is not store.model(FLEET_KEY)


def test_snapshots_keep_the_two_apart(rng, tmp_path):
    store = ModelStore()
    t = trainer(store)
    t.train_window("dev-0", window(rng, (1.0, 1.0), 10.0))
    t.train_fleet()
    t.train_window(FLEET_NAME, window(rng, (-40.0, 7.0), 500.0))
    state = json.loads(json.dumps(t.export_state()))
    restored = ModelStore(tmp_path)
    trainer(restored).import_state(state)
    assert restored.document(FLEET_KEY) == store.document(FLEET_KEY)
    assert restored.document(FLEET_NAME) == store.document(FLEET_NAME)
    assert restored.document(FLEET_KEY) != restored.document(FLEET_NAME)


def test_a_snapshot_from_before_the_namespace_gives_its_fleet_model(rng):
    old = {"schema": 1, "kind": "tickml.learn.store", "models": [fleet_document(rng)]}
    store = ModelStore()
    assert store.import_state(old) == 1
    assert store.document(FLEET_KEY)["version"] == 3
    assert store.model(FLEET_NAME) is None


def test_a_store_from_before_the_namespace_gives_its_fleet_model(rng, tmp_path):
    old = fleet_document(rng)
    (tmp_path / OLD_FLEET_FILE).write_bytes(encode(old))
    store = ModelStore(tmp_path)
    assert store.document(FLEET_KEY) == old
    assert store.model(FLEET_NAME) is None
    # The device named like the fleet now trains on its own, and the fleet model stays.
    t = trainer(store, fleet_retrain_every=0)
    assert t.train_window(FLEET_NAME, window(rng, (-40.0, 7.0), 500.0)).champion_score is None
    again = ModelStore(tmp_path)
    assert again.document(FLEET_KEY) == old and again.document(FLEET_NAME)["version"] == 1
    assert trainer(ModelStore(tmp_path)).store.document(FLEET_KEY) == old


def test_a_new_store_never_takes_a_devices_model_for_the_fleet(rng, tmp_path):
    store = ModelStore(tmp_path)
    trainer(store, fleet_retrain_every=0).train_window(FLEET_NAME, window(rng, (1.0, 1.0), 10.0))
    for _ in range(2):  # opened again, as by a restarted train or predict process
        reopened = ModelStore(tmp_path)
        assert reopened.model(FLEET_KEY) is None and reopened.document(FLEET_NAME)["version"] == 1


def test_the_fleet_key_is_no_string():
    # Entity keys are strings: none of them, whatever a device is called, can be equal to it.
    assert not isinstance(FLEET_KEY, str)
    assert FLEET_KEY != FLEET_NAME and str(FLEET_KEY) == FLEET_NAME


def test_counting_and_listing_leave_the_fleet_out(rng, tmp_path):
    store = ModelStore(tmp_path)
    t = trainer(store)
    t.train_window("dev-0", window(rng, (1.0, 1.0), 10.0))
    t.train_fleet()
    assert store.keys() == ["dev-0"] and store.count(10) == 1 and len(store) == 1
    t.train_window(FLEET_NAME, window(rng, (-40.0, 7.0), 500.0))
    assert store.keys() == [FLEET_NAME, "dev-0"] and store.count(10) == 2
    # The fleet model stays in the file it always had; the device named like it gets another name.
    assert sorted(set(os.listdir(tmp_path)) - {".history", ".lock"}) == ["%5F%5Ffleet%5F%5F.json", "__fleet__.json",
                                                                       "dev-0.json"]


def test_a_snapshot_whose_fleet_model_is_named_otherwise_is_refused_whole(rng):
    doc = fleet_document(rng)
    store = ModelStore()
    with pytest.raises(ValueError, match="the fleet model must have key '__fleet__'"):
        store.import_state({"schema": 1, "kind": "tickml.learn.store", "models": [dict(doc, key="pm-1")],
                            "fleet": dict(doc, key="pm-2")})
    assert store.keys() == [] and store.model(FLEET_KEY) is None
