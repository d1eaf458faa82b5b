"""The accuracy gate (accuracythreshold) and the coefficients per field (coef_<feature>, intercept)."""

import json

import numpy as np
import pytest

from unit.agent.udf_client import REPO, run_process_udf

from udfs.agent import encode_frame, udf_pb2
from udfs.learn import FLEET_KEY, REASONS, ModelStore, NoModel, Predictor, TrainConfig, Trainer, decode, model_fields
from udfs.learn.reasons import BELOW_THRESHOLD

FEATURES = ("a", "b", "c")


@pytest.fixture
def rng():
    return np.random.default_rng(2024)


def window(rng, n=200, coef=(2.0, -1.0, 0.5), intercept=10.0, noise=0.01, start=0):
    """Rows of y = intercept + X @ coef + noise, with times ``start``, ``start + 1``, ..."""
    X = rng.uniform(1.0, 5.0, size=(n, len(coef)))
    y = intercept + X @ np.asarray(coef) + rng.normal(0, noise, n)
    return {name: X[:, i] for i, name in enumerate(FEATURES)} | {"y": y}, np.arange(start, start + n)


def labelled(rng, n=400, flip=0.15, start=0):
    """0/1 labels of a + b > 6, a share ``flip`` of them flipped: no classifier is much above 1 - flip."""
    X = rng.uniform(1.0, 5.0, size=(n, 3))
    y = (X[:, 0] + X[:, 1] > 6).astype(float)
    flipped = rng.random(n) < flip
    y[flipped] = 1 - y[flipped]
    return {name: X[:, i] for i, name in enumerate(FEATURES)} | {"y": y}, np.arange(start, start + n)


def trainer(store=None, fleet_retrain_every=0, **config):
    config.setdefault("dependentvariable", "y")
    return Trainer(TrainConfig(FEATURES, **config), store if store is not None else ModelStore(),
                   fleet_retrain_every=fleet_retrain_every, wall_clock=lambda: 1_700_000_000.0)


# -- the gate ------------------------------------------------------------------

def test_a_first_model_below_the_threshold_is_never_deployed_then_one_above_it_is(rng):
    t = trainer(metric="mae", accuracythreshold=0.5)
    columns, times = window(rng, noise=3.0)
    outcome = t.train_window("d1", columns, times)
    assert outcome.challenger_score["mae"] > 0.5
    assert (outcome.status, outcome.deployed, outcome.reason) == ("kept", False, BELOW_THRESHOLD)
    assert outcome.detail == f"above accuracythreshold 0.5 (mae is an error): mae {outcome.challenger_score['mae']:.6g}"
    # The store holds no champion for it: nothing answers as the entity.
    assert t.store.document("d1") is None and t.store.model("d1") is None
    with pytest.raises(NoModel):
        Predictor(t.store).predict_one("d1", [1.0, 1.0, 1.0])
    point = model_fields(outcome.challenger, deployed=outcome.deployed)
    assert point["Deployed"] == 0 and point["Metricvalue"] == outcome.challenger_score["mae"]
    assert t.reasons_[BELOW_THRESHOLD] == 1 and BELOW_THRESHOLD in REASONS and t.counts_["kept"] == 1

    columns, times = window(rng, noise=0.01, start=1000)
    passed = t.train_window("d1", columns, times)
    assert passed.deployed and passed.reason is None and passed.detail == ""
    assert t.store.document("d1")["version"] == 1  # the first champion: the gated one was never stored
    assert Predictor(t.store).predict_one("d1", [1.0, 1.0, 1.0])["Answeredby"] == "entity"


