"""Training options, transforms and scaling."""

import numpy as np
import pytest

from udfs.learn import TrainConfig, get_transform
from udfs.learn.scaling import apply_minmax, fit_minmax


def test_defaults_pick_linear_or_logistic():
    assert TrainConfig("a,b", "y").algorithm == "linear"
    assert TrainConfig(["a"], "y", islogistic=1).algorithm == "logistic"


def test_all_problems_reported_at_once():
    with pytest.raises(ValueError) as err:
        TrainConfig("", "", algorithm="svm", modelruns=-1, transformtype="log", holdout_fraction=1.5)
    message = str(err.value)
    for part in ["independentvariables must name", "dependentvariable must be set", "algorithm must be one of",
                 "modelruns must be", "transformtype must be one of", "holdout_fraction"]:
        assert part in message


def test_processlogic_rules():
    with pytest.raises(ValueError, match="islogistic must be 1"):
        TrainConfig("V", processlogic="classification_name=f:V=1,n")
    with pytest.raises(ValueError, match="differs from the processlogic label"):
        TrainConfig("V", "g", islogistic=1, processlogic="classification_name=f:V=1,n")
    c = TrainConfig("V", islogistic=1, processlogic="classification_name=f:V=1,n:C=-n,3")
    assert c.inputs == ("V", "C")


def test_log_of_label_refused_and_target_not_a_feature():
    with pytest.raises(ValueError, match="logs the dependent variable"):
        TrainConfig("a", "y", islogistic=1, transformtype="log-log")
    with pytest.raises(ValueError, match="also an independent variable"):
        TrainConfig("a,y", "y")


@pytest.mark.parametrize("name, logs_y, logs_x", [
    ("", False, False), ("none", False, False), ("log-lin", True, False),
    ("lin-log", False, True), ("LOG-LOG", True, True)])
def test_transform_names(name, logs_y, logs_x):
    t = get_transform(name)
    assert (t.log_target, t.log_features) == (logs_y, logs_x)


def test_transform_nonpositive_inputs_become_nan():
    t = get_transform("lin-log")
    out = t.features(np.array([[1.0, 0.0], [np.e, -1.0]]))
    assert out[0, 0] == 0.0 and out[1, 0] == pytest.approx(1.0)
    assert np.isnan(out[:, 1]).all()


def test_minmax_constant_feature_does_not_divide_by_zero():
    X = np.array([[1.0, 7.0], [3.0, 7.0]])
    lo, hi = fit_minmax(X)
    np.testing.assert_array_equal(apply_minmax(X, lo, hi), [[0.0, 0.0], [1.0, 0.0]])
