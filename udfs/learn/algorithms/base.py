"""The protocol every learning algorithm follows.

An algorithm is fitted with scikit-learn or numpy, then *exported* to a small
JSON-able dict (``params_``). Predictions are always computed from that dict
with numpy (:meth:`Algorithm.evaluate`), so a stored model never needs the
object that fitted it: no pickles, no scikit-learn objects kept per entity.

A stored dict may come from another process, or another shard through Kafka,
so each class also says what a dict it can run looks like (:meth:`Algorithm.check`,
which ``document.validate`` calls): once it passes, ``prepare`` and ``run``
cannot fail on it, and ``numbers``/``number`` below are the checks they share.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

import numpy as np

REGRESSION = "regression"
CLASSIFICATION = "classification"
TASKS = (REGRESSION, CLASSIFICATION)


def sigmoid(z: np.ndarray) -> np.ndarray:
    """Logistic function, written to avoid overflow warnings for large ``|z|``.

    Examples
    --------
    >>> sigmoid(np.array([0.0, 1000.0, -1000.0])).tolist()
    [0.5, 1.0, 0.0]
    """
    z = np.asarray(z, dtype=float)
    out = np.empty_like(z)
    pos = z >= 0
    out[pos] = 1.0 / (1.0 + np.exp(-z[pos]))
    ez = np.exp(z[~pos])
    out[~pos] = ez / (1.0 + ez)
    return out


def numbers(value: Any, what: str, ndim: int = 1, *, integer: bool = False) -> np.ndarray:
    """``value`` (JSON lists) as an array of finite numbers with ``ndim`` dimensions; ValueError naming ``what``.

    >>> numbers([[1, 2.5]], "w", 2).tolist(), numbers([0, 3], "left", integer=True).dtype.kind
    ([[1.0, 2.5]], 'i')
    >>> numbers([1.0, float("nan")], "coef")
    Traceback (most recent call last):
    ...
    ValueError: coef must be finite numbers, got NaN or infinity
    >>> numbers([1, "2"], "coef")
    Traceback (most recent call last):
    ...
    ValueError: coef must be a list of numbers (1 dimension), got <U21 with shape (2,)
    """
    try:
        # No dtype given: numpy would convert strings ("1") and truncate floats to ints without a word.
        array = np.array(value)
    except (ValueError, TypeError, OverflowError):  # ragged lists
        array = None
    # Whole numbers beyond int64 come as uint64 or objects, which would wrap or fail later: refused.
    kinds = "i" if integer else "iuf"
    if array is None or array.ndim != ndim or array.dtype.kind not in kinds and array.size:
        got = "ragged lists" if array is None else f"{array.dtype} with shape {array.shape}"
        raise ValueError(f"{what} must be a list of {'whole numbers' if integer else 'numbers'}"
                         f"{'' if ndim == 1 else ' of lists' * (ndim - 1)} ({ndim} dimension{'s' * (ndim > 1)}), "
                         f"got {got}")
    if integer:
        return array.astype(np.int64)
    array = array.astype(float)
    if not np.isfinite(array).all():
        raise ValueError(f"{what} must be finite numbers, got NaN or infinity")
    return array


def number(value: Any, what: str) -> float:
    """``value`` as a finite float; ValueError naming ``what`` (a bool is not a number here).

    >>> number(2, "intercept"), number(1e300, "x")
    (2.0, 1e+300)
    """
    if isinstance(value, float) and math.isfinite(value):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        if abs(value) < 2**1023:
            return float(value)
        got = "an integer beyond any float"
    else:
        got = repr(value) if value is None or isinstance(value, (bool, float)) else type(value).__name__
    raise ValueError(f"{what} must be a finite number, got {got}")


class Algorithm:
    """Base class: constructors store hyperparameters, ``fit`` sets ``params_``.

    Subclasses set the class attributes and implement ``fit``, ``prepare`` and
    ``run``. The model output is for already scaled inputs: the value for
    regression, the probability of class 1 for classification.
    """

    key: ClassVar[str]  # option value, e.g. "logistic"
    label: ClassVar[str]  # seed's MachineLearningAlgorithm, e.g. "Logistic Regression"
    code: ClassVar[str]  # short suffix of the seed's "Algo", e.g. "lgt"
    tasks: ClassVar[tuple[str, ...]]
    linear: ClassVar[bool] = False  # params are {"coef": [...], "intercept": x}
    seeded: ClassVar[bool] = False  # the constructor takes a ``seed``
    flexible: ClassVar[bool] = False  # many parameters, costly fits: searched on long windows only

    task: str

    @classmethod
    def create(cls, task: str, seed: int = 0, **hyper: Any) -> "Algorithm":
        """An instance for ``task``; ``seed`` is passed only to algorithms that draw randomness."""
        if cls.seeded:
            hyper["seed"] = seed
        return cls(task=task, **hyper)

    def hyperparameters(self) -> dict[str, Any]:
        """The constructor's keyword arguments, JSON-able (stored with the model)."""
        return {k: v for k, v in vars(self).items() if not k.endswith("_")}

    def fit(self, X: np.ndarray, y: np.ndarray) -> "Algorithm":
        raise NotImplementedError

    @staticmethod
    def check(params: dict[str, Any], n_features: int) -> None:
        """ValueError naming what in exported ``params`` (from anywhere: a file, Kafka) this class cannot
        prepare and run on ``n_features`` inputs: missing, misshapen, non-finite, out of range, too large."""
        raise NotImplementedError

    @staticmethod
    def prepare(params: dict[str, Any]) -> Any:
        """Turn exported params into numpy arrays once, so repeated runs are cheap."""
        raise NotImplementedError

    @staticmethod
    def run(prepared: Any, X: np.ndarray) -> np.ndarray:
        """Model output for scaled inputs ``X`` (2-D) from :meth:`prepare`'s result."""
        raise NotImplementedError

    @classmethod
    def evaluate(cls, params: dict[str, Any], X: np.ndarray) -> np.ndarray:
        """Model output computed from the exported dict alone."""
        return cls.run(cls.prepare(params), np.asarray(X, dtype=float))

    def predict(self, X: np.ndarray) -> np.ndarray:
        """Output of the fitted model, computed from the exported ``params_``."""
        return self.evaluate(self.params_, np.asarray(X, dtype=float))

    @classmethod
    def sample_hyperparameters(cls, rng: np.random.Generator, task: str) -> dict[str, Any]:
        """A random point of this algorithm's search space (used by ``auto``)."""
        return {}

    def _check_task(self) -> None:
        if self.task not in self.tasks:
            raise ValueError(
                f"algorithm {self.key!r} does not support task {self.task!r}; "
                f"it supports {', '.join(self.tasks)}"
            )
