"""Least squares with a squared term per feature: curved growth, still closed form.

Exported params::

    {"coef": [...], "coef2": [...], "intercept": b}   # b + X @ coef + X**2 @ coef2

on the min-max scaled inputs, like every algorithm. No cross terms: with
``k`` features the model has ``2k + 1`` parameters, which a short window can
still carry.
"""

from __future__ import annotations

import numpy as np

from .base import REGRESSION, Algorithm, numbers
from .linear import check_linear, penalised_least_squares


class QuadraticRegression(Algorithm):
    """``y = b + X @ coef + X**2 @ coef2``.

    Examples
    --------
    >>> X = np.linspace(0.0, 1.0, 5)[:, None]
    >>> m = QuadraticRegression().fit(X, 1.0 + 2.0 * X[:, 0] ** 2)
    >>> np.round(m.predict(np.array([[0.5], [2.0]])), 6).tolist()
    [1.5, 9.0]
    """

    key = "quadratic"
    label = "Quadratic Regression"
    code = "qdr"
    tasks = (REGRESSION,)

    def __init__(self, task: str = REGRESSION):
        self.task = task

    def fit(self, X, y):
        self._check_task()
        coef, intercept = penalised_least_squares(np.column_stack([X, X * X]), y)
        k = X.shape[1]
        self.params_ = {"coef": coef[:k].tolist(), "coef2": coef[k:].tolist(), "intercept": intercept}
        return self

    @staticmethod
    def check(params, n_features):
        check_linear(params, n_features)
        if len(numbers(params["coef2"], "coef2")) != n_features:
            raise ValueError(f"coef2 has {len(params['coef2'])} coefficients for {n_features} features")

    @staticmethod
    def prepare(params):
        return (np.asarray(params["coef"], dtype=float), np.asarray(params["coef2"], dtype=float),
                float(params["intercept"]))

    @staticmethod
    def run(prepared, X):
        coef, coef2, intercept = prepared
        return intercept + X @ coef + (X * X) @ coef2
