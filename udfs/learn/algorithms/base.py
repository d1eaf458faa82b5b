"""The protocol every learning algorithm follows.

An algorithm is fitted with scikit-learn or numpy, then *exported* to a small
JSON-able dict (``params_``). Predictions are always computed from that dict
with numpy (:meth:`Algorithm.evaluate`), so a stored model never needs the
object that fitted it: no pickles, no scikit-learn objects kept per entity.
"""

from __future__ import annotations

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
