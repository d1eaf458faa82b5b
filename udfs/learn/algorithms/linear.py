"""Least squares, closed form with numpy, optionally shrunk towards a prior from the fleet.

Without a prior this is ordinary least squares. With one (``prior_coef``,
see ``udfs.learn.shrinkage``) it writes the model around the window's mean
features ``x`` as ``y = m + (X - x) @ w`` and minimises

    ||y - m - (X - x) w||^2 + prior_rows * sum_j spread_j (w_j - prior_coef_j)^2
                            + level_rows * (m - fleet level at x)^2

where the fleet's level at ``x`` is ``prior_level + (x - prior_centre) @ prior_coef``.

The slope prior counts as ``prior_rows`` extra rows whose features vary as
much as the fleet's do (``spread``, the fleet's per-row variance of each
feature); the level prior as ``level_rows`` extra rows at the fleet's typical
level. An entity with few rows gets close to the fleet; as its rows
accumulate its own estimates take over.
"""

from __future__ import annotations

import numpy as np

from .base import REGRESSION, Algorithm, number, numbers


def prepare_linear(params: dict) -> tuple[np.ndarray, float]:
    """Shared by every linear-in-parameters model."""
    return np.asarray(params["coef"], dtype=float), float(params["intercept"])


def check_linear(params: dict, n_features: int) -> None:
    """Shared by every linear-in-parameters model: a finite coefficient per feature and a finite intercept.

    >>> check_linear({"coef": [1.0], "intercept": 0.0}, 2)
    Traceback (most recent call last):
    ...
    ValueError: coef has 1 coefficients for 2 features
    """
    coef = numbers(params["coef"], "coef")
    if len(coef) != n_features:
        raise ValueError(f"coef has {len(coef)} coefficients for {n_features} features")
    number(params["intercept"], "intercept")


def run_linear(prepared: tuple[np.ndarray, float], X: np.ndarray) -> np.ndarray:
    coef, intercept = prepared
    return intercept + X @ coef


def penalised_least_squares(X: np.ndarray, y: np.ndarray, penalty: np.ndarray | None = None,
                            target: np.ndarray | None = None,
                            weights: np.ndarray | None = None) -> tuple[np.ndarray, float]:
    """``(coef, intercept)`` minimising ``sum_i weights_i (y_i - b - X_i w)^2 + sum_j penalty_j (w_j - target_j)^2``.

    The intercept is never penalised: centring removes it from the system.
    Without a penalty this is least squares by SVD (``lstsq``), so collinear
    features in a window still give the minimum-norm solution instead of an
    error.

    Examples
    --------
    >>> X = np.array([[0.0], [1.0], [2.0]])
    >>> coef, b = penalised_least_squares(X, 1.0 + 2.0 * X[:, 0], np.array([1e9]), np.array([5.0]))
    >>> round(float(coef[0]), 6), round(b, 6)  # a huge penalty keeps the target slope
    (5.0, -2.0)
    """
    if weights is None and X.dtype == y.dtype == np.float64:
        # ndarray.mean's own sum and division for float arrays, without its wrapper (two fits every window).
        n = len(y)
        x_mean = np.add.reduce(X, axis=0) / n
        y_mean = float(np.add.reduce(y) / n)
    elif weights is None:
        x_mean = X.mean(axis=0)
        y_mean = float(y.mean())
    else:
        x_mean = np.average(X, axis=0, weights=weights)
        y_mean = float(np.average(y, weights=weights))
    Xc = X - x_mean
    yc = y - y_mean
    if weights is not None:
        root = np.sqrt(weights)
        Xc, yc = Xc * root[:, None], yc * root
    if penalty is None or not np.any(penalty):
        coef, *_ = np.linalg.lstsq(Xc, yc, rcond=None)
    else:
        target = np.zeros(X.shape[1]) if target is None else np.asarray(target, dtype=float)
        gram = Xc.T @ Xc + np.diag(penalty)
        coef = np.linalg.solve(gram, Xc.T @ yc + penalty * target)
    return coef, y_mean - float(x_mean @ coef)


def recency_weights(n: int, halflife: float) -> np.ndarray | None:
    """Weights that halve every ``halflife * n`` rows back from the newest (None for 0: all rows alike).

    Examples
    --------
    >>> recency_weights(8, 0.25).round(3).tolist()
    [0.088, 0.125, 0.177, 0.25, 0.354, 0.5, 0.707, 1.0]
    """
    if not halflife:
        return None
    return 0.5 ** ((n - 1 - np.arange(n)) / (halflife * n))


