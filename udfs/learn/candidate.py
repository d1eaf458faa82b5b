"""A candidate model: an algorithm, its hyperparameters and a transform, fitted to raw rows.

Everything a window's model needs between raw columns and exported params
happens here, once: the log transform of ``transforms``, the per-window
min-max scaling of ``scaling``, the algorithm's fit, and the fleet prior of
``shrinkage`` turned into the scaled coordinates the algorithm sees. The
trainer fits its challenger, its refit and every rolling-origin fold of
``selection`` through :meth:`Candidate.fit`, so they cannot disagree.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from .algorithms import Algorithm, LinearRegression
from .compiled import CompiledModel
from .reasons import BadWindow
from .scaling import apply_minmax, fit_minmax, span
from .transforms import TRANSFORMS, Transform


@dataclass(frozen=True)
class Prior:
    """What an entity borrows from the fleet, in transformed (unscaled) units (see ``shrinkage``).

    ``coef``: the fleet's slopes; ``spread``: its per-row variance of each
    feature; ``centre``: its mean features; ``level``: its mean level at the
    centre; ``level_rows``: how many rows the fleet's level counts as.
    """

    coef: np.ndarray
    spread: np.ndarray
    centre: np.ndarray
    level: float = 0.0
    level_rows: float = 0.0


@dataclass(frozen=True)
class Candidate:
    """What to fit; ``hyper`` is a tuple of ``(name, value)`` so candidates can be compared and hashed.

    Examples
    --------
    >>> from udfs.learn.algorithms import LinearRegression
    >>> c = Candidate(LinearRegression)
    >>> fitted = c.fit(np.array([[1.0], [2.0], [3.0]]), np.array([3.0, 5.0, 7.0]), task="regression", features=("x",))
    >>> fitted.model.predict_row([4.0]), c.name
    (9.0, 'linear')
    >>> Candidate(LinearRegression, (("prior_rows", 8.0),), TRANSFORMS["log-lin"]).name
    'linear(prior_rows=8.0)/log-lin'
    >>> half = Candidate(LinearRegression, (("halflife", 0.25), ("blend", 0.5)))   # half own least squares
    >>> X, y = np.array([[0.0], [1.0], [2.0], [3.0]]), np.array([0.0, 0.0, 1.0, 3.0])
    >>> own = Candidate(LinearRegression).fit(X, y, task="regression", features=("x",)).predict(X)
    >>> recent = Candidate(LinearRegression, (("halflife", 0.25),)).fit(X, y, task="regression", features=("x",))
    >>> mixed = half.fit(X, y, task="regression", features=("x",))
    >>> bool(np.allclose(mixed.predict(X), (own + recent.predict(X)) / 2)), mixed.parts["hyper"]["blend"]
    (True, 0.5)
    """

    algorithm: type[Algorithm]
    hyper: tuple[tuple[str, Any], ...] = ()
    transform: Transform = TRANSFORMS[""]

    @property
    def name(self) -> str:
        args = ",".join(f"{k}={v}" for k, v in self.hyper)
        return self.algorithm.key + (f"({args})" if args else "") + (f"/{self.transform.name}" if self.transform.name else "")

    @property
    def blend(self) -> float:
        """The share of the entity's own least squares in this candidate's forecast (0: none; see ``shrinkage``)."""
        return float(dict(self.hyper).get("blend", 0.0))

    @property
    def blendable(self) -> bool:
        """Whether its forecast averaged with least squares' is one model of its own kind (linear in the
        parameters, over the same scaled inputs: least squares, ridge, a quadratic term; not classification)."""
        return self.algorithm.key in ("linear", "ridge", "quadratic")

    @property
    def shrunk(self) -> bool:
        """Fitted towards the fleet's prior (``prior_rows`` is the slopes' strength, 0 for levels only)."""
        return "prior_rows" in dict(self.hyper)

    def usable(self, X: np.ndarray, y: np.ndarray) -> bool:
        """Whether every row can be fitted (logs need positive values)."""
        return bool(self.transform.positive_rows(X, y).all())

    def fit(self, X: np.ndarray, y: np.ndarray, *, task: str, features: Sequence[str], seed: int = 0,
            prior: Prior | None = None) -> "Fitted":
        """Fit on raw rows; BadWindow("fit_failed") if the algorithm fails or gives non-finite params."""
        Z = self.transform.features(X)
        lo, hi = fit_minmax(Z)
        hyper = dict(self.hyper)
        blend = float(hyper.pop("blend", 0.0))
        if blend and not self.blendable:
            raise ValueError(f"candidate {self.name}: only a linear or quadratic regression's forecast blends "
                             "into one model")
        if self.shrunk:
            if prior is None:
                raise ValueError(f"candidate {self.name} needs the fleet prior")
            # The algorithm sees inputs scaled to [0, 1]: a slope w on x is
            # w * span on the scaled input, a variance v is v / span**2.
            width = span(lo, hi)
            hyper.update(prior_coef=(prior.coef * width).tolist(), prior_spread=(prior.spread / width**2).tolist(),
                         prior_centre=((prior.centre - lo) / width).tolist(), prior_level=float(prior.level),
                         level_rows=float(prior.level_rows))
        try:
            with np.errstate(all="ignore"):
                Zs, t = apply_minmax(Z, lo, hi), self.transform.target(y)
                model = self.algorithm.create(task, seed, **hyper).fit(Zs, t)
                if blend:
                    model.params_ = _blended(model.params_, LinearRegression.create(task, seed).fit(Zs, t).params_,
                                             blend)
        except (ValueError, np.linalg.LinAlgError, FloatingPointError) as exc:
            raise BadWindow("fit_failed", f"{self.name}: {exc}") from None
        if not _all_finite(model.params_):
            raise BadWindow("fit_failed", f"{self.name} produced non-finite parameters")
        parts = {
            "algorithm": model.key, "transform": self.transform.name, "min": lo.tolist(), "max": hi.tolist(),
            "params": model.params_, "hyper": {k: v for k, v in model.hyperparameters().items() if k != "task"},
        }
        if blend:
            parts["hyper"]["blend"] = blend
        compiled = CompiledModel({**parts, "task": task, "features": list(features), "version": 0})
        return Fitted(self, parts, compiled)


@dataclass(frozen=True)
class Fitted:
    """A fitted candidate: the document's model fields (``parts``) and its compiled form."""

    candidate: Candidate
    parts: dict
    model: CompiledModel

    def predict(self, X: np.ndarray) -> np.ndarray:
        with np.errstate(all="ignore"):
            return self.model.predict_rows(X)


def _blended(params: dict, own: dict, blend: float) -> dict:
    """A linear or quadratic model's parameters mixed with the entity's own least squares' (share ``blend``).

    Both were fitted on the same scaled inputs, so the weighted average of
    their forecasts is the model of their averaged parameters (a squared
    term the line lacks is scaled by the form's share): the combination is
    one ordinary document, which every predictor reads.
    """
    out = {name: [(1.0 - blend) * v for v in value] if isinstance(value, list) else (1.0 - blend) * value
           for name, value in params.items()}
    out["coef"] = [a + blend * b for a, b in zip(out["coef"], own["coef"])]
    out["intercept"] += blend * own["intercept"]
    return out


def _all_finite(value) -> bool:
    if isinstance(value, dict):
        return all(_all_finite(v) for v in value.values())
    if isinstance(value, list):
        return all(_all_finite(v) for v in value)
    if isinstance(value, float):
        return math.isfinite(value)
    return True
