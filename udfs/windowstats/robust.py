"""Robust z-scores: deviations measured in a scale that outliers cannot inflate.

The anomaly types share this one definition (Iglewicz & Hoaglin, 1993):
z = |r| / s, where r are residuals about a robust centre and s estimates
the standard deviation as 1.4826 * median(|r|) (the MAD), or, when more than
half the residuals are 0 and the MAD is 0, as 1.2533 * mean(|r|).
"""

import math

import numpy as np

from .location import median

# For normal data the MAD is 0.6745 sigma and the mean absolute deviation
# sigma * sqrt(2 / pi); these factors turn either into a sigma estimate.
MAD_TO_SIGMA = 1.0 / 0.6744897501960817
MEAN_AD_TO_SIGMA = math.sqrt(math.pi / 2.0)

# Iglewicz & Hoaglin's cut-off: a modified z-score above 3.5 is an outlier.
OUTLIER_Z = 3.5


def robust_scale(residuals):
    """Sigma estimate from residuals about a robust centre; 0 only if all are 0.

    >>> round(robust_scale(np.array([-1.0, 0.0, 1.0])), 4)
    1.4826
    >>> round(robust_scale(np.array([0.0, 0.0, 0.0, 3.0])), 4)
    0.94
    """
    deviations = np.abs(residuals)
    mad = median(deviations)
    if mad > 0:
        return float(MAD_TO_SIGMA * mad)
    return float(MEAN_AD_TO_SIGMA * np.mean(deviations))


def robust_z(residuals):
    """|residual| / robust_scale(residuals); all 0 when every residual is 0.

    >>> robust_z(np.array([0.0, 0.0, 0.0, 3.0])).round(3).tolist()
    [0.0, 0.0, 0.0, 3.192]
    """
    scale = robust_scale(residuals)
    if scale == 0:
        return np.zeros(len(residuals))
    return np.abs(residuals) / scale


def robust_z_rows(residual_rows):
    """``robust_z`` for each row of a 2-D array."""
    deviations = np.abs(residual_rows)
    mad = np.median(deviations, axis=1)
    scale = np.where(mad > 0, MAD_TO_SIGMA * mad, MEAN_AD_TO_SIGMA * deviations.mean(axis=1))
    safe = np.where(scale > 0, scale, 1.0)
    return np.where(scale[:, None] > 0, deviations / safe[:, None], 0.0)
