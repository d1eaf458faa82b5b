"""Champion/challenger, bad windows, processlogic, fleet model, predictions and fields."""

import json

import numpy as np
import pytest

from udfs.learn import (
    FLEET_KEY, REASONS, ModelStore, NoModel, Predictor, TrainConfig, Trainer, encode, model_fields,
)


@pytest.fixture
def rng():
    """A fixed generator: every test is deterministic."""
    return np.random.default_rng(12345)

FEATURES = ("a", "b", "c")


def window(rng, n=200, coef=(2.0, -1.0, 0.5), intercept=10.0, noise=0.01):
    X = rng.uniform(1.0, 5.0, size=(n, len(coef)))
    y = intercept + X @ np.asarray(coef) + rng.normal(0, noise, n)
    return {name: X[:, i] for i, name in enumerate(FEATURES)} | {"y": y}


def trainer(store=None, **config):
    config.setdefault("dependentvariable", "y")
    return Trainer(TrainConfig(FEATURES, **config), store if store is not None else ModelStore(), fleet_retrain_every=0,
                   wall_clock=lambda: 1_700_000_000.0)


def test_first_window_deploys_and_recovers_relation(rng):
    t = trainer()
    outcome = t.train_window("d1", window(rng))
    assert outcome.deployed and outcome.champion_score is None
    assert outcome.challenger_score["mape"] < 0.01
    model = t.store.model("d1")
    assert model.version == 1
    assert model.predict_row([1.0, 1.0, 1.0]) == pytest.approx(11.5, abs=0.01)
    assert outcome.challenger["created"] == "2023-11-14T22:13:20.000Z"


def test_worse_challenger_keeps_champion(rng):
    t = trainer()
    t.train_window("d1", window(rng))
    # The training part (first 75%) follows another relation; the hold-out
    # (last 25%) follows the champion's, so the challenger must lose.
    w = window(rng, n=200)
    wrong = window(rng, n=200, coef=(-3.0, 4.0, 0.0), intercept=-2.0)
    for name in w:
        w[name][:150] = wrong[name][:150]
    before = t.store.document("d1")
    outcome = t.train_window("d1", w)
    assert outcome.status == "kept"
    assert outcome.challenger_score["mape"] > outcome.champion_score["mape"]
    assert t.store.document("d1") == before
    fields = model_fields(outcome.challenger, deployed=outcome.deployed)
    assert fields["Deployed"] == 0


def test_better_challenger_replaces_and_keeps_both_scores(rng):
    t = trainer()
    t.train_window("d1", window(rng, coef=(0.0, 0.0, 3.0), noise=1.0))
    outcome = t.train_window("d1", window(rng))
    assert outcome.deployed
    assert outcome.challenger_score["mape"] < outcome.champion_score["mape"]
    doc = t.store.document("d1")
    assert doc["version"] == 2 and doc["replaced"] == outcome.champion_score
    fields = model_fields(doc, deployed=True)
    assert fields["Championaccuracy"] < fields["Forecastaccuracy"] and fields["Deployed"] == 1
    # Judged on the newest 50 rows, then refitted on all 200 before deployment.
    assert fields["Modelversion"] == 2 and fields["Numberofmessages"] == 200 and fields["Trainingrows"] == 200
    assert fields["Holdoutrows"] == 50


def test_times_put_rows_in_order(rng):
    w = window(rng)
    wrong = window(rng, coef=(-3.0, 4.0, 0.0), intercept=-2.0)
    for name in w:
        w[name][:150] = wrong[name][:150]
    order = rng.permutation(200)
    shuffled = {k: v[order] for k, v in w.items()}
    a = trainer().train_window("d", w)
    b = trainer().train_window("d", shuffled, times=order)  # row i has time order[i]
    assert a.challenger["params"] == b.challenger["params"]


def bad_windows(rng):
    w = window(rng)
    yield "constant_target", dict(w, y=np.full(200, 3.0))
    yield "constant_target", dict(w, y=np.r_[np.full(150, 3.0), np.arange(50.0)])
    yield "too_few_rows", {k: v[:3] for k, v in w.items()}
    yield "too_few_rows", {k: v[:4] for k, v in w.items()}  # 4 = k+1 but the training part has 3
    yield "non_numeric", dict(w, a=["1.0"] * 199 + ["volts"])
    yield "non_finite", dict(w, b=np.r_[w["b"][:-1], np.nan])
    yield "non_finite", dict(w, y=np.r_[np.inf, w["y"][1:]])
    yield "missing_field", {k: v for k, v in w.items() if k != "c"}
    yield "zero_target_holdout", dict(w, y=np.r_[w["y"][:150], np.zeros(50)])


