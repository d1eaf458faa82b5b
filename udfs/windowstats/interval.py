"""Confidence intervals for the mean of a window (meanci95, meanci99).

``x`` is a 1-D float64 array of finite values (the window's ``numbers``
view) with at least 2 values.
"""

import math

import numpy as np

from .distributions import t_quantile_two_sided


def meanci(x, confidence):
    """Student t confidence interval for the mean: mean ± t(n-1) * s / sqrt(n),
    with s the sample standard deviation.  Returns ``{"mean", "low", "high"}``.

    It assumes independent, roughly normal values (or enough of them); for
    autocorrelated streams the true coverage is lower than stated.  A
    constant window gives low = high = mean.

    >>> ci = meanci(np.array([1.0, 2.0, 3.0, 4.0]), 0.95)
    >>> {k: round(v, 4) for k, v in ci.items()}
    {'mean': 2.5, 'low': 0.4457, 'high': 4.5543}
    """
    n = len(x)
    mean = float(np.mean(x))
    half = t_quantile_two_sided(confidence, n - 1) * float(np.std(x, ddof=1)) / math.sqrt(n)
    return {"mean": mean, "low": mean - half, "high": mean + half}


def meanci_rows(rows, confidence):
    n = rows.shape[1]
    mean = rows.mean(axis=1)
    half = t_quantile_two_sided(confidence, n - 1) * rows.std(axis=1, ddof=1) / math.sqrt(n)
    return {"mean": mean, "low": mean - half, "high": mean + half}


def meanci95(x):
    """95% confidence interval for the mean (see ``meanci``).

    >>> meanci95(np.array([2.0, 2.0]))
    {'mean': 2.0, 'low': 2.0, 'high': 2.0}
    """
    return meanci(x, 0.95)


def meanci95_rows(rows):
    return meanci_rows(rows, 0.95)


def meanci99(x):
    """99% confidence interval for the mean (see ``meanci``).

    >>> round(meanci99(np.array([1.0, 2.0, 3.0, 4.0]))["high"], 4)
    6.2703
    """
    return meanci(x, 0.99)


def meanci99_rows(rows):
    return meanci_rows(rows, 0.99)
