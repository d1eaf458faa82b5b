"""The short-window path of ``Plan``: every type's pure-Python form against numpy and the references."""

import math

import numpy as np
import pytest

from udfs.windowstats import REGISTRY, Plan, compute, parse_type
from udfs.windowstats.small import SMALL_WINDOW
from udfs.windowstats.window import kind_of

from .references import REFERENCES, VARIANTS
from .test_preprocess_types import assert_close
from .windows import value_windows

SMALL_TYPES = sorted(name for name, entry in REGISTRY.items() if entry.small is not None)


def test_the_common_types_have_a_short_window_form():
    assert {"avg", "min", "max", "trend", "anomprob", "median", "variance", "count", "sum"} <= set(SMALL_TYPES)


def _as_column(values):
    """A window as the UDF reads it from a batch: float64, NaN where a value is not a number."""
    return np.array([float(v) if kind_of(v) in ("number", "boolean") else math.nan for v in values], dtype=float)


def _cases():
    for name in SMALL_TYPES:
        for spec, params in VARIANTS.get(name, [(name, {})]):
            for label, values, times in value_windows():
                column = _as_column(values)
                if len(column) <= SMALL_WINDOW:
                    yield pytest.param(name, spec, params, column, times, id=f"{spec}-{params}-{label}")


@pytest.mark.parametrize("name, spec, params, column, times", list(_cases()))
def test_short_window_form_matches_the_reference_and_numpy(name, spec, params, column, times):
    parsed = parse_type(spec, **params)
    plan = Plan([parsed])
    assert plan._small
    result = plan.compute(column, times)
    expected = REFERENCES[name]([v for v in column.tolist() if math.isfinite(v)], times, dict(parsed.params))
    if isinstance(expected, float) and not math.isfinite(expected):
        expected = None
    assert_close(result.values[parsed.text], expected, f"{spec} short form on {column!r}")
    assert_close(result.values[parsed.text], compute(parsed, column.tolist()), f"{spec} short form vs numpy")
    assert result.skipped == int((~np.isfinite(column)).sum())


@pytest.mark.parametrize("name", SMALL_TYPES)
def test_short_window_form_equals_numpy_at_every_length(name):
    rng = np.random.default_rng(7)
    parsed = parse_type(name)
    for n in range(0, SMALL_WINDOW + 1):
        for column in (rng.normal(50, 10, n), np.round(rng.normal(0, 2, n)), np.full(n, 3.25)):
            small = Plan([parsed]).compute(column).values[name]
            numpy_path = compute(parsed, column.tolist())
            assert_close(small, numpy_path, f"{name} on {n} values")


def test_a_plan_with_a_type_lacking_a_short_form_takes_numpy_for_all():
    plan = Plan(["avg", "kurtosis"])
    assert not plan._small
    x = np.array([1.0, 2.0, 4.0, 8.0, 16.0])
    assert plan.compute(x).values["avg"] == 6.2
