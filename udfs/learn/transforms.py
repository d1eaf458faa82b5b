"""The seed's ``transformtype``: log of the dependent and/or independent variables.

- ``""`` (or ``"none"``): no transform.
- ``log-lin``: model ``log(y)`` on the independents as they are.
- ``lin-log``: model ``y`` on ``log`` of every independent.
- ``log-log``: model ``log(y)`` on ``log`` of every independent.

The natural log is applied before min-max scaling. Predictions are returned
in the original units of ``y`` (``exp`` of the model output when ``y`` was
logged), so metrics and ``Hyperprediction`` never depend on the transform.

Non-positive values: the log is undefined there, so training drops every row
where a logged value is ``<= 0`` (the trainer reports how many); prediction
for such an input gives NaN (batch) or a ValueError (single row). A log of a
0/1 label makes no sense, so ``log-lin``/``log-log`` are refused for
classification.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Transform:
    """Which sides of the model are logged."""

    name: str
    log_target: bool
    log_features: bool

    def positive_rows(self, X: np.ndarray, y: np.ndarray | None = None) -> np.ndarray:
        """Rows where every logged value is > 0 (all rows when nothing is logged).

        Examples
        --------
        >>> TRANSFORMS["log-log"].positive_rows(np.array([[1.0], [2.0], [-1.0]]), np.array([0.0, 1.0, 1.0])).tolist()
        [False, True, False]
        """
        keep = np.ones(len(X), dtype=bool)
        if self.log_features:
            keep &= (X > 0).all(axis=1)
        if self.log_target and y is not None:
            keep &= y > 0
        return keep

    def features(self, X: np.ndarray) -> np.ndarray:
        if not self.log_features:
            return X
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(X > 0, np.log(np.where(X > 0, X, 1.0)), np.nan)

    def target(self, y: np.ndarray) -> np.ndarray:
        return np.log(y) if self.log_target else y

    def untarget(self, z: np.ndarray) -> np.ndarray:
        """Back to the units of ``y``.

        Examples
        --------
        >>> round(float(TRANSFORMS["log-lin"].untarget(np.log(5.0))), 9)
        5.0
        """
        return np.exp(z) if self.log_target else z


TRANSFORMS: dict[str, Transform] = {
    t.name: t
    for t in (
        Transform("", False, False),
        Transform("log-lin", True, False),
        Transform("lin-log", False, True),
        Transform("log-log", True, True),
    )
}


def get_transform(name: str | None) -> Transform:
    """The transform for a ``transformtype`` option value.

    Examples
    --------
    >>> get_transform("lin-log").log_features
    True
    >>> get_transform("log")
    Traceback (most recent call last):
    ...
    ValueError: transformtype must be one of '', 'log-lin', 'lin-log', 'log-log' (or 'none'), got 'log'
    """
    key = (name or "").strip().lower()
    key = "" if key == "none" else key
    if key not in TRANSFORMS:
        choices = ", ".join(repr(k) for k in TRANSFORMS)
        raise ValueError(f"transformtype must be one of {choices} (or 'none'), got {name!r}")
    return TRANSFORMS[key]