def test_bad_windows_give_reason_and_keep_champion(rng):
    t = trainer()
    t.train_window("d1", window(rng))
    champion = t.store.document("d1")
    expected = []
    for reason, w in bad_windows(rng):
        outcome = t.train_window("d1", w)
        assert (outcome.status, outcome.reason) == ("bad", reason), outcome.detail
        assert outcome.detail
        assert t.store.document("d1") == champion
        expected.append(reason)
    assert dict(t.reasons_) == {r: expected.count(r) for r in set(expected)}
    assert set(t.reasons_) <= set(REASONS)
    assert t.counts_["bad"] == len(expected) and t.counts_["deployed"] == 1
    assert t.train_window("d2", window(rng)).deployed  # other entities go on


def test_non_binary_target_for_logistic(rng):
    outcome = trainer(islogistic=1).train_window("d", window(rng))
    assert outcome.reason == "target_not_binary"


def test_log_transform_drops_nonpositive_rows_and_recovers_elasticity(rng):
    X = rng.uniform(0.5, 20, size=(300, 3))
    y = 3.0 * X[:, 0] ** 1.5 * X[:, 1] ** -0.5 * np.exp(rng.normal(0, 0.001, 300))
    cols = {n: X[:, i].copy() for i, n in enumerate(FEATURES)} | {"y": y}
    cols["a"][:10] = -1.0
    t = trainer(transformtype="log-log")
    outcome = t.train_window("d", cols)
    assert outcome.deployed and outcome.dropped_rows == 10
    assert outcome.challenger_score["mape"] < 0.01
    model = t.store.model("d")
    assert model.predict_row([4.0, 4.0, 1.0]) == pytest.approx(3.0 * 8.0 / 2.0, rel=0.01)
    assert np.isnan(model.predict_rows(np.array([[-1.0, 1.0, 1.0]]))[0])
    with pytest.raises(ValueError, match="needs positive inputs"):
        model.predict_row([-1.0, 1.0, 1.0])


def test_processlogic_drives_a_logistic_model(rng):
    n = 400
    v, c = rng.uniform(0, 100, n), rng.uniform(0, 100, n)
    rule = "classification_name=failure_prob:Voltage_preprocessed_AnomProb=55,n:Current_preprocessed_AnomProb=55,n"
    config = TrainConfig("Voltage_preprocessed_AnomProb,Current_preprocessed_AnomProb", islogistic=1,
                         processlogic=rule)
    t = Trainer(config, ModelStore(), fleet_retrain_every=0)
    outcome = t.train_window("dev", {"Voltage_preprocessed_AnomProb": v, "Current_preprocessed_AnomProb": c})
    assert outcome.deployed and outcome.challenger["target"] == "failure_prob"
    assert outcome.challenger_score["accuracy"] > 0.85
    fields = Predictor(t.store).predict_one("dev", {"Voltage_preprocessed_AnomProb": 95.0,
                                                   "Current_preprocessed_AnomProb": 95.0})
    assert fields["Probability1"] > 0.5 and fields["Probability0"] == pytest.approx(1 - fields["Probability1"])
    assert fields["Hyperprediction"] == fields["Probability1"]
    assert fields["Algo"] == "dev_lgt" and fields["Islogistic"] == 1 and fields["Answeredby"] == "entity"
    point = model_fields(outcome.challenger, deployed=True)
    assert point["DependentVariable"] == "failure_prob" and point["Islogistic"] == 1
    assert len(point["ParameterEstimates"].split(",")) == 3 and point["HasConstantTerm"] == 1
    assert len(encode(t.store.document("dev"))) < 1024


def fleet_of(rng, n_entities=12):
    """Entities whose relations differ (slope and intercept depend on the entity)."""
    for e in range(n_entities):
        yield f"dev-{e}", window(rng, coef=(1.0 + e, -0.5 * e, 0.2), intercept=5.0 + 3 * e, noise=0.05)


