"""Many equal-length windows at once: one row per entity, vectorised over rows.

The UDF can stack the windows of all entities that closed together into one
2-D float array and compute each type in a few numpy calls instead of one
Python call per entity.  Types with a ``rows`` function in the registry are
vectorised; the others, and rows holding NaN or ±inf (their effective length
differs), fall back to the per-window path, so results always equal
``compute`` on each row.

In the returned arrays NaN means "no value" (the numpy convention for a
missing number); callers writing points leave such fields out.
"""

from dataclasses import dataclass

import numpy as np

from .evaluate import Plan, evaluate, quiet
from .window import Window


@dataclass(frozen=True)
class BatchResult:
    """``values`` maps each type name to an array with one value per row (NaN:
    no value), or, for multi-output types, to a dict of such arrays.
    ``skipped`` counts the non-finite entries of each row."""

    values: dict
    skipped: np.ndarray


def compute_batch(types, rows, times=None):
    """Compute types over each row of a 2-D float array (one window per row).

    ``times``, if given, has the same shape (ns since the epoch), for the
    time types.

    >>> rows = np.array([[1.0, 2.0, 3.0], [4.0, np.nan, 4.0]])
    >>> result = compute_batch(["avg", "trend", "meanci95"], rows)
    >>> result.values["avg"].tolist(), result.values["trend"].tolist(), result.skipped.tolist()
    ([2.0, 4.0], [1.0, 0.0], [0, 1])
    >>> result.values["meanci95"]["mean"].tolist()
    [2.0, 4.0]
    """
    rows = np.asarray(rows, dtype=float)
    if rows.ndim != 2:
        raise ValueError(f"rows must be a 2-D array (one window per row), got shape {rows.shape}")
    if times is not None and np.shape(times) != rows.shape:
        raise ValueError(f"times must have the shape of rows {rows.shape}, got {np.shape(times)}")
    plan = Plan(types)
    for _, spec in plan.specs:
        if spec.type.reads == "positions":
            raise ValueError(f"{spec.text} reads (latitude, longitude) pairs: use compute or Plan")
    finite = np.isfinite(rows)
    skipped = rows.shape[1] - finite.sum(axis=1)
    clean = skipped == 0
    values = {key: _compute_type(spec, rows, clean, times) for key, spec in plan.specs}
    return BatchResult(values, skipped)


def _compute_type(spec, rows, clean, times):
    count, length = rows.shape
    keys = [k for k, _ in spec.type.outputs]
    out = {k: np.full(count, np.nan) for k in keys} if keys else np.full(count, np.nan)
    vectorised = spec.type.rows is not None
    if vectorised and length >= spec.min_length and clean.any():
        selected = slice(None) if clean.all() else clean
        with np.errstate(all="ignore"):
            result = spec.type.rows(rows[selected], **spec.params)
        _assign(out, selected, result)
        remaining = np.flatnonzero(~clean)
    else:
        remaining = range(count)
    for i in remaining:
        window = Window(rows[i], None if times is None else times[i])
        with quiet():
            value = evaluate(spec, window)
        if value is not None:
            _assign(out, i, value)
    return out


def _assign(out, where, value):
    if isinstance(out, dict):
        for key, array in out.items():
            array[where] = _finite_or_nan(value[key])
    else:
        out[where] = _finite_or_nan(value)


def _finite_or_nan(value):
    value = np.asarray(value, dtype=float)
    return np.where(np.isfinite(value), value, np.nan)
