"""Hold-out metrics and the rule that says which of two models scored better.

Regression has four metrics; the train option ``metric`` picks the one that
judges (champion against challenger, and candidates inside ``auto``):

- ``mape`` (the seed's, the default): mean of ``|y - yhat| / |y|`` over rows
  whose target is not zero. Rows with ``y == 0`` are skipped because their
  percentage error is undefined; if every target is zero the MAPE is NaN and
  the window cannot judge (the trainer reports it). Near zero it explodes
  (a temperature in °C crossing zero), which is what the others are for.
- ``smape``: mean of ``2 |y - yhat| / (|y| + |yhat|)``, bounded by 2; a row
  where both are zero counts as 0.
- ``mae``: mean absolute error, in the units of ``y``.
- ``rmse``: root mean squared error, in the units of ``y``.

Every regression score also carries ``mape`` when it is defined, because the
seed's ``Forecastaccuracy`` is ``1 - MAPE``.

Classification: accuracy at threshold 0.5, then log-loss to break ties.

``score_key`` turns scores into a tuple where smaller is better, so every
comparison in the package is ``challenger_key < champion_key``.
"""

from __future__ import annotations

import math

import numpy as np

from .algorithms.base import CLASSIFICATION

_EPS = 1e-15

REGRESSION_METRICS = ("mape", "smape", "mae", "rmse")
DEFAULT_METRIC = "mape"


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


def smape(y: np.ndarray, predicted: np.ndarray) -> float:
    """Symmetric MAPE (a fraction between 0 and 2).

    Examples
    --------
    >>> smape(np.array([1.0, 0.0, -1.0]), np.array([3.0, 0.0, 1.0]))
    1.0
    """
    denominator = np.abs(y) + np.abs(predicted)
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(denominator > 0, 2.0 * np.abs(y - predicted) / denominator, 0.0)
    return float(np.mean(terms))


def mae(y: np.ndarray, predicted: np.ndarray) -> float:
    """Mean absolute error.

    Examples
    --------
    >>> mae(np.array([1.0, 2.0]), np.array([2.0, 0.0]))
    1.5
    """
    return float(np.mean(np.abs(y - predicted)))


def rmse(y: np.ndarray, predicted: np.ndarray) -> float:
    """Root mean squared error.

    Examples
    --------
    >>> rmse(np.array([0.0, 0.0]), np.array([3.0, 4.0]))
    3.5355339059327378
    """
    return float(np.sqrt(np.mean((y - predicted) ** 2)))


_REGRESSION = {"mape": mape, "smape": smape, "mae": mae, "rmse": rmse}


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


def primary_metric(task: str, metric: str = DEFAULT_METRIC) -> str:
    """Name of the metric a model is judged by."""
    return "accuracy" if task == CLASSIFICATION else metric


def scores(task: str, y: np.ndarray, predicted: np.ndarray, metric: str = DEFAULT_METRIC) -> dict[str, float]:
    """The judging metric first, then ``mape`` (regression) or log-loss (classification).

    Examples
    --------
    >>> scores("regression", np.array([2.0, 4.0]), np.array([1.0, 5.0]), "mae")
    {'mae': 1.0, 'mape': 0.375}
    """
    if task == CLASSIFICATION:
        return {"accuracy": accuracy(y, predicted), "logloss": log_loss(y, predicted)}
    out = {metric: _REGRESSION[metric](y, predicted)}
    if metric != "mape":
        value = mape(y, predicted)
        if math.isfinite(value):
            out["mape"] = value
    return out


def loss(task: str, y: np.ndarray, predicted: np.ndarray, metric: str = DEFAULT_METRIC) -> float:
    """One number, smaller is better, for ranking candidates (log-loss for classification)."""
    if task == CLASSIFICATION:
        return log_loss(y, predicted)
    return _REGRESSION[metric](y, predicted)


def score_key(task: str, metric: dict[str, float], name: str | None = None) -> tuple[float, ...] | None:
    """Comparable form of ``scores``' result (smaller is better); None if unusable.

    ``name`` is the judging metric (the first key of ``metric`` when omitted).

    Examples
    --------
    >>> score_key("classification", {"accuracy": 0.9, "logloss": 0.3}) < \\
    ...     score_key("classification", {"accuracy": 0.9, "logloss": 0.4})
    True
    >>> score_key("regression", {"mape": float("nan")}) is None
    True
    >>> score_key("regression", {"mae": 2.0, "mape": 0.1}, "mae")
    (2.0,)
    """
    if task == CLASSIFICATION:
        key = (-metric["accuracy"], metric["logloss"])
    else:
        name = name or next(iter(metric))
        if name not in metric:
            return None
        key = (metric[name],)
    return key if all(math.isfinite(v) for v in key) else None


def below_threshold(task: str, metric: dict[str, float], threshold: float, name: str | None = None) -> str | None:
    """Why hold-out scores fail the accuracy gate ``threshold``, in the judging metric's own terms; None when
    they pass or the gate is off (``threshold`` 0).

    Classification fails below the threshold (accuracy); regression above it (every regression metric is an
    error). A score exactly at the threshold passes. ``name`` is the judging metric, as for ``score_key``.

    Examples
    --------
    >>> below_threshold("classification", {"accuracy": 0.71, "logloss": 0.5}, 0.8)
    'below accuracythreshold 0.8: accuracy 0.71'
    >>> below_threshold("regression", {"mae": 7.25, "mape": 0.1}, 5.0, "mae")
    'above accuracythreshold 5 (mae is an error): mae 7.25'
    >>> below_threshold("regression", {"mae": 5.0}, 5.0, "mae") is None, below_threshold("regression", {"mae": 9.0}, 0.0) is None
    (True, True)
    """
    if not threshold:
        return None
    if task == CLASSIFICATION:
        value = metric["accuracy"]
        return f"below accuracythreshold {threshold:g}: accuracy {value:.6g}" if value < threshold else None
    name = name or next(iter(metric))
    value = metric[name]
    return f"above accuracythreshold {threshold:g} ({name} is an error): {name} {value:.6g}" \
        if value > threshold else None


def forecast_accuracy(task: str, metric: dict[str, float]) -> float | None:
    """The seed's ``Forecastaccuracy``: accuracy, or ``max(0, 1 - MAPE)`` for regression.

    None for a regression score without a MAPE (every target was zero).

    Examples
    --------
    >>> forecast_accuracy("regression", {"mape": 0.25})
    0.75
    >>> forecast_accuracy("regression", {"mae": 3.0}) is None
    True
    """
    if task == CLASSIFICATION:
        return metric["accuracy"]
    if "mape" not in metric:
        return None
    return max(0.0, 1.0 - metric["mape"])
