"""The one table of preprocessing types, and parsing of type names.

To add a type: write its function in the module of its kind (``location``,
``dispersion`` ...), add an ``_entry`` to ``TYPES`` below, and give it an
independent computation in ``tests/unit/windowstats/references.py``
(``test_every_registered_type_has_a_reference`` fails until it has one).

Each entry records what the UDF, the tests and the docs need: the name users
write (as in the TML seed's table), the display name used in output fields
(``<field>_preprocessed_<Display>``), the function, the window view it reads,
its parameters, its outputs and the minimum window length.  Tests walk this
table, so a type added here without a test fails the suite.

Type names are case-insensitive.  Three are parametrised in the name itself:
``anomprob3-5`` and ``outliers2-4`` (X-Y: levels, integers or ``n``) and
``dataage_-5_minute`` (UTC offset in hours, unit); parameters may also be
given as keywords (``compute("spikedetect", x, lag=10)``).
"""

import re
from dataclasses import dataclass, field
from functools import lru_cache
from types import MappingProxyType
from typing import Any, Callable

from . import anomaly, dispersion, geo, interval, location, quality, serial, shape, small, timestamps
from .params import Choice, Integer, IntegerOrAll, Param, Real
from .robust import OUTLIER_Z

INTERVAL_OUTPUTS = (("mean", "Mean"), ("low", "Low"), ("high", "High"))


@dataclass(frozen=True)
class PreprocessType:
    """One registered type.

    ``reads`` names the window view the function takes (see ``window``):
    numbers, strings, values, times or positions.  ``min_length`` is the
    fewest items of that view the type needs, an int or a function of the
    parameters; shorter windows give no value.  ``outputs`` lists
    (key, display suffix) for types that return a dict; empty for a float.
    ``rows`` is the optional vectorised function over a 2-D array of finite
    numbers, one window per row, taking the same parameters; ``small`` the
    optional pure-Python function over a short list of finite floats (see
    ``small``), taking the same parameters.
    """

    name: str
    display: str
    function: Callable
    reads: str
    min_length: Any
    summary: str
    params: tuple = ()
    outputs: tuple = ()
    pattern: str | None = None
    example: str | None = None
    display_params: Callable | None = None
    check: Callable | None = None
    rows: Callable | None = None
    small: Callable | None = None

    def param(self, name):
        return next(p for p in self.params if p.name == name)


def _levels_display(params):
    return f"{params['min_levels']}-{params['max_levels']}"


def _check_levels(params):
    low, high = params["min_levels"], params["max_levels"]
    if low != "n" and high != "n" and low > high:
        raise ValueError(f"min_levels must be <= max_levels, got {low} > {high}")


_LEVEL_PARAMS = (
    Param("min_levels", 2, IntegerOrAll(2), "fewest groups a pattern may have (X)"),
    Param("max_levels", "n", IntegerOrAll(2), "most groups a pattern may have (Y)"),
)
_LEVEL_PATTERN = r"(?P<min_levels>\d+|n)-(?P<max_levels>\d+|n)"
_ANOMALY_MODEL = (
    Param("prior", anomaly.PRIOR, Real(low=0, high=1, open=True), "prior probability that a window holds an anomaly"),
    Param("spread", anomaly.SPREAD, Real(low=1, open=True), "how many times wider than ordinary values anomalies scatter"),
)
_THRESHOLD = Param("threshold", OUTLIER_Z, Real(low=0, open=True), "robust z-score above which a value is an outlier")


def _entry(name, display, function, reads, min_length, summary, **extra):
    return PreprocessType(name, display, function, reads, min_length, summary, **extra)


