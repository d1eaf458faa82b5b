"""``auto``: try ``modelruns`` seeded candidates, keep the best on held-out rows.

Candidates cycle through every algorithm that supports the task (so each is
tried at least once when ``modelruns`` allows), with hyperparameters drawn
from each algorithm's search space by a generator seeded with ``seed``. They
are fitted on the first ``1 - validation_fraction`` of the rows (time order)
and ranked on the rest; the winner is refitted on all rows it was given.
The caller's own hold-out (champion/challenger) is never seen here.
"""

from __future__ import annotations

import numpy as np

from ..metrics import score_key, scores
from .base import Algorithm


def search(algorithms: list[type[Algorithm]], X: np.ndarray, y: np.ndarray, *, task: str,
           modelruns: int, seed: int, validation_fraction: float = 0.25) -> Algorithm:
    """The best fitted candidate (refitted on all of ``X, y``).

    Examples
    --------
    >>> from udfs.learn.algorithms import LinearRegression, RidgeRegression
    >>> X = np.linspace(0, 1, 40)[:, None]
    >>> best = search([LinearRegression, RidgeRegression], X, 2 * X[:, 0] + 1,
    ...               task="regression", modelruns=4, seed=0)
    >>> best.key
    'linear'
    """
    rng = np.random.default_rng(seed)
    n_fit = int(round(len(X) * (1.0 - validation_fraction)))
    usable = 0 < n_fit < len(X) and len(np.unique(y[:n_fit])) > 1
    candidates = []
    seen = set()
    for run in range(max(1, modelruns)):
        cls = algorithms[run % len(algorithms)]
        hyper = cls.sample_hyperparameters(rng, task) if run >= len(algorithms) else {}
        signature = (cls.key, repr(sorted(hyper.items())))
        if signature in seen:  # e.g. plain least squares has nothing to vary
            continue
        seen.add(signature)
        candidates.append((cls, hyper))
    if not usable or len(candidates) == 1:
        cls, hyper = candidates[0]
        return cls.create(task, seed, **hyper).fit(X, y)
    best, best_key = None, None
    for cls, hyper in candidates:
        try:
            model = cls.create(task, seed, **hyper).fit(X[:n_fit], y[:n_fit])
            predicted = model.predict(X[n_fit:])
        except (ValueError, np.linalg.LinAlgError, FloatingPointError):
            continue  # one bad candidate does not end the search
        key = score_key(task, scores(task, y[n_fit:], predicted))
        if key is not None and (best_key is None or key < best_key):
            best, best_key = (cls, hyper), key
    cls, hyper = best if best is not None else candidates[0]
    return cls.create(task, seed, **hyper).fit(X, y)
