"""Independent computations of every preprocessing type, for the tests.

Written apart from the library: scipy, the standard library's ``statistics``
and direct formulas, with the documented rules (which values count, minimum
lengths, undefined cases) restated here rather than imported.  Each takes
(values, times, params) and returns the expected value or None.
"""

import math
import statistics

import numpy as np
from scipy import stats

MAD_SIGMA = 1.482602218505602  # 1 / Phi^-1(3/4)


def numbers(values):
    """Finite numbers and booleans as floats; strings, None, NaN, inf skipped."""
    out = []
    for v in values:
        if v is None or isinstance(v, (str, bytes)):
            continue
        f = float(v)
        if math.isfinite(f):
            out.append(f)
    return out


def needs(count):
    """Decorator: None when fewer than ``count`` numbers (count may depend on params)."""

    def wrap(function):
        def reference(values, times, params):
            x = numbers(values)
            minimum = count(params) if callable(count) else count
            if len(x) < minimum:
                return None
            return function(np.array(x), params)

        return reference

    return wrap


def constant(x):
    return len(set(x.tolist())) == 1


def robust_zmax_and_scale(residuals):
    a = [abs(r) for r in residuals]
    m = statistics.median(a)
    scale = m * MAD_SIGMA if m > 0 else statistics.fmean(a) * math.sqrt(math.pi / 2)
    return (0.0 if scale == 0 else max(a) / scale), scale


def robust_z_all(residuals):
    _, scale = robust_zmax_and_scale(residuals)
    return [0.0 if scale == 0 else abs(r) / scale for r in residuals]


def anomaly_percent(z, p):
    """Posterior probability of one anomaly (Box & Tiao contaminated normal)."""
    prior, spread = p.get("prior", 0.05), p.get("spread", 5.0)
    if any(math.isinf(v) for v in z):
        return 100.0
    with np.errstate(all="ignore"):
        ratios = stats.norm.pdf(np.array(z), scale=spread) / stats.norm.pdf(np.array(z))
    odds = prior / (1 - prior) * float(np.mean(ratios))
    return 100.0 if math.isinf(odds) or math.isnan(odds) else 100.0 * odds / (1.0 + odds)


def plain_residuals(x):
    med = statistics.median(x.tolist())
    return [v - med for v in x.tolist()]


def pattern_z(x, low, high, score):
    """The documented recurring-levels explanation, in plain Python: z-scores."""
    xs = x.tolist()
    n = len(xs)
    best = robust_z_all(plain_residuals(x))
    best_score = score(best)
    low = 2 if low == "n" else low
    high = n if high == "n" else min(high, n)
    order = sorted(range(n), key=lambda i: (xs[i], i))
    ordered = [xs[i] for i in order]
    ranked = sorted(range(n - 1), key=lambda j: (-(ordered[j + 1] - ordered[j]), j))

    def z_of(residual, scale):
        if scale > 0:
            return abs(residual) / scale
        return 0.0 if residual == 0 else math.inf

    for k in range(low, high + 1):
        cuts = sorted(ranked[: k - 1])
        if not cuts or any(ordered[j + 1] == ordered[j] for j in cuts):
            continue
        groups, start = [], 0
        for end in cuts + [n - 1]:
            groups.append(list(range(start, end + 1)))
            start = end + 1
        members = [g for g in groups if len(g) >= 2]
        if len(members) < 2:
            continue
        centre_of = {id(g): statistics.median([ordered[i] for i in g]) for g in members}
        varying = [g for g in members if len({ordered[i] for i in g}) > 1]
        pooled = [ordered[i] - centre_of[id(g)] for g in varying for i in g]
        shared = robust_zmax_and_scale(pooled)[1] if pooled else 0.0
        levels, z = [], {}  # levels: (centre, scale) in value order
        for g in members:
            scale = shared if g in varying else 0.0
            levels.append((centre_of[id(g)], scale))
            for i in g:
                z[order[i]] = z_of(ordered[i] - centre_of[id(g)], scale)
        if any(b[0] - a[0] <= 7.0 * max(a[1], b[1]) for a, b in zip(levels, levels[1:])):
            continue
        for g in groups:
            if len(g) == 1:
                value = ordered[g[0]]
                centre, scale = min(levels, key=lambda level: abs(level[0] - value))
                z[order[g[0]]] = z_of(value - centre, scale)
        candidate = [z[i] for i in range(n)]
        if score(candidate) < best_score:
            best, best_score = candidate, score(candidate)
    return best


def quartiles(x):
    data = x.tolist()
    if len(data) == 1:
        return data[0], data[0]
    q1, _, q3 = statistics.quantiles(data, n=4, method="inclusive")
    return q1, q3


