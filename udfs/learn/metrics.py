"""Hold-out metrics and the rule that says which of two models scored better.

- Regression: MAPE, the mean of ``|y - yhat| / |y|`` over hold-out rows whose
  target is not zero. Rows with ``y == 0`` are skipped because their
  percentage error is undefined; if every hold-out target is zero the MAPE is
  NaN and the window cannot judge a challenger (the trainer reports it).
- Classification: accuracy at threshold 0.5, then log-loss to break ties.

``score_key`` turns scores into a tuple where smaller is better, so every
comparison in the package is ``challenger_key < champion_key``.
"""

from __future__ import annotations

import math

import numpy as np

from .algorithms.base import CLASSIFICATION

_EPS = 1e-15


def mape(y: np.ndarray, predicted: np.ndarray) -> float:
    """Mean absolute percentage error over non-zero targets (a fraction, not %).

    Examples
    --------
    >>> mape(np.array([2.0, 0.0, 4.0]), np.array([1.0, 5.0, 5.0]))
    0.375
    >>> mape(np.array([0.0]), np.array([1.0]))
    nan
    """
    nonzero = y != 0
    if not nonzero.any():
        return math.nan
    return float(np.mean(np.abs(y[nonzero] - predicted[nonzero]) / np.abs(y[nonzero])))


def accuracy(y: np.ndarray, probability1: np.ndarray) -> float:
    """Share of rows where ``probability1 >= 0.5`` agrees with ``y``.

    Examples
    --------
    >>> accuracy(np.array([1, 0, 1]), np.array([0.9, 0.2, 0.4]))
    0.6666666666666666
    """
    return float(np.mean((probability1 >= 0.5) == (y == 1)))


def log_loss(y: np.ndarray, probability1: np.ndarray) -> float:
    """Mean negative log-likelihood of binary labels.

    Examples
    --------
    >>> round(log_loss(np.array([1, 0]), np.array([0.5, 0.5])), 6)
    0.693147
    """
    p = np.clip(probability1, _EPS, 1.0 - _EPS)
    return float(-np.mean(np.where(y == 1, np.log(p), np.log1p(-p))))


def scores(task: str, y: np.ndarray, predicted: np.ndarray) -> dict[str, float]:
    """All metrics for ``task``; the first key is the primary metric."""
    if task == CLASSIFICATION:
        return {"accuracy": accuracy(y, predicted), "logloss": log_loss(y, predicted)}
    return {"mape": mape(y, predicted)}


def score_key(task: str, metric: dict[str, float]) -> tuple[float, ...] | None:
    """Comparable form of ``scores``' result (smaller is better); None if unusable.

    Examples
    --------
    >>> score_key("classification", {"accuracy": 0.9, "logloss": 0.3}) < \\
    ...     score_key("classification", {"accuracy": 0.9, "logloss": 0.4})
    True
    >>> score_key("regression", {"mape": float("nan")}) is None
    True
    """
    key = (-metric["accuracy"], metric["logloss"]) if task == CLASSIFICATION else (metric["mape"],)
    return key if all(math.isfinite(v) for v in key) else None


def primary_metric(task: str) -> str:
    """Name of the metric a model is judged by."""
    return "accuracy" if task == CLASSIFICATION else "mape"


def forecast_accuracy(task: str, metric: dict[str, float]) -> float:
    """The seed's ``Forecastaccuracy``: accuracy, or ``max(0, 1 - MAPE)`` for regression.

    Examples
    --------
    >>> forecast_accuracy("regression", {"mape": 0.25})
    0.75
    """
    if task == CLASSIFICATION:
        return metric["accuracy"]
    return max(0.0, 1.0 - metric["mape"])
