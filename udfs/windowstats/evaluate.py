"""Computing types over one window: the rules every type obeys, in one place.

- A window shorter than the type's minimum length (counted in the view the
  type reads) gives None.
- A result that is not finite (an undefined statistic, an overflow) gives
  None: callers never see NaN or ±inf.
- Numeric types skip non-numeric values and NaN; ``WindowResult.skipped``
  says how many.
"""

import math
from functools import partial

import numpy as np

from .registry import parse_type
from .small import SMALL_WINDOW
from .window import Window

_FLOAT64 = np.dtype(np.float64)


def quiet():
    """Silence numpy's floating-point warnings: overflow and 0/0 inside a
    statistic end as None (see ``finite_or_none``), so the warnings would
    only be noise.  Entered once per window, not per type: it costs µs."""
    return np.errstate(over="ignore", under="ignore", invalid="ignore", divide="ignore")


class WindowResult:
    """The values of several types over one window of one field.

    ``values`` maps each requested type name, as the caller wrote it, to a
    float, a dict of floats (multi-output types) or None (no value).
    ``skipped`` counts the window's values that the numeric types could not
    use (strings, missing values, NaN, ±inf), or, for geodiff, the invalid
    positions; 0 when no such type was requested.
    """

    # A plain class with slots: one is made per field and window, and a frozen
    # dataclass costs twice as much to build.
    __slots__ = ("values", "skipped", "specs")

    def __init__(self, values: dict, skipped: int, specs: tuple):
        self.values = values
        self.skipped = skipped
        self.specs = specs

    def fields(self, field_name):
        """Output fields ``<field>_preprocessed_<Type>[_<Output>]`` with a value;
        types without a value are left out.

        >>> fields = compute_many(["avg", "meanci95", "kurtosis"], [1.0, 3.0]).fields("Current")
        >>> {name: round(value, 3) for name, value in fields.items()}
        {'Current_preprocessed_Avg': 2.0, 'Current_preprocessed_MeanCI95_Mean': 2.0, 'Current_preprocessed_MeanCI95_Low': -10.706, 'Current_preprocessed_MeanCI95_High': 14.706}
        """
        out = {}
        for key, spec in self.specs:
            value = self.values[key]
            if value is None:
                continue
            names = spec.output_names(field_name)
            if isinstance(value, dict):
                out.update(zip(names, (value[k] for k, _ in spec.type.outputs)))
            else:
                out[names[0]] = value
        return out


class Plan:
    """Several types parsed and checked once, then computed over many windows.

    The UDF builds one plan per option set at ``init`` (bad types fail
    there) and calls ``compute`` once per field per window.

    >>> plan = Plan(["avg", "countstr", "trend"])
    >>> result = plan.compute([1.0, "n/a", 2.0, 3.0])
    >>> result.values, result.skipped
    ({'avg': 2.0, 'countstr': 1.0, 'trend': 1.0}, 1)
    """

    def __init__(self, types):
        specs = []
        for item in types:
            spec = parse_type(item)
            specs.append((item if isinstance(item, str) else spec.text, spec))
        self.specs = tuple(specs)
        reads = {spec.type.reads for _, spec in self.specs}
        if "positions" in reads and reads & {"numbers", "strings", "values"}:
            raise ValueError(
                "geodiff reads (latitude, longitude) pairs and cannot share a window "
                "with types that read single values; use two plans"
            )
        self._skip_view = "positions" if "positions" in reads else ("numbers" if "numbers" in reads else None)
        # Short windows of numbers go through plain Python when every type has a form for it (see ``small``).
        self._small = reads == {"numbers"} and all(spec.type.small is not None for _, spec in self.specs)
        self._small_steps = tuple(
            (key, partial(spec.type.small, **spec.params) if spec.params else spec.type.small, spec.min_length)
            for key, spec in self.specs) if self._small else ()

    def compute(self, values, times=None):
        """Compute every type of the plan over one window -> ``WindowResult``."""
        if self._small and type(values) is np.ndarray and values.dtype is _FLOAT64 and values.ndim == 1 \
                and len(values) <= SMALL_WINDOW:
            return self._compute_small(values)
        window = Window(values, times)
        with quiet():
            out = {key: evaluate(spec, window) for key, spec in self.specs}
        skipped = 0
        if self._skip_view:
            skipped = getattr(window, "skipped_" + self._skip_view)
        return WindowResult(out, skipped, self.specs)


    def _compute_small(self, values):
        listed = values.tolist()
        # x - x is 0 for a finite float, NaN for NaN and inf: the finite values, in order.
        xs = listed if all(map(math.isfinite, listed)) else [x for x in listed if x - x == 0]
        n = len(xs)
        out = {}
        for key, function, min_length in self._small_steps:
            if n < min_length:
                out[key] = None
                continue
            try:
                value = function(xs)
            except (ZeroDivisionError, OverflowError, ValueError):
                value = None  # undefined here, as NaN or inf is through numpy
            out[key] = value if value.__class__ is float and value - value == 0 else finite_or_none(value)
        return WindowResult(out, len(listed) - n, self.specs)


