"""CompiledModel.predict_row's shortcut for one or two plain linear inputs gives the general path's floats exactly."""

import math
import operator

import numpy as np
import pytest

from udfs.learn.compiled import CompiledModel


def _doc(k: int, rng, transform: str = "", task: str = "regression", algorithm: str = "linear") -> dict:
    lo = rng.uniform(-5, 5, k)
    return {"algorithm": algorithm, "task": task, "features": [f"f{j}" for j in range(k)], "transform": transform,
            "min": lo.tolist(), "max": (lo + rng.uniform(0.1, 20, k)).tolist(), "version": 1,
            "params": {"coef": rng.normal(0, 3, k).tolist(), "intercept": float(rng.normal())}}


@pytest.mark.parametrize("k", [1, 2, 3])
def test_plain_linear_rows_are_the_general_sum(k):
    rng = np.random.default_rng(k)
    for _ in range(200):
        model = CompiledModel(_doc(k, rng))
        values = rng.uniform(-100, 100, k).tolist()
        w = model._weights
        # The general path, as predict_row computes it for any number of inputs.
        general = w[0] + (math.fsum(map(operator.mul, w[1:], values)) if k > 8 else sum(map(operator.mul, w[1:], values)))
        assert model.predict_row(values) == general
        assert model.predict_row(values) == pytest.approx(float(model.predict_rows(np.array([values]))[0]), rel=1e-12)


@pytest.mark.parametrize("transform,task,algorithm", [("log-log", "regression", "linear"),
                                                       ("", "classification", "logistic")])
def test_transformed_or_logistic_models_keep_the_general_path(transform, task, algorithm):
    rng = np.random.default_rng(0)
    model = CompiledModel(_doc(1, rng, transform, task, algorithm))
    assert not model._plain
    value = model.predict_row([2.0])
    assert value == pytest.approx(float(model.predict_rows(np.array([[2.0]]))[0]), rel=1e-12)
    if task == "classification":
        assert 0.0 < value < 1.0


def test_a_row_of_the_wrong_length_is_still_refused():
    model = CompiledModel(_doc(1, np.random.default_rng(1)))
    with pytest.raises(ValueError, match="expected 1 inputs"):
        model.predict_row([1.0, 2.0])


def test_a_zero_prediction_keeps_the_general_paths_sign():
    # sum() starts from 0, so a product of -0.0 adds up to 0.0: the shortcut must not give -0.0 instead.
    doc = {"algorithm": "linear", "task": "regression", "features": ["x"], "transform": "", "min": [0.0],
           "max": [1.0], "version": 1, "params": {"coef": [1.0], "intercept": -0.0}}
    model = CompiledModel(doc)
    assert math.copysign(1.0, model._weights[0]) == -1.0  # the case: an intercept of -0.0 and a product of -0.0
    assert math.copysign(1.0, model.predict_row([-0.0])) == 1.0
