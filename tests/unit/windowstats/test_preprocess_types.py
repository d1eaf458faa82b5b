"""Every registered type against an independent computation, on every test window."""

import math

import numpy as np
import pytest

from udfs.windowstats import REGISTRY, compute, parse_type

from .references import REFERENCES, VARIANTS
from .windows import extreme_windows, position_windows, value_windows


def test_every_registered_type_has_a_reference():
    assert set(REFERENCES) == set(REGISTRY)


def _cases():
    for name, entry in sorted(REGISTRY.items()):
        variants = VARIANTS.get(name, [(entry.example or name, {})])
        windows = position_windows() if entry.reads == "positions" else value_windows()
        for spec, params in variants:
            for label, values, times in windows:
                yield pytest.param(name, spec, params, values, times, id=f"{spec}-{params}-{label}")


def assert_close(actual, expected, context):
    if expected is None:
        assert actual is None, context
        return
    assert actual is not None, context
    if isinstance(expected, dict):
        assert set(actual) == set(expected), context
        for key in expected:
            assert_close(actual[key], expected[key], f"{context} [{key}]")
        return
    assert isinstance(actual, float), context
    assert math.isfinite(actual), context
    assert actual == pytest.approx(expected, rel=1e-9, abs=1e-9), context


@pytest.mark.parametrize("name, spec, params, values, times", list(_cases()))
def test_matches_independent_computation(name, spec, params, values, times):
    parsed = parse_type(spec, **params)
    expected = REFERENCES[name](values, times, dict(parsed.params))
    if isinstance(expected, float) and not math.isfinite(expected):
        expected = None  # the reference overflowed where the library promises None
    if isinstance(expected, dict) and not all(math.isfinite(v) for v in expected.values()):
        expected = None
    actual = compute(spec, values, times, **params)
    assert_close(actual, expected, f"{spec} {params} on {values!r}")


def test_inputs_are_not_mutated():
    values = [3.0, "x", 1.0, math.nan, 2.0, 9.0, 4.0, 1.0]
    array = np.array([3.0, 1.0, 2.0, 9.0, 4.0, 1.0, 5.0])
    for name, entry in REGISTRY.items():
        if entry.reads in ("numbers", "strings", "values"):
            spec = entry.example or name
            before, array_before = list(values), array.copy()
            compute(spec, values, list(range(len(values))))
            compute(spec, array, list(range(len(array))))
            assert values[:3] == before[:3] and math.isnan(values[3]) and values[4:] == before[4:], name
            assert np.array_equal(array, array_before), name


@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_one_point_shorter_than_the_minimum_gives_none(name):
    spec = parse_type(REGISTRY[name].example or name)
    rng = np.random.default_rng(3)
    if spec.type.reads == "positions":
        window = [(float(a), float(b)) for a, b in rng.uniform(-50, 50, (spec.min_length, 2))]
    elif spec.type.reads == "strings":
        window = [f"s{i}" for i in range(spec.min_length)]
    else:
        window = rng.lognormal(0, 1, spec.min_length).tolist()
    times = list(range(0, 10**9 * len(window), 10**9))
    params = {"now": 10**18} if "now" in spec.params else {}
    assert compute(spec.text, window, times, **params) is not None
    if spec.min_length > 0:
        assert compute(spec.text, window[:-1], times[:-1], **params) is None


@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_extreme_values_give_finite_values_or_none(name):
    entry = REGISTRY[name]
    if entry.reads == "positions":
        pytest.skip("positions are bounded by validity checks")
    for spec, params in VARIANTS.get(name, [(entry.example or name, {})]):
        for label, values, times in extreme_windows():
            with np.errstate(all="ignore"):
                result = compute(spec, values, times, **params)
            flat = result.values() if isinstance(result, dict) else [result]
            for value in flat:
                assert value is None or (isinstance(value, float) and math.isfinite(value)), (spec, label)
