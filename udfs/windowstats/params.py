"""Parameter constraints: declared once per type, checked by one validator.

Each constraint converts a raw value (a Python value, or a string from a
TICKscript option or a type name such as ``anomprob3-5``) to the value the
function receives, or raises ``ValueError`` saying what it must be.

Why not the agent's ``Option`` rows: these parameters are never Kapacitor
options with a declared type. They arrive as text inside a type name or as a
notebook's keywords, so a constraint converts leniently and may have open
bounds; and the statistics never import the agent and its protobuf code. A
parameter is declared once, in its type's entry in ``registry``.
"""

import math
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Integer:
    """An integer within [low, high]; integral floats and digit strings pass.

    Examples
    --------
    >>> Integer(low=1)("5")
    5
    >>> Integer(low=1).must
    'an integer >= 1'
    """

    low: int | None = None
    high: int | None = None

    @property
    def must(self):
        return "an integer" + _bounds_text(self.low, self.high)

    def __call__(self, value):
        number = _number(value, self.must)
        if not number.is_integer():
            raise ValueError(self.must)
        number = int(number)
        _check_bounds(number, self.low, self.high, self.must)
        return number


@dataclass(frozen=True)
class Real:
    """A finite real number within [low, high] (or (low, high) if ``open``).

    Examples
    --------
    >>> Real(low=0, open=True)("3.5")
    3.5
    >>> Real(low=0, high=1).must
    'a number >= 0 and <= 1'
    """

    low: float | None = None
    high: float | None = None
    open: bool = False

    @property
    def must(self):
        return "a number" + _bounds_text(self.low, self.high, self.open)

    def __call__(self, value):
        number = _number(value, self.must)
        if not math.isfinite(number):
            raise ValueError(self.must)
        _check_bounds(number, self.low, self.high, self.must, self.open)
        return number


@dataclass(frozen=True)
class Choice:
    """One of a few strings, case-insensitive.

    Examples
    --------
    >>> Choice(("second", "minute"))("Minute")
    'minute'
    """

    options: tuple

    @property
    def must(self):
        return "one of " + ", ".join(self.options)

    def __call__(self, value):
        text = str(value).strip().lower()
        if text not in self.options:
            raise ValueError(self.must)
        return text


@dataclass(frozen=True)
class IntegerOrAll:
    """An integer >= ``low``, or ``"n"`` meaning no bound (the seed's X-Y syntax).

    Examples
    --------
    >>> IntegerOrAll(2)("N"), IntegerOrAll(2)(5)
    ('n', 5)
    """

    low: int

    @property
    def must(self):
        return f'an integer >= {self.low} or "n"'

    def __call__(self, value):
        if isinstance(value, str) and value.strip().lower() == "n":
            return "n"
        try:
            return Integer(low=self.low)(value)
        except ValueError:
            raise ValueError(self.must) from None


@dataclass(frozen=True)
class Param:
    """One declared parameter of a type: name, default, constraint, meaning."""

    name: str
    default: Any
    constraint: Any
    doc: str

    def describe(self):
        """``name (default D): must be ...`` for error messages and docs.

        >>> Param("lag", 5, Integer(low=1), "points").describe()
        'lag (default 5): an integer >= 1'
        """
        return f"{self.name} (default {self.default!r}): {self.constraint.must}"


def _number(value, must):
    """``value`` as a float (digit strings come from type names), else ``ValueError(must)``; a bool is no number."""
    if isinstance(value, bool):
        raise ValueError(must)
    try:
        return float(value)
    except (TypeError, ValueError):
        raise ValueError(must) from None


def _bounds_text(low, high, open_=False):
    parts = []
    if low is not None:
        parts.append(f"{'>' if open_ else '>='} {low:g}")
    if high is not None:
        parts.append(f"{'<' if open_ else '<='} {high:g}")
    return (" " + " and ".join(parts)) if parts else ""


def _check_bounds(number, low, high, must, open_=False):
    if low is not None and (number < low or (open_ and number == low)):
        raise ValueError(must)
    if high is not None and (number > high or (open_ and number == high)):
        raise ValueError(must)
