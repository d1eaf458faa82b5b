"""Per-entity min-max scaling of the model inputs, stored with the model.

``scaled = (x - min) / (max - min)``. A feature that was constant in the
training window has ``max == min``; it is scaled to ``x - min`` (range taken
as 1) so it contributes a constant instead of a division by zero. Values
outside the training range are not clipped: models extrapolate.
"""

from __future__ import annotations

import numpy as np


def fit_minmax(X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Column minima and maxima of ``X``.

    Examples
    --------
    >>> lo, hi = fit_minmax(np.array([[1.0, 5.0], [3.0, 5.0]]))
    >>> lo.tolist(), hi.tolist()
    ([1.0, 5.0], [3.0, 5.0])
    """
    return X.min(axis=0), X.max(axis=0)


def span(lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """``max - min`` with zero spans replaced by 1."""
    width = np.asarray(hi, dtype=float) - np.asarray(lo, dtype=float)
    return np.where(width > 0, width, 1.0)


def apply_minmax(X: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Scale ``X`` with a fitted min and max.

    Examples
    --------
    >>> apply_minmax(np.array([[2.0, 5.0]]), np.array([1.0, 5.0]), np.array([3.0, 5.0])).tolist()
    [[0.5, 0.0]]
    """
    return (X - lo) / span(lo, hi)


def unscaled(coef, intercept: float, lo, hi) -> tuple[float, np.ndarray]:
    """A linear model's ``(intercept, coef)`` on the inputs as they come to it (before min-max scaling):
    ``b + sum(c_j * (z_j - lo_j) / span_j) = (b - sum(c_j * lo_j / span_j)) + sum((c_j / span_j) * z_j)``.

    Examples
    --------
    >>> b, c = unscaled([20.0], 1.0, [2.0], [12.0])
    >>> float(b), c.tolist()
    (-3.0, [2.0])
    """
    coef = np.asarray(coef, dtype=float) / span(lo, hi)
    return intercept - coef @ np.asarray(lo, dtype=float), coef
