"""Rows from every entity, kept for the fleet-wide model.

The fleet model answers entities that have no model of their own yet. It is
trained on a bounded ring of recent rows: each good window contributes a
seeded sample of ``rows_per_window`` rows, so many entities are represented
(not just the last few windows) while memory stays at ``max_rows`` rows.
Rows stay in arrival order, which keeps the champion/challenger hold-out
(the newest rows) meaningful for the fleet model too.
"""

from __future__ import annotations

import numpy as np

FLEET_KEY = "__fleet__"


class FleetRows:
    """A ring buffer of ``(features..., target)`` rows.

    Examples
    --------
    >>> ring = FleetRows(n_features=1, max_rows=3, rows_per_window=2, seed=0)
    >>> ring.add(np.array([[1.0], [2.0]]), np.array([10.0, 20.0]))
    >>> ring.add(np.array([[3.0], [4.0]]), np.array([30.0, 40.0]))
    >>> X, y = ring.rows()
    >>> X[:, 0].tolist(), y.tolist()
    ([2.0, 3.0, 4.0], [20.0, 30.0, 40.0])
    """

    def __init__(self, n_features: int, max_rows: int = 50_000, rows_per_window: int = 20, seed: int = 0):
        self.n_features = n_features
        self.max_rows = max_rows
        self.rows_per_window = rows_per_window
        self.seed = seed
        self._data = np.empty((max_rows, n_features + 1))
        self._next = 0
        self._count = 0
        self._rng = np.random.default_rng(seed)

    def __len__(self) -> int:
        return self._count

    def add(self, X: np.ndarray, y: np.ndarray) -> None:
        """Add a sample (in time order) of one window's rows."""
        if len(X) > self.rows_per_window:
            pick = np.sort(self._rng.choice(len(X), self.rows_per_window, replace=False))
            X, y = X[pick], y[pick]
        rows = np.column_stack([X, y])[-self.max_rows:]
        slots = (self._next + np.arange(len(rows))) % self.max_rows
        self._data[slots] = rows
        self._next = (self._next + len(rows)) % self.max_rows
        self._count = min(self._count + len(rows), self.max_rows)

    def rows(self) -> tuple[np.ndarray, np.ndarray]:
        """All kept rows, oldest first, as ``(X, y)`` copies."""
        if self._count < self.max_rows:
            data = self._data[: self._count].copy()
        else:
            data = np.concatenate([self._data[self._next:], self._data[: self._next]])
        return data[:, :-1], data[:, -1]