@pytest.mark.parametrize("metric", ["mape", "smape", "mae", "rmse"])
def test_a_regression_threshold_fails_what_scores_above_it(rng, metric):
    columns, times = window(rng, noise=1.0)
    score = trainer(metric=metric).train_window("d", columns, times).challenger_score[metric]
    # The same window, so the same challenger and score; only the gate differs.
    above = trainer(metric=metric, accuracythreshold=score * 0.99).train_window("d", columns, times)
    at = trainer(metric=metric, accuracythreshold=score).train_window("d", columns, times)
    below = trainer(metric=metric, accuracythreshold=score * 1.01).train_window("d", columns, times)
    assert (above.status, above.reason) == ("kept", BELOW_THRESHOLD)
    assert above.detail.startswith(f"above accuracythreshold {score * 0.99:g} ({metric} is an error)")
    assert at.deployed and below.deployed and at.reason is None


def test_a_classification_threshold_fails_what_scores_below_it(rng):
    columns, times = labelled(rng)
    accuracy = trainer(islogistic=1).train_window("d", columns, times).challenger_score["accuracy"]
    assert 0.5 < accuracy < 0.98
    below = trainer(islogistic=1, accuracythreshold=accuracy + 0.01).train_window("d", columns, times)
    at = trainer(islogistic=1, accuracythreshold=accuracy).train_window("d", columns, times)
    above = trainer(islogistic=1, accuracythreshold=accuracy - 0.01).train_window("d", columns, times)
    assert (below.status, below.reason) == ("kept", BELOW_THRESHOLD)
    assert below.detail == f"below accuracythreshold {accuracy + 0.01:g}: accuracy {accuracy:.6g}"
    assert at.deployed and above.deployed


def test_a_better_challenger_below_the_threshold_leaves_the_champion(rng):
    t = trainer(metric="mae", accuracythreshold=0.5)
    columns, times = window(rng, noise=0.01)
    assert t.train_window("d1", columns, times).deployed
    champion = t.store.document("d1")
    # A challenger on another relation, noisy: whatever the champion scores on it, the gate refuses it.
    columns, times = window(rng, coef=(-3.0, 4.0, 1.0), noise=3.0, start=1000)
    outcome = t.train_window("d1", columns, times)
    assert (outcome.status, outcome.reason) == ("kept", BELOW_THRESHOLD)
    assert outcome.champion_score["mae"] > outcome.challenger_score["mae"]  # it would have won without the gate
    kept = t.store.document("d1")
    assert kept["params"] == champion["params"] and kept["version"] == 1
    assert kept["windows_until"] == 1199  # the window was judged: a replay of it is skipped
    assert t.train_window("d1", columns, times).status == "skipped"


def test_the_gate_is_off_by_default(rng):
    columns, times = window(rng, noise=50.0)
    assert TrainConfig(FEATURES, "y").accuracythreshold == 0.0
    assert trainer().train_window("d", columns, times).deployed


@pytest.mark.parametrize("config, message", [
    ({"islogistic": 1, "accuracythreshold": 1.5}, "accuracythreshold 1.5 is above 1"),
    ({"accuracythreshold": -0.1}, "accuracythreshold must be a number >= 0.0, got -0.1"),
])
def test_a_bad_threshold_is_a_clear_error(config, message):
    with pytest.raises(ValueError, match=message.replace(".", r"\.")):
        TrainConfig(FEATURES, "y", **config)


# -- who answers an entity whose models failed the gate ------------------------

def gated_fleet(rng, store):
    """d1 and d2 pass (the fleet model is trained on them after windows 1 and 2); noisy fails."""
    t = trainer(store, fleet_retrain_every=100, accuracythreshold=0.05)
    for key in ("d1", "d2"):
        assert t.train_window(key, *window(rng)).deployed
    gated = t.train_window("noisy", *window(rng, intercept=1.0, noise=20.0))
    assert gated.reason == BELOW_THRESHOLD and store.document("noisy") is None
    assert FLEET_KEY in store
    return t


def test_the_fleet_answers_a_gated_entity_or_nobody_when_told(rng):
    store = ModelStore()
    gated_fleet(rng, store)
    assert Predictor(store).predict_one("noisy", [1.0, 2.0, 3.0])["Answeredby"] == "fleet"
    with pytest.raises(NoModel):
        Predictor(store, use_fleet=False).predict_one("noisy", [1.0, 2.0, 3.0])
    assert Predictor(store, use_fleet=False).predict_one("d1", [1.0, 2.0, 3.0])["Answeredby"] == "entity"


