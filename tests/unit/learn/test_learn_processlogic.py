"""The processlogic grammar, its errors, and the vectorised labeller."""

import math

import numpy as np
import pytest

from udfs.learn.processlogic import Condition, parse

SEED = "classification_name=failure_prob:Voltage_preprocessed_AnomProb=55,n:Current_preprocessed_AnomProb=55,n"


def test_seed_example_means_both_above_55():
    rule = parse(SEED)
    assert rule.label == "failure_prob"
    assert rule.fields == ("Voltage_preprocessed_AnomProb", "Current_preprocessed_AnomProb")
    labels = rule.apply({
        "Voltage_preprocessed_AnomProb": np.array([60.0, 60.0, 40.0, 55.0, 56.0]),
        "Current_preprocessed_AnomProb": np.array([70.0, 50.0, 70.0, 60.0, 55.1]),
    })
    assert labels.tolist() == [1.0, 0.0, 0.0, 0.0, 1.0]  # 55 itself is not "greater than 55"


def test_seed_less_than_form_and_spaces():
    rule = parse(" classification_name = failure_prob : Voltage = -n, 55 : Current = -n,55 ")
    assert rule.conditions == (Condition("Voltage", -math.inf, 55.0), Condition("Current", -math.inf, 55.0))
    assert rule.apply({"Voltage": [10, 60], "Current": [54.9, 1]}).tolist() == [1.0, 0.0]


def test_range_and_negative_and_float_bounds():
    rule = parse("classification_name=ok:t=-10.5,2e1")
    assert rule.apply({"t": np.array([-10.5, -10.4, 19.99, 20.0])}).tolist() == [0.0, 1.0, 1.0, 0.0]


def test_nan_makes_condition_false():
    rule = parse("classification_name=x:a=-n,n")
    assert rule.apply({"a": np.array([1.0, np.nan])}).tolist() == [1.0, 0.0]


@pytest.mark.parametrize("text, message", [
    ("", "non-empty string"),
    ("failure_prob:V=55,n", "must start with 'classification_name=<label>'"),
    ("classification=failure_prob:V=55,n", "must start with 'classification_name=<label>'"),
    ("classification_name=:V=55,n", "label after 'classification_name=' is empty"),
    ("classification_name=fail", "has no conditions"),
    ("classification_name=fail:V55,n", "must look like '<field>=<lower>,<upper>'"),
    ("classification_name=fail:=55,n", "must look like '<field>=<lower>,<upper>'"),
    ("classification_name=fail:V=55", "bounds must be 'lower,upper'"),
    ("classification_name=fail:V=1,2,3", "bounds must be 'lower,upper'"),
    ("classification_name=fail:V=n,55", "lower bound must be a number or '-n', got 'n'"),
    ("classification_name=fail:V=55,-n", "upper bound must be a number or 'n', got '-n'"),
    ("classification_name=fail:V=abc,n", "lower bound must be a number"),
    ("classification_name=fail:V=inf,n", "is not finite"),
    ("classification_name=fail:V=60,50", "lower bound 60 must be below upper bound 50"),
    ("classification_name=fail:V=5,5", "must be below"),
    ("classification_name=fail:V=1,n::C=1,n", "empty condition"),
    ("classification_name=fail:V=1,n:V=2,n", "appears in more than one condition"),
])
def test_errors_say_what_is_wrong(text, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)").replace("<", "<")):
        parse(text)


def test_missing_field_at_apply_time():
    with pytest.raises(ValueError, match="field 'C' is not in the data"):
        parse("classification_name=f:V=1,n:C=1,n").apply({"V": [2.0]})
