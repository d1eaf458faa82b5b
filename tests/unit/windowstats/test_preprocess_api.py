"""The public API: names, errors, several types per window, skipped counts, batches."""

import math

import numpy as np
import pytest
from scipy import stats

from udfs.windowstats import (
    REGISTRY,
    Plan,
    compute,
    compute_batch,
    compute_many,
    output_names,
    parse_type,
    type_names,
)
from udfs.windowstats.distributions import t_quantile_two_sided
from udfs.windowstats.params import Choice, Integer, IntegerOrAll, Real

SEED_TYPES = """anomprob anomprob2-5 autocorr avg avgtimediff consistency count countstr cv
dataage_1_minute diff diffmargin entropy geodiff gm hm iqr kurtosis mad max median meanci95
meanci99 midhinge min outliers outliers2-5 raw skewness spikedetect sum timediff trend trimean
unique uniquestr variance varied""".split()


def test_every_type_of_the_seed_table_parses():
    assert {parse_type(name).type.name for name in SEED_TYPES} == set(REGISTRY)


@pytest.mark.parametrize(
    "field, spec, expected",
    [
        ("Voltage", "anomprob", "Voltage_preprocessed_AnomProb"),
        ("Current", "avg", "Current_preprocessed_Avg"),
        ("Voltage", "min", "Voltage_preprocessed_Min"),
        ("Power", "trend", "Power_preprocessed_Trend"),
        ("Current_preprocessed_AnomProb", "avg", "Current_preprocessed_AnomProb_preprocessed_Avg"),
        ("Voltage", "ANOMPROB3-10", "Voltage_preprocessed_AnomProb3-10"),
        ("Voltage", "outliers2-n", "Voltage_preprocessed_Outliers2-n"),
        ("Voltage", "dataage_-5_minute", "Voltage_preprocessed_DataAge_-5_minute"),
    ],
)
def test_output_names_follow_the_seed(field, spec, expected):
    assert output_names(field, spec) == (expected,)


def test_every_type_has_distinct_output_names():
    names = {}
    for entry in REGISTRY.values():
        for name in parse_type(entry.example or entry.name).output_names("F"):
            assert name.startswith("F_preprocessed_")
            assert name not in names, (name, names.get(name), entry.name)
            names[name] = entry.name


def test_multi_output_names():
    assert output_names("Current", "meanci99") == (
        "Current_preprocessed_MeanCI99_Mean",
        "Current_preprocessed_MeanCI99_Low",
        "Current_preprocessed_MeanCI99_High",
    )


def test_unknown_type_names_the_type_and_lists_the_valid_ones():
    with pytest.raises(ValueError) as error:
        compute("averag", [1.0])
    message = str(error.value)
    assert "'averag'" in message
    for name in type_names():
        assert name in message


@pytest.mark.parametrize(
    "spec, params",
    [
        ("anomprob5-2", {}),
        ("anomprob1-3", {}),
        ("outliers0-n", {}),
        ("dataage_0_week", {}),
        ("dataage_30_minute", {}),
        ("spikedetect", {"lag": 0}),
        ("spikedetect", {"influence": 1.5}),
        ("spikedetect", {"threshold": -1}),
        ("spikedetect", {"threshold": "high"}),
        ("autocorr", {"lag": 1.5}),
        ("entropy", {"bins": -1}),
        ("outliers", {"threshold": math.nan}),
        ("avg", {"lag": 3}),
        ("anomprob2-5", {"min_levels": 3}),
        ("dataage_0_minute", {"now": "yesterday"}),
    ],
)
def test_bad_parameters_raise_value_error_naming_the_type(spec, params):
    with pytest.raises(ValueError) as error:
        compute(spec, [1.0, 2.0, 3.0], [1, 2, 3], **params)
    message = str(error.value)
    assert repr(spec) in message
    assert "Parameters of" in message


@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_every_declared_parameter_is_validated(name):
    entry = REGISTRY[name]
    for param in entry.params:
        bad = {Integer: "x", Real: "x", Choice: "x", IntegerOrAll: 1}[type(param.constraint)]
        with pytest.raises(ValueError, match=param.name):
            parse_type(name, **{param.name: bad})
        assert param.default is None or param.constraint(param.default) == param.default


def test_parameters_come_from_the_name_or_keywords():
    levels = parse_type("anomprobX-Y", min_levels=3, max_levels=4).params
    assert (levels["min_levels"], levels["max_levels"]) == (3, 4)
    assert parse_type("anomprobX-Y", min_levels=3, max_levels=4).text == "anomprob3-4"
    defaults = parse_type("anomprobx-y").params
    assert (defaults["min_levels"], defaults["max_levels"], defaults["prior"]) == (2, "n", 0.05)
    assert dict(parse_type(" Dataage_5.5_Hour ").params) == {"utcoffset": 5.5, "unit": "hour", "now": None}
    assert parse_type("outlier2-5").text == "outliers2-5"


