"""One entity's window as rows to learn from: checked, in time order, split into training part and hold-out.

The trainer judges models on these rows only, so every reason a window
cannot judge a challenger (``reasons``) is found here, before anything is
fitted: a missing or non-numeric field, too few rows for the features, a
target that never varies.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np

from .algorithms import CLASSIFICATION
from .config import TrainConfig
from .reasons import BadWindow


@dataclass
class Window:
    """Rows in time order: the first ``n_train`` train the challenger, the rest judge it.

    ``window_rows`` counts the rows that came in, ``dropped_rows`` those a log
    transform could not take; ``times`` are the kept rows' times when known.
    """

    X: np.ndarray
    y: np.ndarray
    n_train: int
    window_rows: int
    dropped_rows: int = 0
    times: np.ndarray | None = None


def window_length(columns: Mapping[str, Sequence]) -> int:
    """Rows of a window given as ``field name -> values``; columns of different lengths are a bug, not a bad window."""
    lengths = {len(v) for v in columns.values()}
    if len(lengths) > 1:
        raise ValueError(f"window columns have different lengths: {sorted(lengths)}")
    return lengths.pop() if lengths else 0


def prepare(config: TrainConfig, columns: Mapping[str, Sequence], times: Sequence | None, n: int) -> Window:
    """The window's features and target as arrays, sorted by ``times`` when given.

    Raises ``BadWindow`` for a window that cannot judge a challenger.

    Examples
    --------
    >>> w = prepare(TrainConfig(["x"], "y"), {"x": [3, 1, 2, 4], "y": [30, 10, 20, 41]}, [3, 1, 2, 4], 4)
    >>> w.X[:, 0].tolist(), w.y.tolist(), w.n_train, w.times.tolist()
    ([1.0, 2.0, 3.0, 4.0], [10.0, 20.0, 30.0, 41.0], 3, [1, 2, 3, 4])
    """
    missing = [f for f in config.inputs if f not in columns]
    if missing:
        raise BadWindow("missing_field", f"window has no field {', '.join(map(repr, missing))}")
    arrays = {}
    for name in config.inputs:
        try:
            arrays[name] = np.asarray(columns[name], dtype=float)
        except (TypeError, ValueError):
            sample = next((v for v in columns[name] if not _is_number(v)), None)
            raise BadWindow("non_numeric", f"field {name!r} holds {sample!r}") from None
        if arrays[name].shape != (n,):
            raise ValueError(f"field {name!r} has shape {arrays[name].shape}, expected ({n},)")
        if not np.isfinite(arrays[name]).all():
            bad = arrays[name][~np.isfinite(arrays[name])][0]
            raise BadWindow("non_finite", f"field {name!r} holds {bad!r}")
    order_times = None
    if times is not None:
        order_times = np.asarray(times)
        order = np.argsort(order_times, kind="stable")
        arrays = {k: v[order] for k, v in arrays.items()}
        order_times = order_times[order]
    X = np.column_stack([arrays[f] for f in config.features]) if n else np.empty((0, len(config.features)))
    if config.rule is not None:
        y = config.rule.apply(arrays)
    else:
        y = arrays[config.target]
        if config.task == CLASSIFICATION and not np.isin(y, (0.0, 1.0)).all():
            raise BadWindow("target_not_binary", f"{config.target!r} holds {y[~np.isin(y, (0.0, 1.0))][0]!r}")
    keep = config.transform.positive_rows(X, y)
    dropped = int(n - keep.sum())
    window = checked(config, X[keep], y[keep], window_rows=n, dropped=dropped)
    if order_times is not None and np.issubdtype(order_times.dtype, np.number):
        window.times = order_times[keep]
    return window


def checked(config: TrainConfig, X: np.ndarray, y: np.ndarray, *, window_rows: int, dropped: int) -> Window:
    """Rows split by ``holdout_fraction``, or ``BadWindow`` if either part cannot do its job."""
    n, k = len(y), len(config.features)
    after = f" after dropping {dropped} non-positive rows for {config.transform.name}" if dropped else ""
    if n < k + 1:
        raise BadWindow("too_few_rows", f"{n} rows{after} for {k} features (need {k + 1})")
    if np.all(y == y[0]):
        raise BadWindow("constant_target", f"{config.target!r} is always {float(y[0])!r}")
    n_train = int(round(n * (1.0 - config.holdout_fraction)))
    if n_train < k + 1 or n_train >= n:
        raise BadWindow("too_few_rows", f"training part has {n_train} of {n} rows{after}; "
                                        f"need {k + 1} and at least one hold-out row")
    if np.all(y[:n_train] == y[0]):
        raise BadWindow("constant_target", f"{config.target!r} is always {float(y[0])!r} in the training part")
    return Window(X, y, n_train, window_rows, dropped)


def _is_number(v) -> bool:
    try:
        float(v)
    except (TypeError, ValueError):
        return False
    return True