def test_a_fleet_model_below_the_threshold_answers_nobody(rng):
    store = ModelStore()
    t = trainer(store, fleet_retrain_every=100, accuracythreshold=0.05)
    outcome = t.train_window("noisy", *window(rng, intercept=1.0, noise=20.0))
    assert outcome.reason == BELOW_THRESHOLD
    assert FLEET_KEY not in store and t.reasons_[BELOW_THRESHOLD] == 2  # the entity's and the fleet's
    with pytest.raises(NoModel):
        Predictor(store).predict_one("noisy", [1.0, 2.0, 3.0])


def _request(**kwargs) -> bytes:
    return encode_frame(udf_pb2.Request(**kwargs).SerializeToString())


def _point(device, t):
    p = udf_pb2.Point(time=t, name="readings", group=f"device_id={device},", tags={"device_id": device},
                      dimensions=["device_id"])
    for name, value in zip(FEATURES, (1.0, 2.0, 3.0)):
        p.fieldsDouble[name] = value
    return p


@pytest.mark.parametrize("fallback", [None, "fleet", "none"])
def test_the_predict_udf_falls_back_as_its_option_says(rng, tmp_path, monkeypatch, fallback):
    monkeypatch.setenv("TICKML_MODEL_ROOT", str(tmp_path))
    gated_fleet(rng, ModelStore(tmp_path / "y"))
    init = udf_pb2.InitRequest(taskID="t", nodeID="predict2")
    init.options.add(name="model", values=[udf_pb2.OptionValue(type=udf_pb2.STRING, stringValue="y")])
    init.options.add(name="model_dir", values=[udf_pb2.OptionValue(type=udf_pb2.STRING, stringValue=str(tmp_path))])
    if fallback is not None:
        init.options.add(name="fallback", values=[udf_pb2.OptionValue(type=udf_pb2.STRING, stringValue=fallback)])
    stdin = _request(init=init) + _request(point=_point("noisy", 1)) + _request(point=_point("d1", 2))
    responses, log = run_process_udf("udfs.predict", stdin, cwd=REPO)
    assert responses[0].init.success, responses[0].init.error
    answers = [(r.point.tags["device_id"], r.point.fieldsString["Answeredby"]) for r in responses[1:]]
    if fallback == "none":
        assert answers == [("d1", "entity")]
        assert "entity 'noisy' has no 'y' champion of its own (fallback 'none')" in log
    else:
        assert answers == [("noisy", "fleet"), ("d1", "entity")]


# -- coefficients per field ----------------------------------------------------

def lstsq(X, y):
    """Intercept and slopes of ordinary least squares, by numpy alone."""
    solution, *_ = np.linalg.lstsq(np.column_stack([np.ones(len(y)), X]), y, rcond=None)
    return solution[0], solution[1:]


@pytest.mark.parametrize("transformtype", ["", "lin-log"])
def test_linear_coefficients_are_least_squares_on_the_original_scale(rng, transformtype):
    columns, times = window(rng, noise=0.5)
    outcome = trainer(algorithm="linear", transformtype=transformtype).train_window("d", columns, times)
    assert outcome.deployed
    fields = model_fields(outcome.challenger, deployed=True)
    X = np.column_stack([columns[f] for f in FEATURES])  # the deployed model saw every row of the window
    intercept, coef = lstsq(np.log(X) if transformtype else X, columns["y"])
    assert [fields[f"coef_{f}"] for f in FEATURES] == pytest.approx(coef.tolist(), rel=1e-9, abs=1e-9)
    assert fields["intercept"] == pytest.approx(intercept, rel=1e-9, abs=1e-9)
    # The seed's field is unchanged: constant first, on min-max scaled inputs.
    assert len(fields["ParameterEstimates"].split(",")) == 4
    assert float(fields["ParameterEstimates"].split(",")[1]) != pytest.approx(fields["coef_a"], rel=1e-3)


