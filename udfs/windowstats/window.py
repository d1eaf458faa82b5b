"""One window of raw field values, converted once into what the types read.

A window holds whatever the stream carried: floats, integers, booleans,
strings, missing values (None).  Each type reads one view of it:

- ``numbers``: the finite numeric values as float64, in order; booleans count
  as 0/1, strings are never parsed (``"3.5"`` is a string), NaN and ±inf are
  skipped;
- ``strings``: the str values, in order;
- ``values``: the raw sequence as given;
- ``times``: the timestamps in ns since the epoch, as int64;
- ``positions``: the valid (latitude, longitude) pairs in degrees, shape (m, 2).

Views are built lazily and at most once, so several types over one window
share one conversion.
"""

import math
from functools import cached_property
from numbers import Real

import numpy as np

NUMBER, BOOLEAN, STRING, OTHER = "number", "boolean", "string", "other"
VIEWS = ("numbers", "strings", "values", "times", "positions")

# Types whose values go straight into a float array (checked with `type()`,
# which is faster than isinstance and excludes str subclasses of nothing).
_PLAIN_NUMERIC = frozenset({float, int, bool, np.float64, np.float32, np.int64, np.int32})


def kind_of(value):
    """The kind of one raw value, as InfluxDB types fields; None when missing.

    Examples
    --------
    >>> [kind_of(v) for v in (1, 2.5, True, "on", None, b"x")]
    ['number', 'number', 'boolean', 'string', None, 'other']
    """
    if value is None:
        return None
    if isinstance(value, (bool, np.bool_)):
        return BOOLEAN
    if isinstance(value, str):
        return STRING
    if isinstance(value, Real):
        return NUMBER
    return OTHER


def to_numbers(values):
    """The finite numeric values of a window as float64, and how many were skipped.

    Examples
    --------
    >>> x, skipped = to_numbers([1, 2.5, "n/a", None, float("nan"), True])
    >>> x.tolist(), skipped
    ([1.0, 2.5, 1.0], 3)
    """
    if isinstance(values, np.ndarray) and values.dtype.kind in "fiub":
        x = values.astype(float, copy=False).reshape(-1)
    elif all(type(v) in _PLAIN_NUMERIC for v in values):
        try:
            x = np.array(values, dtype=float).reshape(-1)
        except OverflowError:  # an int beyond float range: take the slow path
            x = np.array([_as_float(v) for v in values], dtype=float)
    else:
        x = np.array([_as_float(v) for v in values], dtype=float).reshape(-1)
    finite = np.isfinite(x)
    if not finite.all():
        x = x[finite]
    return x, len(values) - len(x)


def to_times(times):
    """Timestamps as int64 ns since the epoch; accepts ints, datetime64 or ISO strings.

    Examples
    --------
    >>> to_times(["2006-01-02T15:04:05"]).tolist()
    [1136214245000000000]
    >>> to_times([1, 2]).tolist()
    [1, 2]
    """
    array = np.asarray(times)
    if array.dtype.kind in "USO" and array.size:
        array = array.astype("datetime64[ns]")
    if array.dtype.kind == "M":
        return array.astype("datetime64[ns]").view(np.int64).reshape(-1)
    if array.dtype.kind == "f" and not np.isfinite(array).all():
        raise ValueError("times must be finite timestamps in ns")
    return array.astype(np.int64).reshape(-1)


def to_positions(values):
    """The valid (latitude, longitude) pairs of a window, and how many were skipped.

    A pair is valid when both are finite numbers, |latitude| <= 90 and
    |longitude| <= 180.

    Examples
    --------
    >>> p, skipped = to_positions([(34.0, -111.1), ("n/a", 3), (91, 0), None])
    >>> p.tolist(), skipped
    ([[34.0, -111.1]], 3)
    """
    rows = [_as_pair(v) for v in values]
    array = np.array(rows, dtype=float).reshape(-1, 2)
    valid = (
        np.isfinite(array).all(axis=1)
        & (np.abs(array[:, 0]) <= 90.0)
        & (np.abs(array[:, 1]) <= 180.0)
    )
    return array[valid], len(values) - int(valid.sum())


class Window:
    """The raw values of one field over one window, with lazily built views.

    Examples
    --------
    >>> w = Window([3, "off", 4.0], times=[0, 10**9, 2 * 10**9])
    >>> w.numbers.tolist(), w.skipped_numbers, w.strings, w.times.tolist()[-1]
    ([3.0, 4.0], 1, ['off'], 2000000000)
    """

    def __init__(self, values, times=None):
        self.values = () if values is None else values
        self._raw_times = times
        if times is not None and values is not None and len(times) != len(values):
            raise ValueError(f"got {len(values)} values but {len(times)} times")

    def view(self, name):
        """The view a type reads: one of ``VIEWS``."""
        return getattr(self, name)

    @cached_property
    def _numbers(self):
        return to_numbers(self.values)

    @property
    def numbers(self):
        return self._numbers[0]

    @property
    def skipped_numbers(self):
        return self._numbers[1]

    @cached_property
    def strings(self):
        return [v for v in self.values if isinstance(v, str)]

    @cached_property
    def times(self):
        if self._raw_times is None:
            raise ValueError("this type needs the timestamps: pass times=")
        return to_times(self._raw_times)

    @cached_property
    def _positions(self):
        return to_positions(self.values)

    @property
    def positions(self):
        return self._positions[0]

    @property
    def skipped_positions(self):
        return self._positions[1]


def _as_float(value):
    if kind_of(value) not in (NUMBER, BOOLEAN):
        return math.nan
    try:
        return float(value)
    except (OverflowError, ValueError):
        return math.nan


def _as_pair(value):
    try:
        latitude, longitude = value
    except (TypeError, ValueError):
        return (math.nan, math.nan)
    if kind_of(latitude) != NUMBER or kind_of(longitude) != NUMBER:
        return (math.nan, math.nan)
    return (_as_float(latitude), _as_float(longitude))