TYPES = (
    _entry("anomprob", "AnomProb", anomaly.anomprob, "numbers", 3,
           "probability in percent that the window holds an anomaly",
           params=_ANOMALY_MODEL, rows=anomaly.anomprob_rows, small=small.anomprob),
    _entry("anomprobX-Y", "AnomProb", anomaly.anomprob_pattern, "numbers", 3,
           "anomprob ignoring recurring patterns of X to Y levels",
           params=_LEVEL_PARAMS + _ANOMALY_MODEL, pattern=r"anomprob" + _LEVEL_PATTERN, example="anomprob2-5",
           display_params=_levels_display, check=_check_levels),
    _entry("autocorr", "AutoCorr", serial.autocorr, "numbers", lambda p: p["lag"] + 2,
           "sample autocorrelation at a lag", params=(Param("lag", 1, Integer(low=1), "lag in points"),)),
    _entry("avg", "Avg", location.avg, "numbers", 1, "mean", rows=location.avg_rows, small=small.avg),
    _entry("avgtimediff", "AvgTimeDiff", timestamps.avgtimediff, "times", 2,
           "mean seconds between consecutive timestamps"),
    _entry("consistency", "Consistency", quality.consistency, "values", 1,
           "1 if every present value has the same kind, else 0"),
    _entry("count", "Count", quality.count, "numbers", 0, "number of numeric values", small=small.count),
    _entry("countstr", "CountStr", quality.countstr, "strings", 0, "number of string values"),
    _entry("cv", "CV", dispersion.cv, "numbers", 2, "coefficient of variation, sd / |mean|"),
    _entry("dataage_<utcoffset>_<unit>", "DataAge", timestamps.dataage, "times", 1,
           "age of the latest timestamp",
           params=(
               Param("utcoffset", 0.0, Real(low=-24, high=24), "hours added to UTC now"),
               Param("unit", "minute", Choice(tuple(timestamps.NS_PER_UNIT)), "unit of the age"),
               Param("now", None, Integer(), "current time in ns (default: the clock)"),
           ),
           pattern=r"dataage_(?P<utcoffset>[-+]?\d+(?:\.\d+)?)_(?P<unit>[a-z]+)", example="dataage_-5_minute",
           display_params=lambda p: f"_{p['utcoffset']:g}_{p['unit']}"),
    _entry("diff", "Diff", dispersion.diff, "numbers", 1, "max - min", rows=dispersion.diff_rows, small=small.diff),
    _entry("diffmargin", "DiffMargin", dispersion.diffmargin, "numbers", 1,
           "percentage difference between max and min"),
    _entry("entropy", "Entropy", shape.entropy, "numbers", 1, "Shannon entropy in bits",
           params=(Param("bins", 0, Integer(low=0), "0: distinct values; k: k equal-width bins"),)),
    _entry("geodiff", "GeoDiff", geo.geodiff, "positions", 1,
           "km between the first and last (lat, lon) positions"),
    _entry("gm", "GM", location.gm, "numbers", 1, "geometric mean"),
    _entry("hm", "HM", location.hm, "numbers", 1, "harmonic mean"),
    _entry("iqr", "IQR", dispersion.iqr, "numbers", 1, "interquartile range"),
    _entry("kurtosis", "Kurtosis", shape.kurtosis, "numbers", 4, "sample excess kurtosis"),
    _entry("mad", "MAD", dispersion.mad, "numbers", 1, "mean absolute deviation"),
    _entry("max", "Max", location.max_, "numbers", 1, "largest value", rows=location.max_rows, small=small.max_),
    _entry("median", "Median", location.median, "numbers", 1, "median", rows=location.median_rows,
           small=small.median),
    _entry("meanci95", "MeanCI95", interval.meanci95, "numbers", 2, "95% confidence interval for the mean",
           outputs=INTERVAL_OUTPUTS, rows=interval.meanci95_rows),
    _entry("meanci99", "MeanCI99", interval.meanci99, "numbers", 2, "99% confidence interval for the mean",
           outputs=INTERVAL_OUTPUTS, rows=interval.meanci99_rows),
    _entry("midhinge", "Midhinge", location.midhinge, "numbers", 1, "mean of Q1 and Q3"),
    _entry("min", "Min", location.min_, "numbers", 1, "smallest value", rows=location.min_rows, small=small.min_),
    _entry("outliers", "Outliers", anomaly.outliers, "numbers", 3, "number of outliers",
           params=(_THRESHOLD,)),
    _entry("outliersX-Y", "Outliers", anomaly.outliers_pattern, "numbers", 3,
           "outliers ignoring recurring patterns of X to Y levels",
           params=_LEVEL_PARAMS + (_THRESHOLD,), pattern=r"outliers?" + _LEVEL_PATTERN, example="outliers2-4",
           display_params=_levels_display, check=_check_levels),
    _entry("raw", "Raw", serial.raw, "numbers", 1, "last numeric value", rows=serial.raw_rows, small=small.raw),
    _entry("skewness", "Skewness", shape.skewness, "numbers", 3, "sample skewness"),
    _entry("spikedetect", "SpikeDetect", anomaly.spikedetect, "numbers", lambda p: p["lag"] + 1,
           "number of spikes (smoothed z-score)",
           params=(
               Param("lag", 5, Integer(low=1), "points in the moving baseline"),
               Param("threshold", 3.5, Real(low=0, open=True), "standard deviations that make a spike"),
               Param("influence", 0.5, Real(low=0, high=1), "weight of a spike in the baseline"),
           )),
    _entry("sum", "Sum", location.sum_, "numbers", 1, "sum", rows=location.sum_rows, small=small.sum_),
    _entry("timediff", "TimeDiff", timestamps.timediff, "times", 1, "seconds from first to last timestamp"),
    _entry("trend", "Trend", serial.trend, "numbers", 2, "least-squares slope per point",
           rows=serial.trend_rows, small=small.trend),
    _entry("trimean", "Trimean", location.trimean, "numbers", 1, "Tukey's trimean"),
    _entry("unique", "Unique", quality.unique, "numbers", 1, "1 if no numeric value repeats"),
    _entry("uniquestr", "UniqueStr", quality.uniquestr, "strings", 1, "1 if no string value repeats"),
    _entry("variance", "Variance", dispersion.variance, "numbers", 2, "sample variance",
           rows=dispersion.variance_rows, small=small.variance),
    _entry("varied", "Varied", dispersion.varied, "numbers", 1, "1 if the values are not all equal"),
)

