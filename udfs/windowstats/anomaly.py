"""Anomaly types: anomprob, anomprobX-Y, outliers, outliersX-Y, spikedetect.

Every function takes ``x``, a 1-D float64 array of finite values in arrival
order (the window's ``numbers`` view) long enough for the type.
"""

import math

import numpy as np

from .location import median
from .patterns import best_z
from .robust import OUTLIER_Z, robust_z, robust_z_rows


# Defaults of the anomaly model (see ``anomaly_probability``): a window holds
# an anomaly with prior probability 5%, and anomalies scatter 5 times wider
# than ordinary values (Box & Tiao's contaminated normal uses 3 to 10).
PRIOR = 0.05
SPREAD = 5.0


def anomaly_probability(z, prior=PRIOR, spread=SPREAD):
    """Posterior probability, in percent, that a window holds an anomalous value.

    ``z`` are the window's robust z-scores (a 1-D array, or 2-D with one
    window per row).  The model (Box & Tiao, 1968; the one-outlier
    "slippage" alternative): ordinary values are normal about the window's
    centre; with prior probability ``prior`` the window also holds one
    anomalous value, at an unknown position, normal with a ``spread`` times
    wider standard deviation.  Bayes' rule gives posterior odds

        prior / (1 - prior) * mean_i( phi(z_i / spread) / spread / phi(z_i) ).

    >>> round(anomaly_probability(np.zeros(30)), 2)
    1.04
    >>> [round(anomaly_probability(np.append(np.zeros(29), z)), 1) for z in (3, 4, 5, 6)]
    [3.5, 43.5, 98.3, 100.0]
    """
    # An infinite z (a deviation from a level with no spread) is certain
    # evidence; a huge finite one keeps the arithmetic below finite.
    z = np.minimum(np.asarray(z, dtype=float), 1e150)
    exponent = z**2 * (1.0 - 1.0 / spread**2) / 2.0
    top = exponent.max(axis=-1, keepdims=True)
    log_mean_ratio = (
        top[..., 0]
        + np.log(np.exp(exponent - top).sum(axis=-1))
        - math.log(z.shape[-1] * spread)
    )
    log_odds = math.log(prior / (1.0 - prior)) + log_mean_ratio
    probability = 100.0 / (1.0 + np.exp(-log_odds))
    return float(probability) if probability.ndim == 0 else probability


def anomprob(x, prior=PRIOR, spread=SPREAD):
    """Probability, in percent (0-100), that the window holds an anomaly.

    Each value gets a robust z-score about the window median (see
    ``robust``), and ``anomaly_probability`` turns the scores into the
    posterior probability of an anomaly.  A constant window gives 1.04%;
    windows of 30 ordinary normal values give a median of about 2% and
    exceed the seed's labelling threshold of 55 about 3% of the time.  For
    30 values one value 4 robust standard deviations out gives about 44%,
    4.1 about 53%, 5 about 98%.  The more values, the further out a value
    must lie, as chance alone produces larger extremes.  Needs 3 values.

    >>> round(anomprob(np.array([10.0, 10.2, 9.9, 10.1, 10.0, 9.8])), 1)
    1.6
    >>> round(anomprob(np.array([10.0, 10.2, 9.9, 10.1, 10.0, 19.0])), 3)
    100.0
    >>> round(anomprob(np.array([5.0, 5.0, 5.0])), 2)
    1.04
    """
    return anomaly_probability(robust_z(x - median(x)), prior, spread)


def anomprob_rows(rows, prior=PRIOR, spread=SPREAD):
    z = robust_z_rows(rows - np.median(rows, axis=1, keepdims=True))
    return anomaly_probability(z, prior, spread)


def anomprob_pattern(x, min_levels=2, max_levels="n", prior=PRIOR, spread=SPREAD):
    """anomprobX-Y: AnomProb after explaining away recurring levels.

    Scores the residuals of the explanation of ``patterns`` (plain, or X to
    Y groups of recurring levels) with the lowest AnomProb, so a device that
    routinely switches between states is not flagged, while a value off
    every level still is.  Never above ``anomprob``.  Needs 3 values.

    >>> on_off = np.array([1000.0] * 25 + [0.0] * 5)
    >>> round(anomprob(on_off), 2), round(anomprob_pattern(on_off, 2, 5), 2)
    (99.06, 1.04)
    >>> round(anomprob_pattern(np.append(on_off, 5000.0), 2, 5), 2)
    100.0
    """
    def score(z):
        return anomaly_probability(z, prior, spread)

    return score(best_z(x, min_levels, max_levels, score))


def outliers(x, threshold=OUTLIER_Z):
    """Number of outliers: values whose robust z-score about the window
    median exceeds ``threshold`` (default 3.5, Iglewicz & Hoaglin's modified
    z-score rule).  Needs 3 values.

    >>> outliers(np.array([10.0, 10.2, 9.9, 10.1, 10.0, 19.0, -3.0]))
    2.0
    """
    return float(np.count_nonzero(robust_z(x - median(x)) > threshold))


def outliers_pattern(x, min_levels=2, max_levels="n", threshold=OUTLIER_Z):
    """outliersX-Y: ``outliers`` counted on the residuals of the explanation
    of ``patterns`` with the fewest outliers.  Never above ``outliers``.
    Needs 3 values.

    >>> on_off = np.array([1000.0] * 25 + [0.0] * 5)
    >>> outliers(on_off), outliers_pattern(on_off, 2, 5)
    (5.0, 0.0)
    """
    def score(z):
        return float(np.count_nonzero(z > threshold))

    return score(best_z(x, min_levels, max_levels, score))


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
