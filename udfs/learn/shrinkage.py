"""Borrowing strength from the fleet: each entity's model pulled towards the fleet's.

A device with a dozen rows estimates its slopes badly; one model for the
whole fleet ignores how devices differ. In between, each entity fits its own
level and slopes, penalised towards the fleet's (``LinearRegression`` with a
prior): the fleet counts as extra rows of evidence, so a new entity starts
close to the fleet and moves to its own estimates as its rows accumulate.

- ``FleetPrior`` holds what the fleet knows, as a few decayed sums updated by
  every good window (``memory`` windows of forgetting), so it exists from the
  second window on and shrinkage helps an entity's first window:
  - the fleet's slopes, estimated *within* entities (every window centred on
    its own means, then pooled), so differences in level between devices do
    not bend them;
  - the fleet's level at its centre, and how many rows it counts as: by
    empirical Bayes, ``level_rows = noise variance / between-entity variance
    of levels`` (method of moments), so a fleet of alike devices pools its
    levels and a fleet of different ones keeps each device's own.
- How strongly slopes are pulled (``prior_rows``, one of ``GRID``) is chosen
  by the fleet's board (``evidence``): every window scores every strength by
  rolling-origin error against its own least squares (``grid_losses``, all
  strengths in one solve per origin), and a strength is used only when the
  fleet's paired evidence shows a gain beyond noise; otherwise an entity
  fits its own least squares, its level included. Taking the strength with
  the lowest mean instead made ``auto`` 12 % worse than least squares on two
  small fleets of short windows (issue 25).
- With ``shrinkage='auto'`` (``auto``'s default) the loan is a forecast
  combination: the shrunk forecast averaged with the entity's own least
  squares' (``BLEND``, the own model's share), one linear model of averaged
  parameters. Why: the window's evidence can point the right way and still
  overstate how far to go. On Cigar (46 states, 24 years) shrinking alone
  wins inside the window at strengths 4 to 64 (t -2.0 to -4.9, origins from
  the middle), yet lent alone to every state from the 11th (the prior from
  the states before, as the trainer has it) it loses 14-45 % to least
  squares on the six later years, at every strength; with a quarter of the
  own fit it ranges from 9 % better to 14 % worse, with a half from 6 to
  18 % better. On Spruce strengths from 16 up lose 10-31 % alone, 2-12 %
  with a quarter of the own fit, at most 0.5 % with a half. An average
  rarely loses much to the better of its parts (the old lesson of forecast
  combination). A fixed ``shrinkage`` number is used as given, unblended.
  ``BLEND`` is, with ``evidence.MIN_WINDOWS``, ``LEVEL`` and ``START``, the
  setting with the fewest real panels where ``auto`` loses to least squares
  (each averaged over eight orders of its entities), then the lowest mean
  ratio; a quarter (a half before) since the guard takes the surest
  strength, the smallest pull that wins steadily, rather than the strongest
  that wins on average. ``--loso`` prints how it holds on each panel left
  out.

Both are per task (one trainer) and carried in the trainer's snapshot.
"""

from __future__ import annotations

import numpy as np

from .algorithms.linear import penalised_least_squares, shrunk_solutions
from .candidate import Prior
from .metrics import loss
from .scaling import fit_minmax, span
from .transforms import Transform

GRID = (0.0, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0)
MIN_WINDOWS = 10  # before these, the fleet's level counts as no rows: too few windows to tell its spread
MAX_LEVEL_ROWS = 1e6
BLEND = 0.25  # of 0, 0.25, 0.5, 0.75 (0.5 before): see the docstring (bench/ml_quality.py --loso)


