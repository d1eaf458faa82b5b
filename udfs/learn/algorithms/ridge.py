"""Ridge regression, closed form with numpy (same objective as scikit-learn's Ridge)."""

from __future__ import annotations

import numpy as np

from .base import REGRESSION, Algorithm
from .linear import check_linear, penalised_least_squares, prepare_linear, run_linear


class RidgeRegression(Algorithm):
    """Minimise ``||y - b - X w||^2 + alpha ||w||^2``; the intercept is not penalised.

    Examples
    --------
    >>> X = np.array([[0.0], [1.0], [2.0], [3.0]])
    >>> m = RidgeRegression(alpha=1e-9).fit(X, 3.0 - X[:, 0])
    >>> round(m.params_["coef"][0], 6), round(m.params_["intercept"], 6)
    (-1.0, 3.0)
    """

    key = "ridge"
    label = "Ridge Regression"
    code = "rdg"
    tasks = (REGRESSION,)
    linear = True

    def __init__(self, task: str = REGRESSION, alpha: float = 1.0):
        self.task = task
        self.alpha = alpha

    def fit(self, X, y):
        self._check_task()
        coef, intercept = penalised_least_squares(X, y, np.full(X.shape[1], float(self.alpha)))
        self.params_ = {"coef": coef.tolist(), "intercept": intercept}
        return self

    check = staticmethod(check_linear)
    prepare = staticmethod(prepare_linear)
    run = staticmethod(run_linear)

    @classmethod
    def sample_hyperparameters(cls, rng, task):
        return {"alpha": float(10 ** rng.uniform(-4, 2))}
