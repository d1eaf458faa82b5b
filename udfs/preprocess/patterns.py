"""Recurring levels: the "pattern" explanation behind anomprobX-Y and outliersX-Y.

A device that switches between a few states (off at 0, on at 1000) makes a
window whose values cluster on a few levels.  Measured against the window's
median such a window looks anomalous; measured against its levels it does
not.  This module finds level explanations and returns residuals, which the
anomaly types then score exactly as they score the plain window.

Definition.  For k groups, sort the values and cut at the k - 1 widest gaps
(single-linkage clustering in one dimension).  A group of two or more
values is a *level*: a state the window visited more than once.  A group of
one value is not a level: it stays a candidate anomaly.  The explanation is
accepted when

- there are at least two levels, and
- adjacent levels are distinct classes: their medians differ by more than
  ``OUTLIER_Z`` (3.5) robust standard deviations of the residuals, i.e. each
  level would be an outlier with respect to its neighbour.

Residuals are value minus the median of its own level, or, for a lone
value, minus the median of the nearest level.  Among the plain explanation
(residuals about the window median) and every accepted explanation with k in
[X, Y] groups, the one with the smallest largest robust z-score wins: a
pattern can only lower the anomaly score, never raise it.
"""

import numpy as np

from .robust import OUTLIER_Z, robust_scale, robust_z


def best_residuals(x, min_levels=2, max_levels="n"):
    """Residuals of the explanation with the smallest largest robust z-score.

    ``min_levels``/``max_levels`` bound k, the number of groups, as X and Y
    in anomprobX-Y; ``"n"`` means no bound (2 for X, len(x) for Y).

    >>> on_off = np.array([0.0, 0.0, 1000.0, 1000.0, 1000.0, 0.0, 1000.0])
    >>> best_residuals(on_off, 2, 3).tolist()
    [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0]
    >>> best_residuals(np.array([1.0, 2.0, 3.0]), 2, 5).tolist()
    [-1.0, 0.0, 1.0]
    """
    best = x - np.median(x)
    best_z = robust_z(best).max()
    n = len(x)
    low = 2 if min_levels == "n" else min_levels
    high = n if max_levels == "n" else min(max_levels, n)
    order = np.argsort(x, kind="stable")
    gaps = np.diff(x[order])
    widest_first = np.argsort(-gaps, kind="stable")
    for k in range(low, high + 1):
        residuals = level_residuals(x, order, gaps, widest_first[: k - 1])
        if residuals is None:
            continue
        z = robust_z(residuals).max()
        if z < best_z:
            best, best_z = residuals, z
    return best


def level_residuals(x, order, gaps, cuts):
    """Residuals from the levels made by cutting sorted ``x`` after ``cuts``,
    or None when the cut does not give an accepted explanation.

    ``order`` sorts ``x``; ``gaps`` are the differences of the sorted values;
    ``cuts`` index the gaps to cut.

    >>> x = np.array([5.0, 0.0, 5.0, 0.0, 9.0])
    >>> order = np.argsort(x, kind="stable")
    >>> gaps = np.diff(x[order])
    >>> level_residuals(x, order, gaps, np.array([1, 3])).tolist()
    [0.0, 0.0, 0.0, 0.0, 4.0]
    """
    if len(cuts) == 0 or (gaps[cuts] == 0).any():
        return None
    n = len(x)
    starts = np.zeros(n, dtype=int)
    starts[np.sort(cuts) + 1] = 1
    group_of_sorted = np.cumsum(starts)
    groups = group_of_sorted[-1] + 1
    sizes = np.bincount(group_of_sorted, minlength=groups)
    level_ids = np.flatnonzero(sizes >= 2)
    if len(level_ids) < 2:
        return None
    ordered = x[order]
    centres = np.array([np.median(ordered[group_of_sorted == g]) for g in level_ids])
    centre_of_group = np.empty(groups)
    centre_of_group[level_ids] = centres
    for g in np.flatnonzero(sizes < 2):
        value = ordered[group_of_sorted == g][0]
        centre_of_group[g] = centres[np.argmin(np.abs(centres - value))]
    group = np.empty(n, dtype=int)
    group[order] = group_of_sorted
    residuals = x - centre_of_group[group]
    scale = robust_scale(residuals)
    if scale > 0 and np.min(np.diff(centres)) <= OUTLIER_Z * scale:
        return None
    return residuals