def evaluate(spec, window):
    """One parsed type over one ``Window``: the function's value, or None for a
    window too short or a value that is undefined or not finite.  Callers
    silence numpy's floating-point warnings around it (``quiet``)."""
    data = window.view(spec.type.reads)
    if len(data) < spec.min_length:
        return None
    try:
        value = spec.type.function(data, **spec.params)
    except OverflowError:
        # Values near the float limits may overflow inside a statistic: a
        # value that cannot be represented, like ±inf, not a bug.
        return None
    return finite_or_none(value)


def finite_or_none(value):
    """Python float(s) if every value is finite, else None.

    >>> finite_or_none(2), finite_or_none(float("inf")), finite_or_none({"a": 1.0, "b": float("nan")})
    (2.0, None, None)
    """
    if value is None:
        return None
    if isinstance(value, dict):
        converted = {k: finite_or_none(v) for k, v in value.items()}
        return None if any(v is None for v in converted.values()) else converted
    value = float(value)
    return value if math.isfinite(value) else None


def compute(type_name, values, times=None, **params):
    """Compute one preprocessing type over one window.

    ``values`` is the window's raw values (numbers, strings, None, ...), or
    (latitude, longitude) pairs for geodiff; ``times`` the timestamps in ns
    since the epoch (or datetime64 / ISO strings), needed by the time types.
    Returns a float, a dict of floats for multi-output types, or None when
    the window is too short or the value is undefined.  Raises
    ``ValueError`` for an unknown type or a bad parameter.

    >>> compute("avg", [1, 2, "n/a", 6])
    3.0
    >>> compute("meanci95", [2.0, 2.0])
    {'mean': 2.0, 'low': 2.0, 'high': 2.0}
    >>> compute("variance", [5.0]) is None
    True
    >>> compute("spikedetect", [1.0] * 5, lag=0)
    Traceback (most recent call last):
    ...
    ValueError: preprocessing type 'spikedetect': parameter 'lag' must be an integer >= 1, got 0. Parameters of spikedetect: lag (default 5): an integer >= 1; threshold (default 3.5): a number > 0; influence (default 0.5): a number >= 0 and <= 1
    """
    with quiet():
        return evaluate(parse_type(type_name, **params), Window(values, times))


def compute_many(types, values, times=None):
    """Compute several types over one window, converting the values once.

    ``types`` are type names (parameters in the name, e.g. ``anomprob2-5``)
    or ``TypeSpec`` objects from ``parse_type`` (for keyword parameters).
    Returns a ``WindowResult`` (values per type, ``skipped``, ``fields()``).
    For many windows, build a ``Plan`` once instead.

    >>> r = compute_many(["count", "countstr", "max"], [3, "off", None, 7.5])
    >>> r.values, r.skipped
    ({'count': 2.0, 'countstr': 1.0, 'max': 7.5}, 2)
    """
    return Plan(types).compute(values, times)
