"""Each algorithm's exported dict predicts exactly what the fitted model predicts."""

import json

import numpy as np
import pytest

from sklearn.ensemble import GradientBoostingClassifier, GradientBoostingRegressor
from sklearn.linear_model import LinearRegression as SkLinear
from sklearn.linear_model import LogisticRegression as SkLogistic
from sklearn.linear_model import Ridge as SkRidge
from sklearn.neural_network import MLPClassifier, MLPRegressor

from udfs.learn.algorithms import (
    ALGORITHMS, CLASSIFICATION, REGRESSION, GradientBoosting, LinearRegression,
    LogisticRegression, NeuralNetwork, RidgeRegression,
)

# Few iterations keep the tests fast; equality with scikit-learn holds either way.
pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


@pytest.fixture
def rng():
    """A fixed generator: every test is deterministic."""
    return np.random.default_rng(12345)


@pytest.fixture
def data(rng):
    X = rng.random((300, 4))
    y_reg = 1.0 + X @ np.array([2.0, -3.0, 0.5, 0.0]) + rng.normal(0, 0.1, 300)
    y_cls = (X[:, 0] - X[:, 1] + rng.normal(0, 0.2, 300) > 0).astype(float)
    return X, y_reg, y_cls


def roundtrip(params):
    return json.loads(json.dumps(params))


def test_linear_matches_sklearn(data):
    X, y, _ = data
    ours = LinearRegression().fit(X, y)
    np.testing.assert_allclose(ours.predict(X), SkLinear().fit(X, y).predict(X), rtol=1e-10, atol=1e-10)


