"""Recurring levels: the "pattern" explanation behind anomprobX-Y and outliersX-Y.

A device that switches between a few states (off at 0, on at 1000) makes a
window whose values cluster on a few levels.  Measured against the window's
median such a window looks anomalous; measured against its levels it does
not.  This module finds level explanations and returns robust z-scores,
which the anomaly types then score exactly as they score the plain window.

Definition.  For k groups, sort the values and cut at the k - 1 widest gaps
(single-linkage clustering in one dimension).  A group of two or more
values is a *level*: a state the window visited more than once.  A group of
one value is not a level: it stays a candidate anomaly.  Each level has its
own centre (its median).  Levels share one noise scale, the robust scale
(``robust.robust_scale``) of the pooled residuals of the levels that vary:
a few values per level are too few to estimate a scale each.  A level whose
values are all identical (a switched-off device reading exactly 0) has
scale 0 instead, so that it does not shrink the scale of a noisy state
(230 ± 2 when on).  The explanation is accepted when

- there are at least two levels, and
- adjacent levels are distinct classes: their centres lie more than
  2 * ``OUTLIER_Z`` (7) robust standard deviations (the larger of their two
  scales) apart, so that a value halfway between them would be an outlier (robust
  z-score above 3.5) for both.  Noise is then not split into fake levels.

A member's z-score is its distance to its level's centre in that level's
scale; a lone value's, its distance to the nearest level's centre in that
level's scale (infinite if that level has no spread at all).  Among the
plain explanation (z-scores about the window median) and every accepted
explanation with k in [X, Y] groups, the one the anomaly type scores lowest
wins: a pattern can only lower the score, never raise it.
"""

import numpy as np

from .location import median
from .robust import OUTLIER_Z, robust_scale, robust_z


def best_z(x, min_levels=2, max_levels="n", score=np.max):
    """Robust z-scores of the explanation with the lowest ``score``.

    ``min_levels``/``max_levels`` bound k, the number of groups, as X and Y
    in anomprobX-Y; ``"n"`` means no bound (2 for X, len(x) for Y).  Ties
    go to the plain explanation, then to fewer groups.

    >>> on_off = np.array([0.0, 0.0, 1000.0, 1001.0, 999.0, 0.0, 1000.0])
    >>> best_z(on_off, 2, 3).round(3).tolist()
    [0.0, 0.0, 0.0, 1.349, 1.349, 0.0, 0.0]
    >>> float(best_z(np.append(on_off, 5000.0), 2, 3).max()) > 3.5
    True
    >>> best_z(np.array([1.0, 2.0, 3.0]), 2, 5).round(3).tolist()
    [0.674, 0.0, 0.674]
    """
    best = robust_z(x - median(x))
    best_score = score(best)
    n = len(x)
    low = 2 if min_levels == "n" else min_levels
    high = n if max_levels == "n" else min(max_levels, n)
    order = np.argsort(x, kind="stable")
    gaps = np.diff(x[order])
    widest_first = np.argsort(-gaps, kind="stable")
    for k in range(low, high + 1):
        z = level_z(x, order, gaps, widest_first[: k - 1])
        if z is None:
            continue
        candidate = score(z)
        if candidate < best_score:
            best, best_score = z, candidate
    return best


def level_z(x, order, gaps, cuts):
    """Robust z-scores from the levels made by cutting sorted ``x`` after
    ``cuts``, or None when the cut does not give an accepted explanation.

    ``order`` sorts ``x``; ``gaps`` are the differences of the sorted values;
    ``cuts`` index the gaps to cut.

    >>> x = np.array([10.0, 0.0, 10.0, 0.0, 14.0])
    >>> order = np.argsort(x, kind="stable")
    >>> level_z(x, order, np.diff(x[order]), np.array([1, 3])).tolist()
    [0.0, 0.0, 0.0, 0.0, inf]
    """
    if len(cuts) == 0 or (gaps[cuts] == 0).any():
        return None
    n = len(x)
    starts = np.zeros(n, dtype=int)
    starts[np.sort(cuts) + 1] = 1
    group_of_sorted = np.cumsum(starts)
    sizes = np.bincount(group_of_sorted)
    level_ids = np.flatnonzero(sizes >= 2)
    if len(level_ids) < 2:
        return None
    ordered = x[order]
    centres = np.array([median(ordered[group_of_sorted == g]) for g in level_ids])
    residuals = ordered - np.append(centres, np.nan)[np.searchsorted(level_ids, group_of_sorted)]
    varies = np.array([np.ptp(ordered[group_of_sorted == g]) > 0 for g in level_ids])
    pooled = robust_scale(residuals[np.isin(group_of_sorted, level_ids[varies])]) if varies.any() else 0.0
    scales = np.where(varies, pooled, 0.0)
    z_sorted = np.empty(n)
    for g, scale in zip(level_ids, scales):
        members = group_of_sorted == g
        z_sorted[members] = _z(residuals[members], scale)
    if (np.diff(centres) <= 2 * OUTLIER_Z * np.maximum(scales[:-1], scales[1:])).any():
        return None
    for g in np.flatnonzero(sizes < 2):
        alone = group_of_sorted == g
        nearest = np.argmin(np.abs(centres - ordered[alone][0]))
        z_sorted[alone] = _z(ordered[alone] - centres[nearest], scales[nearest])
    z = np.empty(n)
    z[order] = z_sorted
    return z


def _z(residuals, scale):
    if scale > 0:
        return np.abs(residuals) / scale
    return np.where(residuals == 0, 0.0, np.inf)