def test_time_types_need_times():
    with pytest.raises(ValueError, match="times"):
        compute("timediff", [1.0, 2.0])


def test_times_may_be_iso_strings_or_datetime64():
    iso = ["2024-08-15T19:49:08", "2024-08-15T19:49:21"]
    assert compute("timediff", [1, 2], iso) == 13.0
    assert compute("avgtimediff", [1, 2], np.array(iso, dtype="datetime64[ns]")) == 13.0


def test_mismatched_times_raise():
    with pytest.raises(ValueError, match="times"):
        compute("avg", [1.0, 2.0], [1])


def test_compute_many_reports_skipped_values():
    values = [1.0, "n/a", None, math.nan, 4.0, True, "off", math.inf]
    result = compute_many(["count", "countstr", "avg", "consistency", "uniquestr"], values)
    assert result.skipped == 5
    assert result.values == {"count": 3.0, "countstr": 2.0, "avg": 2.0, "consistency": 0.0, "uniquestr": 1.0}


def test_skipped_is_zero_without_numeric_types():
    assert compute_many(["countstr"], ["a", 1.0, None]).skipped == 0


def test_skipped_positions_for_geodiff():
    result = compute_many(["geodiff"], [(1.0, 2.0), "x", (1.0, 3.0)])
    assert result.skipped == 1
    assert result.values["geodiff"] == pytest.approx(111.178, abs=1e-2)


def test_geodiff_cannot_share_a_plan_with_single_value_types():
    with pytest.raises(ValueError, match="geodiff"):
        Plan(["geodiff", "avg"])


def test_fields_leave_out_types_without_a_value():
    result = compute_many(["avg", "variance", "meanci95"], [3.0])
    assert result.fields("Current") == {"Current_preprocessed_Avg": 3.0}


def test_plan_keys_results_by_the_name_as_given_and_accepts_specs():
    spec = parse_type("spikedetect", lag=2)
    result = Plan(["AVG", spec]).compute([1.0, 1.0, 1.0, 9.0])
    assert result.values == {"AVG": 3.0, "spikedetect": 1.0}


def test_compute_many_equals_compute_for_every_type():
    rng = np.random.default_rng(5)
    values = rng.normal(20, 4, 30).tolist() + ["x"]
    times = list(range(0, 31 * 10**9, 10**9))
    specs = [e.example or e.name for e in REGISTRY.values() if e.reads != "positions"]
    specs = [parse_type(s, now=10**18) if s.startswith("dataage") else s for s in specs]
    result = compute_many(specs, values, times)
    for spec in specs:
        key = spec if isinstance(spec, str) else spec.text
        assert result.values[key] == compute(spec, values, times), key


@pytest.mark.parametrize("length", [1, 2, 3, 4, 6, 30])
def test_batch_equals_per_window_for_every_type(length):
    rng = np.random.default_rng(length)
    rows = rng.normal(0, 3, (40, length))
    rows[5] = 2.0
    rows[7, 0] = np.nan
    rows[8] = np.nan
    rows[9, -1] = np.inf
    rows[10, :] = np.append(np.full(length - 1, 1000.0), 0.0)
    times = np.cumsum(rng.integers(1, 10**9, rows.shape), axis=1)
    specs = [e.example or e.name for e in REGISTRY.values() if e.reads != "positions"]
    specs.remove("dataage_-5_minute")
    specs.append(parse_type("dataage_-5_minute", now=10**18))
    result = compute_batch(specs, rows, times)
    assert result.skipped.tolist() == np.sum(~np.isfinite(rows), axis=1).tolist()
    for spec in specs:
        key = spec if isinstance(spec, str) else spec.text
        for i in range(len(rows)):
            expected = compute(spec, rows[i], times[i])
            got = result.values[key]
            if isinstance(expected, dict):
                for k, v in expected.items():
                    assert got[k][i] == pytest.approx(v, rel=1e-9, abs=1e-9), (key, i, k)
            elif expected is None:
                assert np.isnan(got[i]) if not isinstance(got, dict) else all(np.isnan(a[i]) for a in got.values())
            else:
                assert got[i] == pytest.approx(expected, rel=1e-9, abs=1e-9), (key, i)


def test_batch_rejects_positions_and_bad_shapes():
    with pytest.raises(ValueError):
        compute_batch(["geodiff"], np.zeros((2, 2)))
    with pytest.raises(ValueError):
        compute_batch(["avg"], np.zeros(3))


@pytest.mark.parametrize("df", [1, 2, 3, 4, 5, 9, 10, 29, 30, 99, 500, 1000, 1001, 5000, 10**6])
@pytest.mark.parametrize("confidence", [0.95, 0.99])
def test_t_quantiles_match_scipy(df, confidence):
    expected = stats.t.ppf((1 + confidence) / 2, df)
    assert t_quantile_two_sided(confidence, df) == pytest.approx(expected, rel=1e-10)
