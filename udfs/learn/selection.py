"""``auto``: choose a model by rolling-origin error inside the window, simplest first.

How a candidate is judged. Origins ``m`` are spread over the second half of
the rows (at most ``MAX_ORIGINS`` of them, so a long window costs a fixed
number of fits); at each, the candidate is fitted on rows ``[0, m)`` in time
order and predicts every later row of the window. The loss at an origin is
the judging metric over those rows. Predicting the rest of the window, not
only the next row, asks what a deployed model must do: keep predicting until
the next window replaces it.

How one is chosen: the one-standard-error rule. Among candidates in order of
simplicity, the first whose mean loss exceeds the best mean by no more than
the standard error of their paired difference wins. On a dozen rows the
differences are mostly noise, so the simplest candidate stays; a flexible
model has to be better by more than its noise to be taken.

What is searched (``candidates``), simplest first: the base model (least
squares, shrunk towards the fleet when the fleet prior is on; logistic
regression for classification); then, on windows of at least
``FORM_MIN_ROWS`` rows, ridge, least squares weighted towards the newest rows
(a device whose behaviour changed inside the window), the log transforms
(unless ``transformtype`` fixes one) and a quadratic term (a stronger logistic penalty, and a weaker
one, for classification); then, from ``FLEXIBLE_MIN_ROWS`` rows, gradient
boosting and a neural network, and random hyperparameters of those, until
``modelruns`` candidates (with them, ``MAX_FLEXIBLE_ORIGINS`` origins bound
the cost). Measured on public panel data with 6 to 15 rows
per entity (``bench/ml_quality.py``), choosing between forms inside such a
window lost to plain least squares on every set, hence the thresholds.

What one window cannot see, its fleet can: the trainer's board
(``evidence``) scores every form of ``forms`` on every window, as it would
be deployed (``averaged``), and a form the fleet's evidence backs beyond
noise is offered to windows of any length as the candidate after the base
model. The one-standard-error rule above still judges it on the entity's
own rows, towards the base model; where that keeps the base, the entity
deploys the form averaged with its own least squares (``hedged``), so the
fleet's form reaches it at the share ``1 - shrinkage.BLEND``.
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np

from .algorithms import (
    CLASSIFICATION, GradientBoosting, LinearRegression, LogisticRegression, NeuralNetwork, QuadraticRegression,
    RidgeRegression,
)
from .candidate import Candidate, Prior
from .metrics import loss
from .reasons import BadWindow
from .transforms import TRANSFORMS, Transform

MAX_ORIGINS = 8
MAX_FLEXIBLE_ORIGINS = 3  # a gradient-boosting or network fit costs 10 to 20 ms on a few hundred rows
FORM_MIN_ROWS = 20
FLEXIBLE_MIN_ROWS = 100


def origins(n: int, first: int, max_origins: int = MAX_ORIGINS, start: float = 0.5) -> np.ndarray:
    """Rows at which folds start: evenly spread from ``max(first, start * n)`` to ``n - 1``.

    Examples
    --------
    >>> origins(12, 3).tolist()
    [6, 7, 8, 9, 10, 11]
    >>> origins(1000, 3, max_origins=4).tolist()
    [500, 666, 833, 999]
    >>> origins(4, 4).tolist()
    []
    """
    start = max(first, int(math.ceil(start * n)))
    if start >= n:
        return np.empty(0, dtype=int)
    count = min(max_origins, n - start)
    return np.unique(np.linspace(start, n - 1, count).round().astype(int))


def rolling_losses(candidate: Candidate, X: np.ndarray, y: np.ndarray, at: np.ndarray, *, task: str,
                   metric: str, features: Sequence[str], seed: int = 0, prior: Prior | None = None,
                   rest: bool = False) -> np.ndarray | None:
    """Loss at each origin of ``at`` (fit on the rows before it); None if a fold fails.

    Each origin predicts the rows up to the next origin, so the losses are of
    disjoint rows and their spread is an honest standard error; with ``rest``
    each predicts every later row of the window.
    """
    out = np.empty(len(at))
    ends = [len(y)] * len(at) if rest else [*at[1:], len(y)]
    for i, (m, end) in enumerate(zip(at, ends)):
        try:
            fitted = candidate.fit(X[:m], y[:m], task=task, features=features, seed=seed, prior=prior)
        except BadWindow:
            return None
        value = loss(task, y[m:end], fitted.predict(X[m:end]), metric)
        if not math.isfinite(value):
            return None
        out[i] = value
    return out


def one_standard_error(losses: Sequence[np.ndarray | None]) -> int | None:
    """Index of the first candidate within one standard error of the best (paired over origins).

    Examples
    --------
    >>> one_standard_error([np.array([1.0, 1.2, 0.9]), np.array([0.9, 1.0, 1.0])])
    0
    >>> one_standard_error([np.array([2.0, 2.1, 2.2]), np.array([1.0, 1.0, 1.1])])
    1
    >>> one_standard_error([None, np.array([1.0])])
    1
    """
    usable = [i for i, v in enumerate(losses) if v is not None]
    if not usable:
        return None
    best = min(usable, key=lambda i: losses[i].mean())
    for i in usable:
        d = losses[i] - losses[best]
        se = d.std(ddof=1) / math.sqrt(len(d)) if len(d) > 1 else 0.0
        if d.mean() <= se:
            return i
    return best


def candidates(task: str, base: Candidate, n_rows: int, *, modelruns: int, seed: int,
               search_transforms: bool) -> list[Candidate]:
    """What ``auto`` tries on ``n_rows`` rows, simplest first, at most ``modelruns``.

    Examples
    --------
    >>> [c.name for c in candidates("regression", Candidate(LinearRegression), 12, modelruns=10, seed=0,
    ...                             search_transforms=True)]
    ['linear']
    >>> [c.name for c in candidates("regression", Candidate(LinearRegression), 30, modelruns=10, seed=0,
    ...                             search_transforms=True)]
    ['linear', 'ridge(alpha=1.0)', 'linear(halflife=0.25)', 'linear/log-lin', 'linear/lin-log', 'linear/log-log', 'quadratic']
    """
    transform = base.transform
    flexible = [GradientBoosting, NeuralNetwork]
    found = [base]
    if n_rows >= FORM_MIN_ROWS:
        found += forms(task, transform, search_transforms)
    if n_rows >= FLEXIBLE_MIN_ROWS:
        found += [Candidate(cls, (), transform) for cls in flexible]
        rng = np.random.default_rng(seed)
        draws = [cls for cls in flexible] + ([RidgeRegression] if task != CLASSIFICATION else [LogisticRegression])
        attempts = 0
        while len(found) < modelruns and attempts < 10 * modelruns:
            attempts += 1
            cls = draws[int(rng.integers(len(draws)))]
            drawn = Candidate(cls, tuple(sorted(cls.sample_hyperparameters(rng, task).items())), transform)
            if drawn not in found:
                found.append(drawn)
    return found[:max(1, modelruns)]


def forms(task: str, transform: Transform, search_transforms: bool) -> list[Candidate]:
    """The closed-form alternatives to the base model, simplest first: what a window of ``FORM_MIN_ROWS``
    rows searches, and what the fleet's board (``evidence``) weighs on windows of any length.

    Examples
    --------
    >>> [c.name for c in forms("regression", TRANSFORMS["log-log"], search_transforms=False)]
    ['ridge(alpha=1.0)/log-log', 'linear(halflife=0.25)/log-log', 'quadratic/log-log']
    """
    if task == CLASSIFICATION:
        return [Candidate(LogisticRegression, (("C", 0.1),), transform),
                Candidate(LogisticRegression, (("C", 10.0),), transform)]
    found = [Candidate(RidgeRegression, (("alpha", 1.0),), transform),
             Candidate(LinearRegression, (("halflife", 0.25),), transform)]
    if search_transforms:
        found += [Candidate(LinearRegression, (), TRANSFORMS[name]) for name in ("log-lin", "lin-log", "log-log")]
    found.append(Candidate(QuadraticRegression, (), transform))
    return found


def search(found: list[Candidate], X: np.ndarray, y: np.ndarray, *, task: str, metric: str,
           features: Sequence[str], seed: int = 0, prior: Prior | None = None) -> tuple[Candidate, dict[str, float]]:
    """The chosen candidate and each candidate's mean rolling-origin loss (by name).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> X = rng.uniform(1, 2, (60, 1))
    >>> y = 1.0 + 3.0 * X[:, 0] ** 2 + rng.normal(0, 0.01, 60)
    >>> chosen, means = search(candidates("regression", Candidate(LinearRegression), 60, modelruns=10, seed=0,
    ...                                   search_transforms=True), X, y, task="regression", metric="mae",
    ...                        features=("x",))
    >>> chosen.name
    'quadratic'
    """
    usable = [c for c in found if c.usable(X, y)]
    if len(usable) <= 1:
        return (usable or found)[0], {}
    flexible = any(c.algorithm.flexible for c in usable)
    at = origins(len(y), first=min_rows(X.shape[1], usable),
                 max_origins=MAX_FLEXIBLE_ORIGINS if flexible else MAX_ORIGINS)
    if len(at) == 0:
        return usable[0], {}
    losses = [rolling_losses(c, X, y, at, task=task, metric=metric, features=features, seed=seed, prior=prior)
              for c in usable]
    chosen = one_standard_error(losses)
    means = {c.name: float(v.mean()) for c, v in zip(usable, losses) if v is not None}
    return usable[chosen if chosen is not None else 0], means


def min_rows(k: int, found: list[Candidate]) -> int:
    # Enough rows before the first origin for the widest candidate's parameters.
    return (2 * k + 2) if any(c.algorithm is QuadraticRegression for c in found) else k + 2


def base_candidate(task: str, transform: Transform, prior_rows: float | None = None,
                   blend: float = 0.0) -> Candidate:
    """Least squares (shrunk towards the fleet unless ``prior_rows`` is None, its forecast averaged with the
    entity's own least squares' at share ``blend``), or logistic regression."""
    if task == CLASSIFICATION:
        return Candidate(LogisticRegression, (), transform)
    if prior_rows is None:
        return Candidate(LinearRegression, (), transform)
    blended = (("blend", float(blend)),) if blend else ()
    return Candidate(LinearRegression, (("prior_rows", float(prior_rows)), *blended), transform)


def averaged(form: Candidate, base: Candidate, blend: float) -> Candidate:
    """``form`` as an entity whose own window keeps ``base`` deploys it (``hedged``): its forecast averaged with
    the entity's own least squares' at share ``blend`` where that average is one model, else the form alone.
    The fleet's board scores each form so, since that is what its evidence lends.

    Examples
    --------
    >>> base, form = base_candidate("regression", TRANSFORMS[""]), Candidate(QuadraticRegression)
    >>> averaged(form, base, 0.25).name, averaged(form, base, 0).name
    ('quadratic(blend=0.25)', 'quadratic')
    >>> averaged(Candidate(LinearRegression, (), TRANSFORMS["log-log"]), base, 0.25).name   # two transforms
    'linear/log-log'
    """
    hedge = hedged(base, base, form, blend)
    return form if hedge == base else hedge


def outright(form: Candidate) -> Candidate:
    """The form itself, without an average with least squares (``averaged`` undone).

    >>> outright(Candidate(LinearRegression, (("halflife", 0.25), ("blend", 0.25)))).name
    'linear(halflife=0.25)'
    """
    return Candidate(form.algorithm, tuple((k, v) for k, v in form.hyper if k != "blend"), form.transform)


def hedged(chosen: Candidate, base: Candidate, form: Candidate | None, blend: float) -> Candidate:
    """What an entity deploys when the fleet backs ``form``: the form if its own window chose it; if its own
    window kept ``base``, the form's forecast averaged with its own least squares' (share ``blend``), when the
    average is one model (``Candidate.blendable``, in the base's transform); else what it chose.

    Why: the one-standard-error rule on a dozen rows keeps the base almost
    always, so a form the whole fleet backs would reach almost no one; the
    average takes most of the fleet's gain (the form's share, ``1 - blend``)
    at less risk to a device the form does not suit (``shrinkage`` says why
    averages are safe).

    Examples
    --------
    >>> base, form = base_candidate("regression", TRANSFORMS[""]), Candidate(LinearRegression, (("halflife", 0.25),))
    >>> hedged(base, base, form, 0.5).name, hedged(form, base, form, 0.5).name, hedged(base, base, None, 0.5).name
    ('linear(halflife=0.25,blend=0.5)', 'linear(halflife=0.25)', 'linear')
    >>> hedged(base, base, Candidate(LinearRegression, (), TRANSFORMS["log-log"]), 0.5).name   # two transforms
    'linear'
    """
    if not blend or form is None or chosen != base or not form.blendable or form.transform != base.transform \
            or form.shrunk:
        return chosen
    return Candidate(form.algorithm, tuple((k, v) for k, v in form.hyper if k != "blend") + (("blend", float(blend)),),
                     form.transform)

