"""A model document turned into arrays once, for fast predictions.

For linear-in-parameters models (linear, ridge, logistic) the min-max scaling
is folded into the coefficients, so a prediction is one dot product::

    b + sum(c_j * (g(x_j) - lo_j) / span_j)
      = (b - sum(c_j * lo_j / span_j)) + sum((c_j / span_j) * g(x_j))

and the compiled model holds one small array per entity. Other models keep
the scaling arrays and the algorithm's prepared parameters.
"""

from __future__ import annotations

import math
import operator
from typing import Sequence

import numpy as np

from .algorithms import ALGORITHMS, CLASSIFICATION, Algorithm, sigmoid
from .scaling import apply_minmax, unscaled
from .transforms import TRANSFORMS, Transform

_shared: dict[tuple[str, ...], tuple[str, ...]] = {}


def _intern(names: list[str]) -> tuple[str, ...]:
    # Fleets share feature lists: one tuple for all entities saves memory.
    key = tuple(names)
    return _shared.setdefault(key, key)


class CompiledModel:
    """Predicts from a model document; output in the units of ``y`` (P(1) for classification).

    Examples
    --------
    >>> doc = {"algorithm": "linear", "task": "regression", "features": ["x"], "transform": "",
    ...        "min": [0.0], "max": [10.0], "params": {"coef": [20.0], "intercept": 1.0}, "version": 1}
    >>> m = CompiledModel(doc)
    >>> m.predict_row([5.0]), m.predict_rows(np.array([[0.0], [10.0]])).tolist()
    (11.0, [1.0, 21.0])
    """

    __slots__ = ("algorithm", "features", "transform", "version", "classify", "_weights", "_other", "_plain")

    def __init__(self, doc: dict):
        self.algorithm: type[Algorithm] = ALGORITHMS[doc["algorithm"]]
        self.features = _intern(doc["features"])
        self.transform: Transform = TRANSFORMS[doc["transform"]]
        self.version: int = doc["version"]
        self.classify = doc["task"] == CLASSIFICATION
        # A linear regression on untransformed inputs and target: predict_row is the affine sum alone.
        self._plain = not (self.classify or self.transform.log_features or self.transform.log_target)
        lo = np.asarray(doc["min"], dtype=float)
        hi = np.asarray(doc["max"], dtype=float)
        if self.algorithm.linear:
            intercept, coef = unscaled(doc["params"]["coef"], doc["params"]["intercept"], lo, hi)
            # A tuple of Python floats: the single-row path multiplies them
            # without numpy's per-call set-up, and it is no larger in memory.
            self._weights = tuple(np.concatenate([[intercept], coef]).tolist())
            self._other = None
        else:
            self._weights = None
            self._other = (lo, hi, self.algorithm.prepare(doc["params"]))

    def predict_rows(self, X: np.ndarray) -> np.ndarray:
        """Vectorised predictions for rows of raw (untransformed, unscaled) inputs."""
        Z = self.transform.features(np.asarray(X, dtype=float))
        if self._weights is not None:
            w = np.asarray(self._weights)
            raw = w[0] + Z @ w[1:]
            out = sigmoid(raw) if self.classify else raw
        else:
            lo, hi, prepared = self._other
            out = self.algorithm.run(prepared, apply_minmax(Z, lo, hi))
        return out if self.classify else self.transform.untarget(out)

    def predict_row(self, values: Sequence[float]) -> float:
        """One prediction; a plain-Python path for linear models (no array set-up)."""
        w = self._weights
        if self._plain and w is not None and len(values) == len(w) - 1 < 3:
            # The general path's sum for one or two inputs without its calls: the same floats, the 0 that sum()
            # starts from included (it turns a product of -0.0 into 0.0).
            return w[0] + (0 + w[1] * values[0]) if len(values) == 1 else \
                w[0] + (0 + w[1] * values[0] + w[2] * values[1])
        if len(values) != len(self.features):
            raise ValueError(f"expected {len(self.features)} inputs ({', '.join(self.features)}), "
                             f"got {len(values)}")
        if self._weights is None:
            if self.transform.log_features and min(values) <= 0:
                raise ValueError(f"transform {self.transform.name!r} needs positive inputs, got {list(values)}")
            return float(self.predict_rows(np.asarray([values], dtype=float))[0])
        if self.transform.log_features:
            if min(values) <= 0:
                raise ValueError(f"transform {self.transform.name!r} needs positive inputs, got {list(values)}")
            values = [math.log(v) for v in values]
        w = self._weights
        raw = w[0] + math.fsum(map(operator.mul, w[1:], values)) if len(values) > 8 else \
            w[0] + sum(map(operator.mul, w[1:], values))
        if self.classify:
            return 1.0 / (1.0 + math.exp(-raw)) if raw > -700 else 0.0
        return math.exp(raw) if self.transform.log_target else raw
