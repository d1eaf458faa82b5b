"""Data-quality types: what kinds of values a window holds, and duplicates.

Strings and mixed kinds are data here, not errors.  Each function's argument
is the view it reads: ``values`` (the raw sequence), ``numbers`` (finite
numeric values as float64) or ``strings`` (the str values).
"""

import numpy as np

from .window import kind_of


def count(numbers):
    """Number of numeric data points (finite numbers and booleans); 0 for an
    empty window.

    >>> count(np.array([1.0, 2.0]))
    2.0
    """
    return float(len(numbers))


def countstr(strings):
    """Number of string values, including empty and numeric-looking strings.

    >>> countstr(["on", "", "3.5"])
    3.0
    """
    return float(len(strings))


def consistency(values):
    """1 if every present value has the same kind (number, boolean, string),
    else 0.  Integers and floats are one kind, ``number``; NaN is a number;
    missing values (None) are ignored.  Undefined (None) if nothing is present.

    >>> consistency([1, 2.5, float("nan")]), consistency([1, "n/a"])
    (1.0, 0.0)
    >>> consistency([None]) is None
    True
    """
    kinds = {kind_of(v) for v in values}
    kinds.discard(None)
    if not kinds:
        return None
    return 1.0 if len(kinds) == 1 else 0.0


def unique(numbers):
    """1 if no numeric value occurs twice, else 0.

    >>> unique(np.array([1.0, 2.0])), unique(np.array([1.0, 2.0, 1.0]))
    (1.0, 0.0)
    """
    return 1.0 if len(np.unique(numbers)) == len(numbers) else 0.0


def uniquestr(strings):
    """1 if no string value occurs twice (case-sensitive), else 0.

    >>> uniquestr(["a", "b"]), uniquestr(["a", "b", "a"])
    (1.0, 0.0)
    """
    return 1.0 if len(set(strings)) == len(strings) else 0.0
