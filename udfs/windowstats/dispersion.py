"""How spread out a window's numeric values are.

Every function takes ``x``, a 1-D float64 array of finite values (the
window's ``numbers`` view) long enough for the type; ``compute`` enforces the
minimum length and turns None into "no value".
"""

import numpy as np

from .location import quartiles


def variance(x):
    """Sample variance (divisor n - 1, unbiased); needs 2 values.

    >>> variance(np.array([1.0, 2.0, 3.0, 4.0]))
    1.6666666666666667
    """
    return float(np.var(x, ddof=1))


def variance_rows(rows):
    return rows.var(axis=1, ddof=1)


def mad(x):
    """Mean absolute deviation around the mean, mean(|x - mean(x)|).

    >>> mad(np.array([1.0, 2.0, 3.0, 6.0]))
    1.5
    """
    return float(np.mean(np.abs(x - np.mean(x))))


def iqr(x):
    """Interquartile range Q3 - Q1 (quartiles as in ``location.quartiles``).

    >>> iqr(np.array([1.0, 2.0, 3.0, 4.0, 5.0]))
    2.0
    """
    q1, q3 = quartiles(x)
    return q3 - q1


def cv(x):
    """Coefficient of variation: sample standard deviation / |mean|; needs 2 values.

    A ratio, not a percentage.  Undefined (None) when the mean is 0.  It is
    meaningful for ratio-scale data (counts, currents, voltages), not for
    data with an arbitrary zero such as temperatures in degrees Celsius.

    >>> round(cv(np.array([2.0, 4.0, 6.0])), 6)
    0.5
    >>> cv(np.array([-1.0, 1.0])) is None
    True
    """
    mean = np.mean(x)
    if mean == 0:
        return None
    return float(np.std(x, ddof=1) / abs(mean))


def diff(x):
    """Range: largest minus smallest value.

    >>> diff(np.array([3.0, -1.0, 2.0]))
    4.0
    """
    return float(np.max(x) - np.min(x))


def diff_rows(rows):
    return rows.max(axis=1) - rows.min(axis=1)


def diffmargin(x):
    """Percentage difference between the largest and smallest values,
    100 * (max - min) / ((|max| + |min|) / 2).

    The symmetric percentage difference: it is defined when the minimum is 0
    (a device switched off), handles negative values, and lies in [0, 200].
    Undefined (None) when max and min are both 0.

    >>> diffmargin(np.array([50.0, 150.0]))
    100.0
    >>> diffmargin(np.array([0.0, 5.0])), diffmargin(np.array([-3.0, -1.0]))
    (200.0, 100.0)
    """
    high, low = float(np.max(x)), float(np.min(x))
    scale = (abs(high) + abs(low)) / 2.0
    if scale == 0:
        return None
    return 100.0 * (high - low) / scale


def varied(x):
    """1 if the values are not all equal, else 0.

    >>> varied(np.array([2.0, 2.0])), varied(np.array([2.0, 2.5]))
    (0.0, 1.0)
    """
    return 1.0 if np.max(x) > np.min(x) else 0.0