@pytest.mark.parametrize("algorithm", ["logistic", "ridge"])
def test_coefficients_are_what_the_model_predicts_with(rng, algorithm):
    columns, times = labelled(rng) if algorithm == "logistic" else window(rng, noise=0.5)
    t = trainer(algorithm=algorithm, islogistic=int(algorithm == "logistic"))
    assert t.train_window("d", columns, times).deployed
    fields = model_fields(t.store.document("d"), deployed=True)
    X = np.column_stack([columns[f] for f in FEATURES])
    linear = fields["intercept"] + X @ np.array([fields[f"coef_{f}"] for f in FEATURES])
    predicted = t.store.model("d").predict_rows(X)
    if algorithm == "logistic":
        predicted = np.log(predicted / (1 - predicted))  # the log-odds
    np.testing.assert_allclose(linear, predicted, rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("algorithm", ["gradient_boosting", "neural_network", "quadratic"])
def test_other_models_have_no_coefficient_fields(rng, algorithm):
    columns, times = window(rng, n=160)
    outcome = trainer(algorithm=algorithm, seed=1).train_window("d", columns, times)
    fields = model_fields(outcome.challenger, deployed=outcome.deployed)
    assert not [k for k in fields if k.startswith("coef_") or k == "intercept"]
    assert "ParameterEstimates" not in fields


# -- what was written before still loads ---------------------------------------

# A champion as the store wrote it before the gate and the coefficient fields (no field of them in it).
OLD_DOCUMENT = ('{"schema":1,"key":"d1","version":3,"algorithm":"linear","task":"regression","target":"y",'
                '"features":["a","b","c"],"transform":"","min":[1.0,1.0,1.0],"max":[5.0,5.0,5.0],'
                '"params":{"coef":[8.0,-4.0,2.0],"intercept":11.5},"hyper":{"task":"regression"},'
                '"metric":{"mape":0.001},"replaced":null,"rows":200,"window_rows":200,"holdout_rows":50,'
                '"created":"2025-01-01T00:00:00.000Z","primary_metric":"mape","until":199,"windows_until":199,'
                '"windows":4}')


def test_documents_and_snapshots_written_before_still_load(rng, tmp_path):
    doc = decode(OLD_DOCUMENT)
    fields = model_fields(doc, deployed=True)
    # coef 8 over a span of 4 is 2 per unit; intercept 11.5 - (2 - 1 + 0.5) = 10.
    assert (fields["coef_a"], fields["coef_b"], fields["coef_c"], fields["intercept"]) == (2.0, -1.0, 0.5, 10.0)
    # A Kapacitor snapshot of the train UDF as it was taken before (no part of it is new).
    old_state = {"schema": 1, "counts": {"deployed": 3, "kept": 1}, "reasons": {"constant_target": 1},
                 "store": {"schema": 1, "kind": "tickml.learn.store", "models": [doc], "fleet": None}}
    t = trainer(ModelStore(tmp_path), metric="mae", accuracythreshold=0.5)
    t.import_state(json.loads(json.dumps(old_state)))
    assert t.store.document("d1") == doc
    assert Predictor(t.store).predict_one("d1", [1.0, 1.0, 1.0])["Hyperprediction"] == pytest.approx(11.5)
    # The old champion stays until a challenger passes the gate.
    outcome = t.train_window("d1", *window(rng, noise=3.0, start=200))
    assert outcome.reason == BELOW_THRESHOLD and t.store.document("d1")["version"] == 3
    # One that passes and beats it (the device changed: the old champion, exact before, is off now) replaces it.
    assert t.train_window("d1", *window(rng, coef=(3.0, -1.0, 0.5), noise=0.01, start=400)).deployed
    assert t.store.document("d1")["version"] == 4