def test_per_entity_models_beat_the_fleet_model(rng):
    store = ModelStore()
    t = Trainer(TrainConfig(FEATURES, "y"), store, fleet_rows_per_window=150, fleet_retrain_every=10_000)
    windows = dict(fleet_of(rng))
    for key, w in windows.items():
        assert t.train_window(key, w).deployed
    assert t.train_fleet().deployed
    p = Predictor(store)
    own_err, fleet_err = [], []
    for key, w in windows.items():
        fresh = window(rng, coef=(1.0 + int(key[4:]), -0.5 * int(key[4:]), 0.2),
                       intercept=5.0 + 3 * int(key[4:]), noise=0.05)
        X = np.column_stack([fresh[f] for f in FEATURES])
        own, answered, _ = p.predict_batch(key, X)
        assert answered == "entity"
        fleet = store.model(FLEET_KEY).predict_rows(X)
        own_err.append(np.mean(np.abs(own - fresh["y"]) / np.abs(fresh["y"])))
        fleet_err.append(np.mean(np.abs(fleet - fresh["y"]) / np.abs(fresh["y"])))
    print(f"hold-out MAPE: per-entity {np.mean(own_err):.4f} vs fleet-wide {np.mean(fleet_err):.4f}")
    assert np.mean(own_err) * 10 < np.mean(fleet_err)


def test_fleet_model_answers_unknown_entities(rng):
    store = ModelStore()
    t = Trainer(TrainConfig(FEATURES, "y"), store, fleet_retrain_every=3)
    p = Predictor(store)
    with pytest.raises(NoModel):
        p.predict_one("never-seen", [1.0, 2.0, 3.0])
    for key, w in list(fleet_of(rng))[:3]:
        t.train_window(key, w)
    fields = p.predict_one("never-seen", {"a": 1.0, "b": 2.0, "c": 3.0, "other": 9})
    assert fields["Answeredby"] == "fleet" and fields["Algokey"] == "__fleet__" == str(FLEET_KEY)
    assert fields["Inputdata"] == "1.0,2.0,3.0" and fields["Fieldnames"] == "a,b,c"
    assert "Probability1" not in fields
    assert p.predict_one("dev-0", [1.0, 2.0, 3.0])["Answeredby"] == "entity"
    with pytest.raises(ValueError, match="lacks field 'c'"):
        p.predict_one("dev-0", {"a": 1.0, "b": 2.0})
    values, answered, _ = p.predict_batch("nobody", {"a": [1.0, 2.0], "b": [1.0, 1.0], "c": [0.0, 0.0]})
    assert answered == "fleet" and values.shape == (2,)


def test_fleet_model_exists_from_the_first_window_and_retrains_early_then_every_n(rng):
    store = ModelStore()
    t = Trainer(TrainConfig(FEATURES, "y"), store, fleet_retrain_every=100)
    versions = []
    for key, w in fleet_of(rng, n_entities=11):
        t.train_window(key, w)
        versions.append(store.document(FLEET_KEY)["version"] if FLEET_KEY in store else 0)
    # Retrained after good windows 1, 2, 4 and 8 (a fleet of 11 has one from the start).
    assert versions == [1, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4]
    assert [n for n in range(1, 1001) if t._fleet_due(n)] == [1, 2, 4, 8, 16, 32, 64, *range(100, 1001, 100)]


def test_trainer_state_round_trip(rng, tmp_path):
    t = trainer()
    t.train_window("d1", window(rng))
    t.train_window("d1", dict(window(rng), y=np.ones(200)))
    state = json.loads(json.dumps(t.export_state()))
    restored = trainer(ModelStore(tmp_path))
    restored.import_state(state)
    assert restored.reasons_ == t.reasons_ and restored.counts_ == t.counts_
    assert restored.store.document("d1") == t.store.document("d1")
    with pytest.raises(ValueError):
        restored.import_state({"schema": 1, "counts": {"bad": "x"}, "reasons": {}, "store": None})


@pytest.mark.parametrize("algorithm", ["gradient_boosting", "neural_network", "ridge", "auto"])
def test_other_algorithms_through_the_trainer(rng, algorithm):
    t = trainer(algorithm=algorithm, modelruns=4, seed=1)
    outcome = t.train_window("d", window(rng, n=160))
    assert outcome.deployed, outcome.detail
    fields = model_fields(outcome.challenger, deployed=True)
    assert 0.8 < fields["Forecastaccuracy"] <= 1.0
    if algorithm in ("gradient_boosting", "neural_network"):
        assert "ParameterEstimates" not in fields and fields["HasConstantTerm"] == 0


def test_equal_score_does_not_replace(rng):
    t = trainer()
    w = window(rng)
    t.train_window("d1", w)  # the champion: fitted on all 200 rows
    more = window(rng, n=66)
    # 266 rows: the challenger is fitted on the first 200, the champion's own
    # rows, so both predict the hold-out identically.
    outcome = t.train_window("d1", {k: np.concatenate([w[k], more[k]]) for k in w})
    assert outcome.status == "kept" and outcome.challenger_score == outcome.champion_score
    assert t.store.model("d1").version == 1