@needs(3)
def anomprob(x, p):
    return anomaly_percent(robust_z_all(plain_residuals(x)), p)


@needs(3)
def anomprob_pattern(x, p):
    def score(z):
        return anomaly_percent(z, p)

    return score(pattern_z(x, p["min_levels"], p["max_levels"], score))


@needs(3)
def outliers(x, p):
    return float(sum(z > p.get("threshold", 3.5) for z in robust_z_all(plain_residuals(x))))


@needs(3)
def outliers_pattern(x, p):
    def score(z):
        return float(sum(v > p.get("threshold", 3.5) for v in z))

    return score(pattern_z(x, p["min_levels"], p["max_levels"], score))


@needs(lambda p: p.get("lag", 1) + 2)
def autocorr(x, p):
    if constant(x):
        return None
    lag, m, xs = p.get("lag", 1), statistics.fmean(x.tolist()), x.tolist()
    top = sum((xs[t] - m) * (xs[t + lag] - m) for t in range(len(xs) - lag))
    return top / sum((v - m) ** 2 for v in xs)


@needs(lambda p: p.get("lag", 5) + 1)
def spikedetect(y, p):
    """Brakel's published Python version of the smoothed z-score algorithm."""
    lag, threshold, influence = p.get("lag", 5), p.get("threshold", 3.5), p.get("influence", 0.5)
    signals = np.zeros(len(y))
    filtered = np.array(y)
    avg = [0.0] * len(y)
    std = [0.0] * len(y)
    avg[lag - 1] = np.mean(y[0:lag])
    std[lag - 1] = np.std(y[0:lag])
    for i in range(lag, len(y)):
        if abs(y[i] - avg[i - 1]) > threshold * std[i - 1]:
            signals[i] = 1 if y[i] > avg[i - 1] else -1
            filtered[i] = influence * y[i] + (1 - influence) * filtered[i - 1]
        else:
            filtered[i] = y[i]
        avg[i] = np.mean(filtered[(i - lag + 1) : i + 1])
        std[i] = np.std(filtered[(i - lag + 1) : i + 1])
    return float(np.count_nonzero(signals))


def times_reference(minimum, function):
    def reference(values, times, params):
        if times is None or len(times) < minimum:
            return None
        return function([int(t) for t in times], params)

    return reference


def dataage(times, p):
    seconds = {"millisecond": 1e-3, "second": 1, "minute": 60, "hour": 3600, "day": 86400}[p["unit"]]
    now = p["now"] + p["utcoffset"] * 3600 * 10**9
    return (now - max(times)) / 1e9 / seconds


def geodiff(values, times, params):
    positions = []
    for v in values:
        try:
            lat, lon = v
        except (TypeError, ValueError):
            continue
        if isinstance(lat, (str, bool)) or isinstance(lon, (str, bool)) or lat is None or lon is None:
            continue
        if math.isfinite(lat) and math.isfinite(lon) and abs(lat) <= 90 and abs(lon) <= 180:
            positions.append((lat, lon))
    if not positions:
        return None

    def unit(lat, lon):
        lat, lon = math.radians(lat), math.radians(lon)
        return np.array([math.cos(lat) * math.cos(lon), math.cos(lat) * math.sin(lon), math.sin(lat)])

    chord = np.linalg.norm(unit(*positions[0]) - unit(*positions[-1]))
    return 2 * 6371.0088 * math.asin(min(1.0, chord / 2))


def consistency(values, times, params):
    kinds = set()
    for v in values:
        if v is None:
            continue
        if isinstance(v, (bool, np.bool_)):
            kinds.add("boolean")
        elif isinstance(v, str):
            kinds.add("string")
        elif isinstance(v, (int, float, np.number)):
            kinds.add("number")
        else:
            kinds.add("other")
    return None if not kinds else float(len(kinds) == 1)


def strings(values):
    return [v for v in values if isinstance(v, str)]


def entropy(x, p):
    if p.get("bins", 0) and not constant(x):
        counts, _ = np.histogram(x, bins=p["bins"])
    else:
        counts = _value_counts(x.tolist())
    return float(stats.entropy([c for c in counts if c > 0], base=2))


def _value_counts(xs):
    counts = {}
    for v in xs:
        counts[v] = counts.get(v, 0) + 1
    return list(counts.values())


def meanci(level):
    @needs(2)
    def reference(x, p):
        mean = statistics.fmean(x.tolist())
        if constant(x):
            return {"mean": mean, "low": mean, "high": mean}
        low, high = stats.t.interval(level, len(x) - 1, loc=mean, scale=stats.sem(x))
        return {"mean": mean, "low": low, "high": high}

    return reference


def gm(x, p):
    if min(x) < 0:
        return None
    return 0.0 if min(x) == 0 else float(stats.gmean(x))


