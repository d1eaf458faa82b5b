"""Types that depend on the order of the values: trend, autocorrelation, raw.

Every function takes ``x``, a 1-D float64 array of finite values in arrival
order (the window's ``numbers`` view); points that were skipped (strings,
NaN) do not take a place in the order.
"""

import numpy as np


def trend(x):
    """Least-squares slope of the values against their position 0, 1, ... n-1:
    the change per point.  < 0 decreasing, > 0 increasing; needs 2 values.

    The slope uses the order of the points, not their timestamps; divide by
    ``avgtimediff`` for a change per second.

    >>> trend(np.array([1.0, 3.0, 5.0]))
    2.0
    >>> trend(np.array([4.0, 4.0]))
    0.0
    """
    return float(trend_rows(x[np.newaxis, :])[0])


def trend_rows(rows):
    n = rows.shape[1]
    position = np.arange(n, dtype=float) - (n - 1) / 2.0
    centred = rows - rows.mean(axis=1, keepdims=True)
    return centred @ position / np.dot(position, position)


def autocorr(x, lag=1):
    """Sample autocorrelation at ``lag`` (default 1), the standard estimator
    sum((x[t] - m)(x[t+lag] - m)) / sum((x[t] - m)**2) with m the window mean
    (Box & Jenkins; statsmodels ``acf``).  In [-1, 1]; needs lag + 2 values;
    undefined (None) for a constant window.

    >>> autocorr(np.array([1.0, 2.0, 3.0, 4.0]))
    0.25
    >>> autocorr(np.array([1.0, -1.0, 1.0, -1.0]))
    -0.75
    """
    if np.max(x) == np.min(x):
        return None
    deviations = x - np.mean(x)
    return float(np.dot(deviations[:-lag], deviations[lag:]) / np.dot(deviations, deviations))


def raw(x):
    """The window's last numeric value, unprocessed.

    >>> raw(np.array([1.0, 2.0, 7.5]))
    7.5
    """
    return float(x[-1])


def raw_rows(rows):
    return rows[:, -1].copy()
