"""Where a window's numeric values lie: means, quantiles, extremes, the total.

Every function takes ``x``, a 1-D float64 array of finite values (the
window's ``numbers`` view) long enough for the type; ``compute`` enforces the
minimum length.  ``*_rows`` functions do the same over a 2-D array, one
window per row.
"""

import numpy as np


def avg(x):
    """Arithmetic mean.

    >>> avg(np.array([1.0, 2.0, 6.0]))
    3.0
    """
    return float(np.mean(x))


def avg_rows(rows):
    return rows.mean(axis=1)


def median(x):
    """Median (mean of the two middle values for an even count).

    Sorting is several times faster than ``np.median`` on window-sized
    arrays, and gives the same value.

    >>> median(np.array([5.0, 1.0, 2.0, 9.0]))
    3.5
    """
    ordered = np.sort(x)
    n = len(ordered)
    return float((ordered[(n - 1) // 2] + ordered[n // 2]) / 2.0)


def median_rows(rows):
    return np.median(rows, axis=1)


def quartiles(x):
    """First and third quartiles by linear interpolation (Hyndman & Fan type 7,
    the default of numpy, R and scipy).

    >>> quartiles(np.array([1.0, 2.0, 3.0, 4.0, 5.0]))
    (2.0, 4.0)
    """
    q1, q3 = np.quantile(x, [0.25, 0.75])
    return float(q1), float(q3)


def midhinge(x):
    """Average of the first and third quartiles.

    >>> midhinge(np.array([1.0, 2.0, 3.0, 4.0, 100.0]))
    3.0
    """
    q1, q3 = quartiles(x)
    return (q1 + q3) / 2.0


def trimean(x):
    """Tukey's trimean: the average of the median and the midhinge,
    (Q1 + 2 Q2 + Q3) / 4.

    >>> trimean(np.array([1.0, 2.0, 3.0, 4.0, 100.0]))
    3.0
    """
    return (median(x) + midhinge(x)) / 2.0


def gm(x):
    """Geometric mean, exp(mean(log x)); 0 if any value is 0.

    Undefined (None) when any value is negative: the geometric mean is a
    mean of positive ratios.

    >>> gm(np.array([1.0, 4.0, 16.0]))
    4.0
    >>> gm(np.array([0.0, 4.0])), gm(np.array([-1.0, 4.0]))
    (0.0, None)
    """
    if (x < 0).any():
        return None
    if (x == 0).any():
        return 0.0
    return float(np.exp(np.mean(np.log(x))))


def hm(x):
    """Harmonic mean, n / sum(1/x); 0 if any value is 0 (its limit).

    Undefined (None) when any value is negative.

    >>> hm(np.array([1.0, 4.0, 4.0]))
    2.0
    >>> hm(np.array([0.0, 4.0])), hm(np.array([-1.0, 4.0]))
    (0.0, None)
    """
    if (x < 0).any():
        return None
    if (x == 0).any():
        return 0.0
    return float(len(x) / np.sum(1.0 / x))


def min_(x):
    """Smallest value.

    >>> min_(np.array([3.0, -1.0, 2.0]))
    -1.0
    """
    return float(np.min(x))


def min_rows(rows):
    return rows.min(axis=1)


def max_(x):
    """Largest value.

    >>> max_(np.array([3.0, -1.0, 2.0]))
    3.0
    """
    return float(np.max(x))


def max_rows(rows):
    return rows.max(axis=1)


def sum_(x):
    """Sum of the values.

    >>> sum_(np.array([3.0, -1.0, 2.0]))
    4.0
    """
    return float(np.sum(x))


def sum_rows(rows):
    return rows.sum(axis=1)
