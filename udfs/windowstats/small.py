"""Pure-Python forms of the common types, for short windows.

On a window of a few dozen values a numpy call costs more than its
arithmetic: a plan of avg, min, max, trend and anomprob over 5 values took
43 µs per window through numpy against 5 µs written in plain Python
(``bench/preprocess_throughput.py``). ``Plan`` therefore computes windows of
up to ``SMALL_WINDOW`` values with these functions when every type of the
plan has one (``small=`` in the registry), and with numpy otherwise.

Each takes ``xs``, a list of finite floats in arrival order, long enough for
the type, and the type's parameters; each gives what the numpy function
gives on the same values (the registry's conformance test checks them
against each other at every length up to ``SMALL_WINDOW``).
"""

import math
import operator

from .robust import MAD_TO_SIGMA, MEAN_AD_TO_SIGMA

SMALL_WINDOW = 128  # above it numpy is faster (bench/preprocess_throughput.py --lengths)


def avg(xs):
    return math.fsum(xs) / len(xs)


def sum_(xs):
    return math.fsum(xs)


def count(xs):
    return float(len(xs))


def min_(xs):
    return min(xs)


def max_(xs):
    return max(xs)


def diff(xs):
    return max(xs) - min(xs)


def raw(xs):
    return xs[-1]


def _median_sorted(ordered):
    n = len(ordered)
    return (ordered[(n - 1) // 2] + ordered[n // 2]) / 2.0


def median(xs):
    return _median_sorted(sorted(xs))


def variance(xs):
    mean = math.fsum(xs) / len(xs)
    return math.fsum((x - mean) ** 2 for x in xs) / (len(xs) - 1)


def trend(xs):
    n = len(xs)
    weights = _TREND_WEIGHTS.get(n)
    if weights is None:
        centre = (n - 1) / 2.0
        denominator = n * (n * n - 1) / 12.0  # sum((t - centre)^2) for t = 0 .. n-1
        weights = _TREND_WEIGHTS.setdefault(n, [(t - centre) / denominator for t in range(n)])
    # The weights sum to 0, so the values need no centring: sum(w * x) is the slope.
    return math.fsum(map(operator.mul, weights, xs))


_TREND_WEIGHTS: dict[int, list[float]] = {}


def anomprob(xs, prior, spread):
    n = len(xs)
    ordered = sorted(xs)
    centre = (ordered[(n - 1) // 2] + ordered[n // 2]) / 2.0
    deviations = sorted([abs(x - centre) for x in ordered])
    mad = (deviations[(n - 1) // 2] + deviations[n // 2]) / 2.0
    scale = MAD_TO_SIGMA * mad if mad > 0 else MEAN_AD_TO_SIGMA * math.fsum(deviations) / n
    prior_odds = prior / (1.0 - prior)
    if scale == 0:
        odds = prior_odds / spread  # every z is 0: each ratio is 1 / spread
        return 100.0 * odds / (1.0 + odds)
    base = (1.0 - 1.0 / spread**2) / 2.0
    z_max = min(deviations[-1] / scale, 1e150)  # the deviations ascend
    top = z_max * z_max * base
    if top < 700.0:
        k = base / (scale * scale)
        odds = prior_odds * math.fsum([math.exp(d * d * k) for d in deviations]) / (n * spread)
        return 100.0 * odds / (1.0 + odds)
    # log-sum-exp, as the numpy form does, when an exponent would overflow
    z = [min(d / scale, 1e150) for d in deviations]
    log_odds = math.log(prior_odds) + top + math.log(math.fsum(math.exp(v * v * base - top) for v in z)) \
        - math.log(n * spread)
    return 100.0 / (1.0 + math.exp(-log_odds))