def test_ridge_matches_sklearn(data):
    X, y, _ = data
    ours = RidgeRegression(alpha=0.7).fit(X, y)
    np.testing.assert_allclose(ours.predict(X), SkRidge(alpha=0.7).fit(X, y).predict(X), rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("C", [0.1, 1.0, 100.0])
def test_logistic_matches_sklearn(data, C):
    X, _, y = data
    ours = LogisticRegression(C=C).fit(X, y)
    theirs = SkLogistic(C=C, tol=1e-12, max_iter=10_000).fit(X, y)
    np.testing.assert_allclose(ours.params_["coef"], theirs.coef_[0], rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(ours.predict(X), theirs.predict_proba(X)[:, 1], atol=1e-6)


def test_gradient_boosting_regressor_dict_equals_sklearn(data):
    X, y, _ = data
    ours = GradientBoosting(n_estimators=40, max_depth=3, seed=1).fit(X, y)
    theirs = GradientBoostingRegressor(n_estimators=40, max_depth=3, random_state=1).fit(X, y)
    X_new = np.random.default_rng(7).random((500, 4))
    np.testing.assert_allclose(GradientBoosting.evaluate(roundtrip(ours.params_), X_new),
                               theirs.predict(X_new), rtol=1e-12, atol=1e-12)


def test_gradient_boosting_classifier_dict_equals_sklearn(data):
    X, _, y = data
    ours = GradientBoosting(task=CLASSIFICATION, n_estimators=30, max_depth=2, seed=3).fit(X, y)
    theirs = GradientBoostingClassifier(n_estimators=30, max_depth=2, random_state=3).fit(X, y)
    np.testing.assert_allclose(GradientBoosting.evaluate(roundtrip(ours.params_), X),
                               theirs.predict_proba(X)[:, 1], rtol=1e-12, atol=1e-12)


def test_gradient_boosting_split_boundaries_match_sklearn(data):
    X, y, _ = data
    theirs = GradientBoostingRegressor(n_estimators=10, random_state=0).fit(X, y)
    ours = GradientBoosting(n_estimators=10, seed=0).fit(X, y)
    thresholds = np.array([t for tree in ours.params_["trees"] for t in tree["threshold"]])
    # Inputs sitting exactly on thresholds exercise the float32 comparison.
    X_edge = np.tile(thresholds[:40, None], (1, 4))
    np.testing.assert_allclose(ours.predict(X_edge), theirs.predict(X_edge), rtol=1e-12)


@pytest.mark.parametrize("activation", ["relu", "tanh"])
def test_mlp_regressor_dict_equals_sklearn(data, activation):
    X, y, _ = data
    kw = dict(hidden_layer_sizes=(8, 4), activation=activation, solver="lbfgs", max_iter=80, random_state=0)
    ours = NeuralNetwork(hidden_layer_sizes=[8, 4], activation=activation, max_iter=80, seed=0).fit(X, y)
    theirs = MLPRegressor(**kw).fit(X, y)
    np.testing.assert_allclose(NeuralNetwork.evaluate(roundtrip(ours.params_), X), theirs.predict(X), rtol=1e-10)


def test_mlp_classifier_dict_equals_sklearn(data):
    X, _, y = data
    ours = NeuralNetwork(task=CLASSIFICATION, hidden_layer_sizes=[6], max_iter=80, seed=2).fit(X, y)
    theirs = MLPClassifier(hidden_layer_sizes=(6,), solver="lbfgs", max_iter=80, random_state=2).fit(X, y)
    np.testing.assert_allclose(NeuralNetwork.evaluate(roundtrip(ours.params_), X),
                               theirs.predict_proba(X)[:, 1], rtol=1e-10)


@pytest.mark.parametrize("key", list(ALGORITHMS))
def test_params_are_plain_json(data, key):
    X, y_reg, y_cls = data
    cls = ALGORITHMS[key]
    task = cls.tasks[0]
    model = cls.create(task).fit(X, y_cls if task == CLASSIFICATION else y_reg)
    assert roundtrip(model.params_) == model.params_
    np.testing.assert_array_equal(cls.evaluate(roundtrip(model.params_), X), model.predict(X))


@pytest.mark.parametrize("key", ["linear", "ridge", "quadratic", "gradient_boosting", "neural_network"])
def test_regressors_recover_known_relation(rng, key):
    X = rng.random((400, 2))
    y = 5.0 + 3.0 * X[:, 0] - 2.0 * X[:, 1]
    model = ALGORITHMS[key].create(REGRESSION).fit(X[:300], y[:300])
    assert np.abs(model.predict(X[300:]) - y[300:]).mean() < 0.15


@pytest.mark.parametrize("key", ["logistic", "gradient_boosting", "neural_network"])
def test_classifiers_recover_known_boundary(rng, key):
    X = rng.random((600, 2))
    y = (X[:, 0] + X[:, 1] > 1.0).astype(float)
    model = ALGORITHMS[key].create(CLASSIFICATION).fit(X[:450], y[:450])
    assert np.mean((model.predict(X[450:]) >= 0.5) == y[450:]) > 0.9


def test_linear_recovers_coefficients(rng):
    X = rng.random((200, 3))
    y = 1.5 + X @ np.array([1.0, -2.0, 3.0])
    model = LinearRegression().fit(X, y)
    np.testing.assert_allclose(model.params_["coef"], [1.0, -2.0, 3.0], atol=1e-9)
    assert model.params_["intercept"] == pytest.approx(1.5)


def test_task_mismatch_is_a_clear_error(data):
    X, y, _ = data
    with pytest.raises(ValueError, match="does not support task 'classification'"):
        LinearRegression(task=CLASSIFICATION).fit(X, y)


PRIOR = dict(prior_coef=[1.0], prior_spread=[1.0 / 12], prior_centre=[0.5], prior_level=0.0)  # x uniform on [0, 1]


def test_shrinkage_moves_from_the_prior_to_own_slopes_as_rows_accumulate(rng):
    own_slope = 3.0
    slopes = []
    for n in (3, 30, 3000):
        X = rng.random((n, 1))
        y = 5.0 + own_slope * X[:, 0] + rng.normal(0, 0.01, n)
        slopes.append(LinearRegression(prior_rows=8.0, **PRIOR).fit(X, y).params_["coef"][0])
    assert 1.0 < slopes[0] < slopes[1] < slopes[2] < own_slope
    assert slopes[2] == pytest.approx(own_slope, rel=0.01)


def test_slope_shrinkage_keeps_own_level(rng):
    X = rng.random((5, 1))
    y = 100.0 + 1.0 * X[:, 0]
    model = LinearRegression(prior_rows=1e9, **PRIOR).fit(X, y)
    np.testing.assert_allclose(model.predict(X), y, atol=1e-6)


def test_level_shrinkage_takes_the_fleet_level_at_the_window_s_own_features(rng):
    X = 3.0 + rng.random((4, 1))  # far from the fleet's centre (0.5)
    y = 100.0 + 1.0 * X[:, 0]
    model = LinearRegression(prior_rows=1e9, level_rows=1e9, **PRIOR).fit(X, y)
    # The fleet's line (level 0 at x = 0.5, slope 1), not the window's own level.
    np.testing.assert_allclose(model.predict(X), X[:, 0] - 0.5, atol=1e-5)
    assert model.hyperparameters() == {"task": REGRESSION, "prior_rows": 1e9, "level_rows": 1e9}


def test_shrunk_solutions_equal_one_fit_per_strength(rng):
    from udfs.learn.algorithms.linear import shrunk_solutions
    X = rng.random((9, 2))
    y = 1.0 + X @ np.array([2.0, -1.0]) + rng.normal(0, 0.3, 9)
    prior = dict(prior_coef=[1.0, 0.0], prior_spread=[0.1, 0.2], prior_centre=[0.4, 0.6], prior_level=2.0)
    grid = np.array([0.0, 1.0, 5.0, 50.0])
    coef, intercept = shrunk_solutions(X, y, grid, 3.0, *(np.asarray(prior[k], dtype=float) for k in
                                                       ("prior_coef", "prior_spread", "prior_centre")), 2.0)
    for g, rows in enumerate(grid):
        one = LinearRegression(prior_rows=rows, level_rows=3.0, **prior).fit(X, y).params_
        np.testing.assert_allclose(coef[g], one["coef"], rtol=1e-12)
        assert intercept[g] == pytest.approx(one["intercept"], rel=1e-12)


@pytest.mark.parametrize("key", list(ALGORITHMS))
def test_registry_conformance(key):
    import inspect
    cls = ALGORITHMS[key]
    assert cls.key == key and cls.label and cls.code and cls.tasks
    assert cls.seeded == ("seed" in inspect.signature(cls).parameters)
    assert "task" in cls().hyperparameters()  # constructors only store their arguments
