"""L2-penalised logistic regression fitted by Newton's method (IRLS) in numpy.

Same objective as scikit-learn's ``LogisticRegression(C=C)``:
``C * sum(logloss) + ||w||^2 / 2`` with an unpenalised intercept. Newton on a
handful of features converges in a few iterations and is far cheaper than
scikit-learn's per-call overhead (about 30 ms per fit measured here against a
5 ms budget per entity window).
"""

from __future__ import annotations

import numpy as np

from .base import CLASSIFICATION, Algorithm, sigmoid
from .linear import check_linear, prepare_linear, run_linear


class LogisticRegression(Algorithm):
    """Binary logistic regression; ``evaluate`` returns P(y = 1).

    Examples
    --------
    >>> X = np.array([[0.0], [0.2], [0.4], [0.6], [0.8], [1.0]])
    >>> y = np.array([0, 0, 1, 0, 1, 1])
    >>> m = LogisticRegression(C=10.0).fit(X, y)
    >>> p = m.predict(X)
    >>> bool(p[0] < 0.5 < p[-1])
    True
    """

    key = "logistic"
    label = "Logistic Regression"
    code = "lgt"
    tasks = (CLASSIFICATION,)
    linear = True

    def __init__(self, task: str = CLASSIFICATION, C: float = 1.0, max_iter: int = 100, tol: float = 1e-10):
        self.task = task
        self.C = C
        self.max_iter = max_iter
        self.tol = tol

    def fit(self, X, y):
        self._check_task()
        n, k = X.shape
        A = np.column_stack([np.ones(n), X])
        penalty = np.full(k + 1, 1.0 / self.C)
        penalty[0] = 0.0
        beta = np.zeros(k + 1)
        for _ in range(self.max_iter):
            p = sigmoid(A @ beta)
            grad = A.T @ (p - y) + penalty * beta
            w = p * (1.0 - p)
            # A tiny ridge on the intercept keeps the Hessian invertible when
            # the window is separable and probabilities saturate.
            hess = (A.T * w) @ A + np.diag(penalty + 1e-12)
            step = np.linalg.solve(hess, grad)
            beta -= step
            if np.max(np.abs(step)) < self.tol:
                break
        self.params_ = {"coef": beta[1:].tolist(), "intercept": float(beta[0])}
        return self

    check = staticmethod(check_linear)
    prepare = staticmethod(prepare_linear)

    @staticmethod
    def run(prepared, X):
        return sigmoid(run_linear(prepared, X))

    @classmethod
    def sample_hyperparameters(cls, rng, task):
        return {"C": float(10 ** rng.uniform(-2, 3))}