REGISTRY = MappingProxyType({t.name: t for t in TYPES})
_BY_LOWER_NAME = {t.name.lower(): t for t in TYPES}
_PATTERNS = tuple((re.compile(t.pattern), t) for t in TYPES if t.pattern)


def type_names():
    """Every registered type name, sorted.

    >>> type_names()[:3]
    ['anomprob', 'anomprobX-Y', 'autocorr']
    """
    return sorted(REGISTRY)


@dataclass(frozen=True)
class TypeSpec:
    """A type with validated parameters: what a window is computed with.

    ``text`` is the canonical name (``anomprob2-5``); ``display`` the Type
    of the output field (``AnomProb2-5``).
    """

    type: PreprocessType
    params: MappingProxyType = field(compare=False)
    text: str
    display: str
    min_length: int

    def output_names(self, field_name):
        """Output field name(s) for ``field_name``, one per output.

        >>> parse_type("meanci95").output_names("Current")
        ('Current_preprocessed_MeanCI95_Mean', 'Current_preprocessed_MeanCI95_Low', 'Current_preprocessed_MeanCI95_High')
        """
        base = f"{field_name}_preprocessed_{self.display}"
        if not self.type.outputs:
            return (base,)
        return tuple(f"{base}_{suffix}" for _, suffix in self.type.outputs)


def parse_type(spec, **params):
    """Parse a type name (``"AVG"``, ``"anomprob3-5"``, ``"dataage_-5_minute"``)
    and keyword parameters into a validated ``TypeSpec``.

    Raises ``ValueError`` naming the type and listing the valid types (for
    an unknown name) or the type's parameters (for a bad one).

    >>> s = parse_type("ANOMPROB3-5")
    >>> s.text, s.display, s.params["min_levels"], s.params["max_levels"]
    ('anomprob3-5', 'AnomProb3-5', 3, 5)
    >>> parse_type("spikedetect", lag=10).min_length
    11
    >>> parse_type("avgg")
    Traceback (most recent call last):
    ...
    ValueError: unknown preprocessing type 'avgg'; valid types: anomprob, anomprobX-Y, ...
    """
    if isinstance(spec, TypeSpec):
        if not params:
            return spec
        return parse_type(spec.text, **params)
    if not params:
        return _parse_cached(spec)
    return _parse(spec, params)


@lru_cache(maxsize=1024)
def _parse_cached(spec):
    return _parse(spec, {})


def _parse(spec, params):
    text = str(spec).strip().lower()
    entry, from_name = _BY_LOWER_NAME.get(text), {}
    if entry is None:
        for regex, candidate in _PATTERNS:
            match = regex.fullmatch(text)
            if match:
                entry, from_name = candidate, match.groupdict()
                break
    if entry is None:
        raise ValueError(
            f"unknown preprocessing type {spec!r}; valid types: {', '.join(type_names())} "
            "(X-Y are integers >= 2 or n; unit is millisecond, second, minute, hour or day)"
        )
    values = _validate(spec, entry, {**from_name, **params}, twice=set(from_name) & set(params))
    canonical = entry.name
    display = entry.display
    if entry.display_params:
        suffix = entry.display_params(values)
        canonical = entry.name.split("X-Y")[0].split("_<")[0] + suffix
        display += suffix
    min_length = entry.min_length(values) if callable(entry.min_length) else entry.min_length
    return TypeSpec(entry, MappingProxyType(values), canonical, display, min_length)


def _validate(spec, entry, given, twice=()):
    declared = {p.name: p for p in entry.params}

    def fail(problem):
        listing = "; ".join(p.describe() for p in entry.params) or "none"
        raise ValueError(f"preprocessing type {spec!r}: {problem}. Parameters of {entry.name}: {listing}")

    for name in sorted(twice):
        fail(f"parameter {name!r} is given both in the name and as a keyword")

    for name in given:
        if name not in declared:
            fail(f"unknown parameter {name!r}")
    values = {}
    for name, param in declared.items():
        if name not in given or (given[name] is None and param.default is None):
            values[name] = param.default
            continue
        try:
            values[name] = param.constraint(given[name])
        except ValueError as error:
            fail(f"parameter {name!r} must be {error}, got {given[name]!r}")
    if entry.check:
        try:
            entry.check(values)
        except ValueError as error:
            fail(str(error))
    return values


def output_names(field_name, spec, **params):
    """Output field name(s) for a field and a type name; chains naturally.

    >>> output_names("Voltage", "anomprob")
    ('Voltage_preprocessed_AnomProb',)
    >>> output_names("Current_preprocessed_AnomProb", "avg")
    ('Current_preprocessed_AnomProb_preprocessed_Avg',)
    >>> output_names("Voltage", "outliers2-n")
    ('Voltage_preprocessed_Outliers2-n',)
    """
    return parse_type(spec, **params).output_names(field_name)