def test_deployed_model_is_fitted_on_the_whole_window(rng):
    t = trainer()
    w = window(rng, noise=0.5)
    outcome = t.train_window("d1", w)
    X = np.column_stack([w[f] for f in FEATURES])
    A = np.column_stack([np.ones(len(X)), X])
    beta, *_ = np.linalg.lstsq(A, w["y"], rcond=None)
    probe = rng.uniform(0, 10, size=(20, 3))
    np.testing.assert_allclose(t.store.model("d1").predict_rows(probe), beta[0] + probe @ beta[1:], rtol=1e-9)
    # The score it carries is the judged one: a fit on the first 150 rows, on the last 50.
    A_fit = A[:150]
    judged, *_ = np.linalg.lstsq(A_fit, w["y"][:150], rcond=None)
    holdout = w["y"][150:]
    expected = np.mean(np.abs(holdout - A[150:] @ judged) / np.abs(holdout))
    assert outcome.challenger_score["mape"] == pytest.approx(expected, rel=1e-9)
    assert outcome.challenger["rows"] == 200 and outcome.challenger["holdout_rows"] == 50


def test_champion_is_judged_only_on_rows_it_has_not_seen(rng):
    t = trainer()
    w = window(rng)
    times = np.arange(200) * 10
    t.train_window("d1", w, times=times)
    assert t.store.document("d1")["until"] == 1990
    # The same window again: the champion has seen every row of it, so nothing is trained.
    version = t.store.document("d1")["version"]
    again = t.train_window("d1", w, times=times)
    assert again.status == "skipped" and again.challenger is None
    assert t.store.document("d1")["version"] == version and t.counts_["skipped"] == 1
    # A window sliding by 20 rows: the champion is judged on the 20 rows after its own.
    champion = t.store.model("d1")
    w2 = window(rng)
    slid = t.train_window("d1", {k: np.concatenate([w[k][20:], w2[k][:20]]) for k in w}, times=times + 200)
    newest = w2["y"][:20]
    X = np.column_stack([w2[f][:20] for f in FEATURES])
    expected = np.mean(np.abs(newest - champion.predict_rows(X)) / np.abs(newest))
    assert slid.champion_score["mape"] == pytest.approx(expected, rel=1e-12)


def test_single_row_checks_length_for_every_algorithm(rng):
    t = trainer(algorithm="gradient_boosting")
    t.train_window("d", window(rng))
    with pytest.raises(ValueError, match="expected 3 inputs"):
        t.store.model("d").predict_row([1.0, 2.0])


@pytest.mark.parametrize("metric", ["mape", "smape", "mae", "rmse"])
def test_metric_option_judges_and_is_reported(rng, metric):
    t = trainer(metric=metric)
    outcome = t.train_window("d1", window(rng, noise=0.5))
    fields = model_fields(outcome.challenger, deployed=True)
    assert fields["Metric"] == metric and fields["Metricvalue"] == outcome.challenger_score[metric]
    assert 0.9 < fields["Forecastaccuracy"] <= 1.0  # always 1 - MAPE, as in the seed


def test_mae_judges_a_target_that_crosses_zero(rng):
    # A temperature around 0 degrees: MAPE is dominated by the rows nearest zero, MAE is not.
    w = window(rng, coef=(1.0, -1.0, 0.0), intercept=0.0, noise=0.2)
    t = trainer(metric="mae")
    outcome = t.train_window("d1", w)
    assert outcome.deployed and outcome.challenger_score["mae"] < 0.3
    assert outcome.challenger_score["mape"] > outcome.challenger_score["mae"]
    with pytest.raises(ValueError, match="metric must be one of"):
        TrainConfig(FEATURES, "y", metric="r2")
    with pytest.raises(ValueError, match="is for regression"):
        TrainConfig(FEATURES, "y", islogistic=1, metric="mae")


def test_a_store_that_cannot_be_written_is_a_bad_window_and_the_champion_stays(rng, tmp_path, monkeypatch):
    import errno
    import os

    store = ModelStore(tmp_path)
    t = trainer(store)
    t.train_window("d1", window(rng))
    before = store.document("d1")

    def disk_full(src, dst):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "replace", disk_full)
    outcome = t.train_window("d1", window(rng, coef=(1.0, 1.0, 1.0)))
    assert outcome.status == "bad" and outcome.reason == "store_unwritable" and "No space left" in outcome.detail
    assert store.document("d1") == before and ModelStore(tmp_path).document("d1") == before
    # No temporary file left (beside the history and the lock the store keeps).
    assert sorted(p.name for p in tmp_path.iterdir() if p.name not in (".history", ".lock")) == ["d1.json"]
    assert t.reasons_["store_unwritable"] == 1