class FleetPrior:
    """The fleet's within-entity slopes and its level, in transformed units.

    Examples
    --------
    >>> from udfs.learn.transforms import TRANSFORMS
    >>> fleet = FleetPrior(1, TRANSFORMS[""])
    >>> fleet.prior() is None
    True
    >>> x = np.arange(5.0)[:, None]
    >>> fleet.add(x, 2.0 * x[:, 0] + 7.0)        # level 7
    >>> fleet.add(x, 2.0 * x[:, 0] - 100.0)      # level -100, same slope
    >>> prior = fleet.prior()
    >>> prior.coef.round(6).tolist(), prior.spread.tolist(), prior.centre.tolist(), round(prior.level, 1)
    ([2.0], [2.0], [2.0], -42.5)
    """

    def __init__(self, n_features: int, transform: Transform, memory: int = 1000):
        self.n_features = n_features
        self.transform = transform
        self.decay = 1.0 - 1.0 / memory
        k = n_features
        self._gram = np.zeros((k, k))      # sum of within-window cross products of features
        self._cross = np.zeros(k)          # ... of features and target
        self._rows = 0.0                   # sum of rows
        self._feature_sum = np.zeros(k)    # sum of rows * window mean of features
        self._means = np.zeros(k + 1)      # sum of (window mean target, window mean features)
        self._mean_products = np.zeros((k + 1, k + 1))
        self._noise = np.zeros(2)          # sums of s^2 and s^2 / n over windows with a residual variance
        self._noise_windows = 0.0
        self._weight = 0.0                 # windows (decayed)
        self.windows = 0

    def add(self, X: np.ndarray, y: np.ndarray) -> None:
        """Add one good window (raw rows; they are transformed here)."""
        keep = self.transform.positive_rows(X, y)
        Z, t = self.transform.features(X[keep]), self.transform.target(y[keep])
        n, k = len(t), self.n_features
        if n < 2:
            return
        d = self.decay
        z_mean, t_mean = Z.mean(axis=0), float(t.mean())
        Zc, tc = Z - z_mean, t - t_mean
        self._gram = d * self._gram + Zc.T @ Zc
        self._cross = d * self._cross + Zc.T @ tc
        self._rows = d * self._rows + n
        self._feature_sum = d * self._feature_sum + n * z_mean
        u = np.concatenate([[t_mean], z_mean])
        self._means = d * self._means + u
        self._mean_products = d * self._mean_products + np.outer(u, u)
        self._weight = d * self._weight + 1.0
        self._noise *= d
        self._noise_windows *= d
        if n > k + 1:
            # The window's own residual variance: how well its level is known.
            coef, *_ = np.linalg.lstsq(Zc, tc, rcond=None)
            s2 = float(np.sum((tc - Zc @ coef) ** 2)) / (n - k - 1)
            self._noise += (s2, s2 / n)
            self._noise_windows += 1.0
        self.windows += 1

    def prior(self) -> Prior | None:
        """What an entity borrows now, or None before any window."""
        if not self.windows or not np.any(self._gram):
            return None
        coef, *_ = np.linalg.lstsq(self._gram, self._cross, rcond=None)
        spread = np.diag(self._gram) / self._rows
        centre = self._feature_sum / self._rows
        # A window's level at the centre is a . u + centre . coef, u = (mean target, mean features).
        a = np.concatenate([[1.0], -coef])
        w = self._weight
        mean_u = self._means / w
        level = float(a @ mean_u + centre @ coef)
        level_rows = 0.0
        if self.windows >= MIN_WINDOWS and self._noise_windows >= 2:
            between = float(a @ (self._mean_products / w - np.outer(mean_u, mean_u)) @ a) * w / (w - 1.0)
            noise, noise_of_level = self._noise / self._noise_windows
            spread_of_levels = between - noise_of_level
            level_rows = MAX_LEVEL_ROWS if spread_of_levels <= 0 else min(noise / spread_of_levels, MAX_LEVEL_ROWS)
        return Prior(coef, np.where(spread > 0, spread, 1.0), centre, level, level_rows)

    _STATE = ("gram", "cross", "rows", "feature_sum", "means", "mean_products", "noise", "noise_windows", "weight")

    def export_state(self) -> dict:
        state = {name: np.asarray(getattr(self, "_" + name)).tolist() for name in self._STATE}
        state["windows"] = self.windows
        return state

    def import_state(self, state: dict) -> None:
        k = self.n_features
        shapes = {"gram": (k, k), "cross": (k,), "rows": (), "feature_sum": (k,), "means": (k + 1,),
                  "mean_products": (k + 1, k + 1), "noise": (2,), "noise_windows": (), "weight": ()}
        values = {}
        for name, shape in shapes.items():
            value = np.asarray(state[name], dtype=float)
            if value.shape != shape or not np.isfinite(value).all():
                raise ValueError(f"fleet prior state: {name} must be finite with shape {shape} for {k} features")
            values[name] = value if shape else float(value)
        windows = int(state["windows"])
        for name, value in values.items():
            setattr(self, "_" + name, value)
        self.windows = windows


def grid_losses(X: np.ndarray, y: np.ndarray, at: np.ndarray, prior: Prior, transform: Transform, *,
                task: str, metric: str, grid: np.ndarray | None = None,
                blend: np.ndarray | float = 0.0) -> np.ndarray | None:
    """Mean rolling-origin loss of every strength of ``grid`` (``GRID`` by default) on one window (each
    origin predicts the rest).

    The same fit as ``Candidate(LinearRegression, (("prior_rows", r), ("blend", b)))``
    for every ``r`` of the grid (and its ``blend`` ``b``, 0 by default), solved at
    once per origin (a test checks they agree).
    None if a prediction is not finite.
    """
    Z, t = transform.features(X), transform.target(y)
    lo, hi = fit_minmax(Z)
    width = span(lo, hi)
    Zs = (Z - lo) / width
    coef, spread, centre = prior.coef * width, prior.spread / width**2, (prior.centre - lo) / width
    grid = np.asarray(GRID if grid is None else grid, dtype=float)
    blend = np.broadcast_to(np.asarray(blend, dtype=float), grid.shape)
    total = np.zeros(len(grid))
    for m in at:
        slopes, intercepts = shrunk_solutions(Zs[:m], t[:m], grid, prior.level_rows, coef, spread, centre, prior.level)
        if blend.any():
            own_slopes, own_intercept = penalised_least_squares(Zs[:m], t[:m])  # as LinearRegression fits it
            slopes = (1.0 - blend)[:, None] * slopes + blend[:, None] * own_slopes[None, :]
            intercepts = (1.0 - blend) * intercepts + blend * own_intercept
        with np.errstate(all="ignore"):
            predicted = transform.untarget(intercepts[:, None] + slopes @ Zs[m:].T)
        for g in range(len(grid)):
            total[g] += loss(task, y[m:], predicted[g], metric)
    total /= max(len(at), 1)
    return total if np.isfinite(total).all() else None