def hm(x, p):
    if min(x) < 0:
        return None
    return 0.0 if min(x) == 0 else float(stats.hmean(x))


def diffmargin(x, p):
    high, low = max(x), min(x)
    if high == 0 and low == 0:
        return None
    return 100 * (high - low) / ((abs(high) + abs(low)) / 2)


def cv(x, p):
    mean = statistics.fmean(x.tolist())
    return None if mean == 0 else abs(float(stats.variation(x, ddof=1)))


REFERENCES = {
    "anomprob": anomprob,
    "anomprobX-Y": anomprob_pattern,
    "autocorr": autocorr,
    "avg": needs(1)(lambda x, p: statistics.fmean(x.tolist())),
    "avgtimediff": times_reference(2, lambda t, p: float(np.mean(np.diff(sorted(t)))) / 1e9),
    "consistency": consistency,
    "count": lambda values, times, p: float(len(numbers(values))),
    "countstr": lambda values, times, p: float(len(strings(values))),
    "cv": needs(2)(cv),
    "dataage_<utcoffset>_<unit>": times_reference(1, dataage),
    "diff": needs(1)(lambda x, p: float(np.ptp(x))),
    "diffmargin": needs(1)(diffmargin),
    "entropy": needs(1)(entropy),
    "geodiff": geodiff,
    "gm": needs(1)(gm),
    "hm": needs(1)(hm),
    "iqr": needs(1)(lambda x, p: float(stats.iqr(x))),
    "kurtosis": needs(4)(lambda x, p: None if constant(x) else float(stats.kurtosis(x, bias=False))),
    "mad": needs(1)(lambda x, p: statistics.fmean([abs(v - statistics.fmean(x.tolist())) for v in x.tolist()])),
    "max": needs(1)(lambda x, p: max(x.tolist())),
    "median": needs(1)(lambda x, p: statistics.median(x.tolist())),
    "meanci95": meanci(0.95),
    "meanci99": meanci(0.99),
    "midhinge": needs(1)(lambda x, p: sum(quartiles(x)) / 2),
    "min": needs(1)(lambda x, p: min(x.tolist())),
    "outliers": outliers,
    "outliersX-Y": outliers_pattern,
    "raw": needs(1)(lambda x, p: x.tolist()[-1]),
    "skewness": needs(3)(lambda x, p: None if constant(x) else float(stats.skew(x, bias=False))),
    "spikedetect": spikedetect,
    "sum": needs(1)(lambda x, p: math.fsum(x.tolist())),
    "timediff": times_reference(1, lambda t, p: (max(t) - min(t)) / 1e9),
    "trend": needs(2)(lambda x, p: float(stats.linregress(np.arange(len(x)), x).slope)),
    "trimean": needs(1)(lambda x, p: (statistics.median(x.tolist()) + sum(quartiles(x)) / 2) / 2),
    "unique": needs(1)(lambda x, p: float(len(set(x.tolist())) == len(x))),
    "uniquestr": lambda values, times, p: (
        None if not strings(values) else float(len(set(strings(values))) == len(strings(values)))
    ),
    "variance": needs(2)(lambda x, p: statistics.variance(x.tolist())),
    "varied": needs(1)(lambda x, p: float(not constant(x))),
}

# Specs and keyword parameters each type is tested with, beyond its defaults.
# The params given to the reference are the full, defaulted set.
VARIANTS = {
    "anomprob": [("anomprob", {}), ("anomprob", {"prior": 0.5, "spread": 2.0})],
    "anomprobX-Y": [
        ("anomprob2-5", {}),
        ("anomprob2-n", {}),
        ("anomprob3-3", {}),
        ("anomprobn-4", {"prior": 0.01, "spread": 10}),
    ],
    "outliersX-Y": [("outliers2-4", {}), ("outliers2-n", {}), ("outlier3-5", {"threshold": 2.0})],
    "autocorr": [("autocorr", {}), ("autocorr", {"lag": 3})],
    "entropy": [("entropy", {}), ("entropy", {"bins": 4})],
    "outliers": [("outliers", {}), ("outliers", {"threshold": 2.0})],
    "spikedetect": [("spikedetect", {}), ("spikedetect", {"lag": 3, "threshold": 1.5, "influence": 0.0})],
    "dataage_<utcoffset>_<unit>": [
        ("dataage_0_minute", {"now": 1_700_000_000 * 10**9}),
        ("dataage_-5_hour", {"now": 1_700_000_000 * 10**9}),
        ("dataage_5.5_second", {"now": 1_700_000_000 * 10**9}),
        ("dataage_1_millisecond", {"now": 1_700_000_000 * 10**9}),
        ("dataage_0_day", {"now": 1_700_000_000 * 10**9}),
    ],
}
