"""The shape of a window's distribution: skewness, kurtosis, entropy.

Every function takes ``x``, a 1-D float64 array of finite values (the
window's ``numbers`` view) long enough for the type.
"""

import numpy as np


def _central_moments(x):
    deviations = x - np.mean(x)
    m2 = np.mean(deviations**2)
    return deviations, m2


def skewness(x):
    """Adjusted Fisher-Pearson sample skewness G1 (as SAS, SPSS and Excel
    report it; scipy ``skew(bias=False)``); needs 3 values.

    G1 = g1 * sqrt(n (n - 1)) / (n - 2) with g1 = m3 / m2**1.5.  Undefined
    (None) for a constant window.

    >>> round(skewness(np.array([1.0, 2.0, 3.0, 10.0])), 6)
    1.763633
    >>> skewness(np.array([2.0, 2.0, 2.0])) is None
    True
    """
    if np.max(x) == np.min(x):
        return None
    n = len(x)
    deviations, m2 = _central_moments(x)
    g1 = np.mean(deviations**3) / m2**1.5
    return float(g1 * np.sqrt(n * (n - 1)) / (n - 2))


def kurtosis(x):
    """Sample excess kurtosis G2 with the usual small-sample correction (as
    SAS, SPSS and Excel report it; scipy ``kurtosis(bias=False)``); needs 4
    values.  0 for normal data.

    G2 = ((n + 1) g2 + 6) (n - 1) / ((n - 2)(n - 3)) with g2 = m4 / m2**2 - 3.
    Undefined (None) for a constant window.

    >>> round(kurtosis(np.array([1.0, 2.0, 3.0, 10.0])), 6)
    3.228
    """
    if np.max(x) == np.min(x):
        return None
    n = len(x)
    deviations, m2 = _central_moments(x)
    g2 = np.mean(deviations**4) / m2**2 - 3.0
    return float(((n + 1) * g2 + 6.0) * (n - 1) / ((n - 2) * (n - 3)))


def entropy(x, bins=0):
    """Shannon entropy in bits of the window's empirical distribution.

    With ``bins=0`` (default) each distinct value is one symbol: right for
    states, counts and quantised readings.  For continuous readings, where
    every value is distinct and the entropy would always be log2(n), pass
    ``bins=k`` to count values in k equal-width bins over [min, max].
    0 for a constant window; at most log2(n).

    >>> entropy(np.array([0.0, 0.0, 1.0, 1.0]))
    1.0
    >>> entropy(np.array([0.1, 0.2, 5.0, 5.1]), bins=2)
    1.0
    """
    if bins and np.max(x) > np.min(x):
        counts = _equal_width_counts(x, bins)
        counts = counts[counts > 0]
    else:
        _, counts = np.unique(x, return_counts=True)
    p = counts / counts.sum()
    return float(-np.sum(p * np.log2(p))) + 0.0


def _equal_width_counts(x, bins):
    # np.histogram refuses ranges near the float limits; this is its binning
    # rule (value - low) * bins / span, on halved values when span overflows.
    low, high = np.min(x), np.max(x)
    if np.isfinite(high - low):
        position = (x - low) * (bins / (high - low))
    else:
        position = (x / 2 - low / 2) * (bins / (high / 2 - low / 2))
    index = np.clip(position.astype(np.int64), 0, bins - 1)
    return np.bincount(index, minlength=bins)
