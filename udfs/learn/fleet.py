"""The fleet-wide model's key, and the rows from every entity kept to train it.

The fleet model answers entities that have no model of their own yet. It is
trained on a bounded ring of recent rows: each good window contributes a
seeded sample of ``rows_per_window`` rows, so many entities are represented
(not just the last few windows) while memory stays at ``max_rows`` rows.
Rows stay in arrival order, which keeps the champion/challenger hold-out
(the newest rows) meaningful for the fleet model too.

Why the key is not a string: entity keys are the group-by tag values a
device sends, so any string is some device's key. The fleet model once lived
under the key ``"__fleet__"``, and a device with that id trained against it
and replaced it. ``FLEET_KEY`` is an object no string equals, so the store
keeps the fleet model in a namespace of its own (see ``store``); its
document's ``key``, and so the ``Algokey`` of the answers it gives, is still
the name ``"__fleet__"`` (``FLEET_NAME``).
"""

from __future__ import annotations

import numpy as np

FLEET_NAME = "__fleet__"


class FleetKey:
    """The fleet-wide model's key in a :class:`~udfs.learn.store.ModelStore` (one instance, ``FLEET_KEY``).

    >>> FLEET_KEY == "__fleet__", str(FLEET_KEY), FleetKey() is FLEET_KEY
    (False, '__fleet__', True)
    """

    __slots__ = ()
    _instance: "FleetKey | None" = None

    def __new__(cls) -> "FleetKey":
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "FLEET_KEY"

    def __str__(self) -> str:
        return FLEET_NAME

    def __reduce__(self):
        return FleetKey, ()


FLEET_KEY = FleetKey()


def document_key(key: "str | FleetKey") -> str:
    """The ``key`` a model document under store key ``key`` carries (and answers show as ``Algokey``).

    >>> document_key("pm-7"), document_key(FLEET_KEY)
    ('pm-7', '__fleet__')
    """
    return FLEET_NAME if key is FLEET_KEY else key


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
