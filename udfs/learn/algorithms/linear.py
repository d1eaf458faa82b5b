"""Ordinary least squares, closed form with numpy."""

from __future__ import annotations

import numpy as np

from .base import REGRESSION, Algorithm


def prepare_linear(params: dict) -> tuple[np.ndarray, float]:
    """Shared by every linear-in-parameters model."""
    return np.asarray(params["coef"], dtype=float), float(params["intercept"])


def run_linear(prepared: tuple[np.ndarray, float], X: np.ndarray) -> np.ndarray:
    coef, intercept = prepared
    return intercept + X @ coef


class LinearRegression(Algorithm):
    """Least-squares fit of ``y = intercept + X @ coef``.

    Examples
    --------
    >>> X = np.array([[0.0], [1.0], [2.0]])
    >>> m = LinearRegression().fit(X, 1.0 + 2.0 * X[:, 0])
    >>> [round(v, 6) for v in m.params_["coef"]], round(m.params_["intercept"], 6)
    ([2.0], 1.0)
    """

    key = "linear"
    label = "Linear Regression"
    code = "lin"
    tasks = (REGRESSION,)
    linear = True

    def __init__(self, task: str = REGRESSION):
        self.task = task

    def fit(self, X, y):
        self._check_task()
        A = np.column_stack([np.ones(len(X)), X])
        # lstsq (SVD) rather than the normal equations: collinear features in a
        # window still give the minimum-norm solution instead of an error.
        beta, *_ = np.linalg.lstsq(A, y, rcond=None)
        self.params_ = {"coef": beta[1:].tolist(), "intercept": float(beta[0])}
        return self

    prepare = staticmethod(prepare_linear)
    run = staticmethod(run_linear)