class LinearRegression(Algorithm):
    """Least-squares fit of ``y = intercept + X @ coef``, optionally shrunk towards ``prior_coef``.

    ``halflife`` > 0 weighs rows by recency (``recency_weights``): a device
    whose behaviour changed inside the window is fitted mostly on its newer rows.

    Examples
    --------
    >>> X = np.array([[0.0], [1.0], [2.0]])
    >>> m = LinearRegression().fit(X, 1.0 + 2.0 * X[:, 0])
    >>> [round(v, 6) for v in m.params_["coef"]], round(m.params_["intercept"], 6)
    ([2.0], 1.0)
    >>> prior = dict(prior_coef=[3.0], prior_spread=[1.0], prior_centre=[0.0], prior_level=0.0)
    >>> m = LinearRegression(prior_rows=1e9, **prior).fit(X, X[:, 0])
    >>> [round(v, 6) for v in m.params_["coef"]], round(m.params_["intercept"], 6)
    ([3.0], -2.0)
    >>> m = LinearRegression(prior_rows=1e9, level_rows=1e9, **prior).fit(X, X[:, 0])
    >>> [round(v, 6) for v in m.params_["coef"]], round(m.params_["intercept"], 6) + 0.0
    ([3.0], 0.0)
    """

    key = "linear"
    label = "Linear Regression"
    code = "lin"
    tasks = (REGRESSION,)
    linear = True

    def __init__(self, task: str = REGRESSION, halflife: float = 0.0, prior_rows: float = 0.0, level_rows: float = 0.0,
                 prior_coef: list[float] | None = None, prior_spread: list[float] | None = None,
                 prior_centre: list[float] | None = None, prior_level: float = 0.0):
        self.task = task
        self.halflife = halflife
        self.prior_rows = prior_rows
        self.level_rows = level_rows
        self.prior_coef = prior_coef
        self.prior_spread = prior_spread
        self.prior_centre = prior_centre
        self.prior_level = prior_level

    def hyperparameters(self):
        # Only how strongly the fleet counted; its own numbers change with
        # every window and are not needed to predict.
        if self.prior_coef is not None:
            return {"task": self.task, "prior_rows": self.prior_rows, "level_rows": self.level_rows}
        return {"task": self.task, "halflife": self.halflife} if self.halflife else {"task": self.task}

    def fit(self, X, y):
        self._check_task()
        if self.prior_coef is None:
            coef, intercept = penalised_least_squares(X, y, weights=recency_weights(len(y), self.halflife))
        else:
            coef, intercept = _shrunk(X, y, self)
        self.params_ = {"coef": coef.tolist(), "intercept": float(intercept)}
        return self

    check = staticmethod(check_linear)
    prepare = staticmethod(prepare_linear)
    run = staticmethod(run_linear)


def shrunk_solutions(X: np.ndarray, y: np.ndarray, prior_rows: np.ndarray, level_rows: float,
                     coef: np.ndarray, spread: np.ndarray, centre: np.ndarray,
                     level: float) -> tuple[np.ndarray, np.ndarray]:
    """``(coef, intercept)`` of the shrunk fit for every value of ``prior_rows`` at once (shapes (G, k), (G,)).

    The level is taken at the window's own mean features, where its rows pin
    it down; the fleet's level there is its level at its centre moved along
    its slopes. (Taken at the fleet's centre instead, a device far from it
    would let a weak level prior bend its slopes.)

    Examples
    --------
    >>> X = np.array([[0.0], [1.0], [2.0]])
    >>> c, b = shrunk_solutions(X, 2.0 * X[:, 0], np.array([0.0, 1e9]), 0.0, np.array([1.0]), np.array([1.0]),
    ...                         np.array([0.0]), 0.0)
    >>> c.round(6).tolist(), (b.round(6) + 0.0).tolist()
    ([[2.0], [1.0]], [0.0, 1.0])
    """
    own = X.mean(axis=0)
    A = np.column_stack([np.ones(len(X)), X - own])
    k1 = A.shape[1]
    penalty = np.empty((len(prior_rows), k1))
    penalty[:, 0] = level_rows
    penalty[:, 1:] = np.outer(prior_rows, spread)
    target = np.concatenate([[level + (own - centre) @ coef], coef])
    systems = (A.T @ A)[None, :, :] + penalty[:, :, None] * np.eye(k1)[None, :, :]
    rhs = (A.T @ y)[None, :] + penalty * target[None, :]
    try:
        beta = np.linalg.solve(systems, rhs[:, :, None])[:, :, 0]
    except np.linalg.LinAlgError:
        # A window too short to pin down what the prior leaves free: minimum norm.
        beta = np.stack([np.linalg.lstsq(m, r, rcond=None)[0] for m, r in zip(systems, rhs)])
    return beta[:, 1:], beta[:, 0] - beta[:, 1:] @ own


def _shrunk(X: np.ndarray, y: np.ndarray, m: LinearRegression) -> tuple[np.ndarray, float]:
    coef, intercept = shrunk_solutions(
        X, y, np.array([float(m.prior_rows)]), float(m.level_rows), np.asarray(m.prior_coef, dtype=float),
        np.asarray(m.prior_spread, dtype=float), np.asarray(m.prior_centre, dtype=float), float(m.prior_level))
    return coef[0], float(intercept[0])
