"""Why a window could not train a challenger, or why its challenger was not deployed: one name per reason,
countable.

A bad window never replaces the champion; the trainer returns the reason
(and counts it) instead of raising, so one entity's bad data never stops the
others. A challenger that fails the accuracy gate (``BELOW_THRESHOLD``) is
not bad: it was judged, and the window counts as good for the fleet, but it
is not deployed; its outcome is ``kept`` with that reason. So is a challenger
that would have replaced a pinned champion (``PINNED``).
"""

from __future__ import annotations

REASONS: dict[str, str] = {
    "missing_field": "a configured dependent or independent field is not in the window",
    "non_numeric": "a used field holds values that are not numbers",
    "non_finite": "a used field holds NaN or infinity",
    "target_not_binary": "islogistic is set but the dependent variable is not 0/1",
    "too_few_rows": "fewer rows than features + 1 (in the window or in its training part)",
    "constant_target": "the dependent variable has one value (in the window or in its training part)",
    "zero_target_holdout": "every hold-out target is 0, so MAPE is undefined",
    "fit_failed": "the algorithm failed or produced non-finite parameters",
    "below_accuracythreshold": "the challenger's hold-out score fails accuracythreshold, so it is not deployed: "
                               "the champion, if any, stays; an entity without one is answered by the fleet "
                               "model (or by none, as predict's fallback says)",
    "pinned": "the champion is pinned (tickml models pin), so a challenger that would have replaced it is not "
              "deployed; tickml models unpin lets the next one",
    "store_unwritable": "the new champion could not be written to the model store (disk full, read-only); "
                        "the old champion keeps answering",
}

BELOW_THRESHOLD = "below_accuracythreshold"
PINNED = "pinned"


class BadWindow(ValueError):
    """A window that cannot train a model; ``reason`` is a key of ``REASONS``.

    Examples
    --------
    >>> BadWindow("constant_target", "failure_prob is always 0").reason
    'constant_target'
    """

    def __init__(self, reason: str, detail: str):
        if reason not in REASONS:
            raise KeyError(f"unknown bad-window reason {reason!r}")
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail
