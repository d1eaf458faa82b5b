"""Anomaly types: anomprob, anomprobX-Y, outliers, outliersX-Y, spikedetect.

Every function takes ``x``, a 1-D float64 array of finite values in arrival
order (the window's ``numbers`` view) long enough for the type.
"""

import math

import numpy as np

from .distributions import normal_two_sided_tail
from .patterns import best_residuals
from .robust import OUTLIER_Z, robust_z, robust_z_rows


def anomaly_probability(max_z, n):
    """100 * P(all n of n independent normal values lie within max_z sigma).

    The confidence, in percent, that the window's most extreme value is not
    just the largest of n ordinary values (one minus the Sidak-corrected
    p-value of the largest deviation).  Works on floats and arrays.

    >>> round(anomaly_probability(4.0, 30), 2)
    99.81
    >>> anomaly_probability(0.0, 30)
    0.0
    """
    return 100.0 * (1.0 - normal_two_sided_tail(max_z)) ** n


def anomprob(x):
    """Probability, in percent (0-100), that the window holds an anomaly.

    Each value gets a robust z-score about the window median (see
    ``robust``); AnomProb is ``anomaly_probability`` of the largest one:
    100 * (1 - P(|Z| >= z_max))**n.  It is 0 for a constant window and tends
    to 100 as one value departs from the rest; it is the complement of a
    familywise p-value, so on windows of ordinary normal noise it is spread
    over 0-100 (uniformly if the scale were known) and a labelling threshold
    of 55 marks "more likely than not"; alarms want 99 or more.  Needs 3
    values.

    >>> round(anomprob(np.array([10.0, 10.2, 9.9, 10.1, 10.0, 9.8])), 1)
    31.0
    >>> round(anomprob(np.array([10.0, 10.2, 9.9, 10.1, 10.0, 19.0])), 3)
    100.0
    >>> anomprob(np.array([5.0, 5.0, 5.0]))
    0.0
    """
    return float(anomaly_probability(robust_z(x - np.median(x)).max(), len(x)))


def anomprob_rows(rows):
    z = robust_z_rows(rows - np.median(rows, axis=1, keepdims=True))
    return anomaly_probability(z.max(axis=1), rows.shape[1])


def anomprob_pattern(x, min_levels=2, max_levels="n"):
    """anomprobX-Y: AnomProb after explaining away recurring levels.

    Scores the residuals of the best explanation of ``patterns`` (plain, or
    X to Y groups of recurring levels), so a device that routinely switches
    between states is not flagged, while a value off every level still is.
    Never above ``anomprob``.  Needs 3 values.

    >>> on_off = np.array([1000.0] * 25 + [0.0] * 5)
    >>> round(anomprob(on_off), 2), anomprob_pattern(on_off, 2, 5)
    (99.99, 0.0)
    >>> round(anomprob_pattern(np.append(on_off, 5000.0), 2, 5), 2)
    100.0
    """
    residuals = best_residuals(x, min_levels, max_levels)
    return float(anomaly_probability(robust_z(residuals).max(), len(x)))


def outliers(x, threshold=OUTLIER_Z):
    """Number of outliers: values whose robust z-score about the window
    median exceeds ``threshold`` (default 3.5, Iglewicz & Hoaglin's modified
    z-score rule).  Needs 3 values.

    >>> outliers(np.array([10.0, 10.2, 9.9, 10.1, 10.0, 19.0, -3.0]))
    2.0
    """
    return float(np.count_nonzero(robust_z(x - np.median(x)) > threshold))


def outliers_pattern(x, min_levels=2, max_levels="n", threshold=OUTLIER_Z):
    """outliersX-Y: ``outliers`` counted on the residuals of the best
    explanation (as in ``anomprob_pattern``).  Needs 3 values.

    >>> on_off = np.array([1000.0] * 25 + [0.0] * 5)
    >>> outliers(on_off), outliers_pattern(on_off, 2, 5)
    (5.0, 0.0)
    """
    residuals = best_residuals(x, min_levels, max_levels)
    return float(np.count_nonzero(robust_z(residuals) > threshold))


def spikedetect(x, lag=5, threshold=3.5, influence=0.5):
    """Number of spikes found by the smoothed z-score algorithm (Brakel, 2014).

    The first ``lag`` values seed a moving mean and (population) standard
    deviation; each later value is a spike when it lies more than
    ``threshold`` standard deviations from the mean of the previous ``lag``
    filtered values.  A spike enters the filtered series with weight
    ``influence`` (the rest from the previous filtered value), so one spike
    does not hide the next.  0 means no spike.  Needs lag + 1 values.

    >>> spikedetect(np.array([1.0, 1.1, 0.9, 1.0, 1.0, 1.05, 8.0, 1.0, 0.95]))
    1.0
    """
    filtered = [float(v) for v in x[:lag]]
    mean, std = _mean_std(filtered)
    spikes = 0
    for value in x[lag:].tolist():
        if abs(value - mean) > threshold * std:
            spikes += 1
            filtered.append(influence * value + (1.0 - influence) * filtered[-1])
        else:
            filtered.append(value)
        mean, std = _mean_std(filtered[-lag:])
    return float(spikes)


def _mean_std(values):
    mean = math.fsum(values) / len(values)
    return mean, math.sqrt(math.fsum((v - mean) ** 2 for v in values) / len(values))
