"""UDF options declared once, in a table.

To add an option: write its row in the handler's ``options``, or, for a
setting a library takes, a field of the library's dataclass with Option's
keyword arguments in ``metadata["option"]`` (as ``udfs.learn.TrainConfig``);
the table's tests are in ``tests/unit/agent/test_agent_options.py``.

A handler lists its options as :class:`Option` rows. From that table the
agent answers Kapacitor's ``InfoRequest`` (:func:`option_info`) and checks
an ``InitRequest`` (:func:`parse_options`), reporting every bad option in
one message. :func:`field_options` reads rows from such a dataclass, so a
library is configured without importing the agent and protobuf.

Examples
--------
>>> table = (
...     Option("field", "string", "temperature"),
...     Option("low", "double", 20.0, min=-100.0, max=100.0),
...     Option("mode", "string", "fast", choices=("fast", "exact")),
...     Option("window", "duration", "10s"),
... )
>>> opts = parse_options(table, {"low": [(15,)], "window": [(Duration(5_000_000_000),)]})
>>> opts.field, opts.low, opts.mode, opts.window
('temperature', 15.0, 'fast', 5000000000)
>>> parse_options(table, {"low": [(500.0,)], "colour": [("red",)]})
Traceback (most recent call last):
...
udfs.agent.options.OptionsError: unknown option 'colour' (known: field, low, mode, window); option 'low' must be <= 100.0, got 500.0
"""

from __future__ import annotations

import dataclasses
import math
import types
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Mapping, Sequence

from .durations import parse_duration

__all__ = [
    "Duration",
    "REQUIRED",
    "KAPACITOR_TYPES",
    "Option",
    "OptionsError",
    "build_config",
    "field_options",
    "option_info",
    "parse_duration",
    "parse_options",
]


class _Required:
    def __repr__(self) -> str:
        return "REQUIRED"


#: Default meaning "the TICKscript must set this option".
REQUIRED: Any = _Required()

#: Kapacitor value type names, in the order of udf.proto's ValueType enum.
KAPACITOR_TYPES = ("bool", "int", "double", "string", "duration")

_PY_TYPES = {"bool": bool, "int": int, "double": float, "string": str, "duration": int}

class Duration(int):
    """Nanoseconds that arrived as a Kapacitor duration, not as an int.

    Behaves as an int; the type only lets :func:`parse_options` tell
    ``.window(10s)`` from ``.window(10)``.

    Examples
    --------
    >>> Duration(5) + 1
    6
    """


class OptionsError(ValueError):
    """One or more options are wrong; the message lists every problem."""

    def __init__(self, problems: Sequence[str]):
        self.problems = list(problems)
        super().__init__("; ".join(self.problems))


@dataclass(frozen=True)
class Option:
    """One row of a handler's option table.

    Parameters
    ----------
    name
        Option name, snake_case, as written in the TICKscript (``.name(...)``).
    type
        A Kapacitor type name (``bool``, ``int``, ``double``, ``string``,
        ``duration``), or a tuple of them for an option taking several
        arguments, e.g. ``("string", "double")`` for ``.limit('x', 2.5)``.
    default
        Value when the TICKscript does not set the option; :data:`REQUIRED`
        makes leaving it out an error. Duration defaults may be strings
        such as ``"10s"``. A repeatable option is optional with
        ``default=()``.
    min, max
        Inclusive bounds for numeric values.
    choices
        Allowed values.
    check
        ``(predicate, message)``: the value is accepted when
        ``predicate(value)`` is true, otherwise ``message`` says what the
        value must be, e.g. ``(lambda v: v % 2 == 1, "an odd number")``.
    repeated
        The option may be given several times; its value is then a tuple
        with one entry per use.
    help
        One sentence for the README and ``--help`` style listings.

    Notes
    -----
    Values reach the handler as Python types: ``double`` as float (an int
    literal is accepted), ``duration`` as int nanoseconds, and an option of
    several arguments as a tuple.
    """

    name: str
    type: str | tuple[str, ...]
    default: Any = REQUIRED
    min: float | None = None
    max: float | None = None
    choices: tuple | None = None
    check: tuple[Callable[[Any], bool], str] | None = None
    repeated: bool = False
    help: str = ""
    types: tuple[str, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        kinds = (self.type,) if isinstance(self.type, str) else tuple(self.type)
        bad = [k for k in kinds if k not in KAPACITOR_TYPES]
        if bad or not kinds:
            raise ValueError(
                f"option {self.name!r}: type must be one or more of "
                f"{', '.join(KAPACITOR_TYPES)}, got {self.type!r}"
            )
        object.__setattr__(self, "types", kinds)
        if self.default is not REQUIRED:
            default = self.default
            if self.repeated:
                default = tuple(self._convert_default(v) for v in default)
            else:
                default = self._convert_default(default)
                problem = self.problem(default)
                if problem:
                    raise ValueError(f"option {self.name!r}: default {problem}")
            object.__setattr__(self, "default", default)

    def _convert_default(self, value: Any) -> Any:
        values = (value,) if len(self.types) == 1 else tuple(value)
        out = []
        for kind, v in zip(self.types, values):
            if kind == "duration" and isinstance(v, str):
                v = parse_duration(v)
            elif kind == "double" and isinstance(v, int) and not isinstance(v, bool):
                v = float(v)
            out.append(v)
        return out[0] if len(self.types) == 1 else tuple(out)

    def problem(self, value: Any) -> str | None:
        """Say what is wrong with a converted value, or ``None`` if fine."""
        scalars = (value,) if len(self.types) == 1 else value
        for v in scalars:
            if isinstance(v, float) and math.isnan(v):
                return f"must be a number, got {v!r}"
            if self.min is not None and v < self.min:
                return f"must be >= {self.min!r}, got {v!r}"
            if self.max is not None and v > self.max:
                return f"must be <= {self.max!r}, got {v!r}"
        if self.choices is not None and value not in self.choices:
            allowed = ", ".join(repr(c) for c in self.choices)
            return f"must be one of {allowed}, got {value!r}"
        if self.check is not None:
            predicate, what = self.check
            try:
                ok = predicate(value)
            except Exception as exc:  # a constraint that cannot even run is a failed one
                ok = False
                what = f"{what} ({type(exc).__name__}: {exc})"
            if not ok:
                return f"must be {what}, got {value!r}"
        return None


def option_info(table: Iterable[Option]) -> dict[str, tuple[int, ...]]:
    """Kapacitor ValueType numbers of each option's arguments.

    Examples
    --------
    >>> option_info([Option("low", "double", 1.0), Option("pair", ("string", "int"), ("a", 1))])
    {'low': (2,), 'pair': (3, 1)}
    """
    return {opt.name: tuple(KAPACITOR_TYPES.index(k) for k in opt.types) for opt in table}


def _convert(opt: Option, values: Sequence[Any]) -> tuple[Any, str | None]:
    """Check one use of an option against its declared argument types."""
    if len(values) != len(opt.types):
        return None, (
            f"option {opt.name!r} takes {len(opt.types)} argument(s) "
            f"({', '.join(opt.types)}), got {len(values)}"
        )
    out = []
    for kind, v in zip(opt.types, values):
        got = type(v)
        if kind == "double" and got is int:
            v = float(v)
        elif kind == "duration" and got is Duration:
            v = int(v)
        elif kind == "duration" or got is not _PY_TYPES[kind]:
            return None, f"option {opt.name!r} must be a {kind}, got {_type_name(v)} {v!r}"
        out.append(v)
    value = out[0] if len(out) == 1 else tuple(out)
    problem = opt.problem(value)
    if problem:
        return None, f"option {opt.name!r} {problem}"
    return value, None


def _type_name(v: Any) -> str:
    names = {bool: "bool", int: "int", float: "double", str: "string", Duration: "duration"}
    return names.get(type(v), type(v).__name__)


def parse_options(
    table: Iterable[Option], given: Mapping[str, Sequence[Sequence[Any]]]
) -> types.SimpleNamespace:
    """Check options given by a TICKscript against the table.

    Parameters
    ----------
    table
        The handler's option rows.
    given
        Option name to the list of its uses, each use a sequence of Python
        argument values as decoded from ``OptionValue``: bool, int, float,
        str, or :class:`Duration` for Kapacitor durations.

    Returns
    -------
    types.SimpleNamespace
        One attribute per option in the table.

    Raises
    ------
    OptionsError
        Listing every unknown, mistyped, out-of-range, repeated-but-single
        or missing option at once.
    """
    table = list(table)
    by_name = {opt.name: opt for opt in table}
    problems = []
    for name in given:
        if name not in by_name:
            known = ", ".join(sorted(by_name)) or "none"
            problems.append(f"unknown option {name!r} (known: {known})")
    values = {}
    for opt in table:
        uses = given.get(opt.name)
        if not uses:
            if opt.default is REQUIRED:
                problems.append(f"missing required option {opt.name!r}")
            values[opt.name] = opt.default
            continue
        if len(uses) > 1 and not opt.repeated:
            problems.append(f"option {opt.name!r} may be given once, got {len(uses)} times")
            continue
        converted = []
        for use in uses:
            value, problem = _convert(opt, use)
            if problem:
                problems.append(problem)
            else:
                converted.append(value)
        values[opt.name] = tuple(converted) if opt.repeated else (converted[0] if converted else None)
    if problems:
        raise OptionsError(problems)
    return types.SimpleNamespace(**values)


def field_options(config: type) -> tuple[Option, ...]:
    """Option rows of the dataclass fields whose ``metadata["option"]`` holds Option's keyword arguments.

    The field's default is the option's; a field without one is required.

    >>> @dataclass
    ... class Band:
    ...     sensor: str = dataclasses.field(metadata={"option": {"type": "string"}})
    ...     low: float = dataclasses.field(default=20.0, metadata={"option": {"type": "double", "min": 0}})
    >>> build_config(Band, parse_options(field_options(Band), {"sensor": [("t",)]}))
    Band(sensor='t', low=20.0)
    """
    return tuple(
        Option(f.name, default=REQUIRED if f.default is dataclasses.MISSING else f.default, **f.metadata["option"])
        for f in dataclasses.fields(config) if "option" in f.metadata
    )


def build_config(config: type, opts: types.SimpleNamespace) -> Any:
    """The ``config`` dataclass from parsed options: its option fields, by name."""
    return config(**{f.name: getattr(opts, f.name) for f in dataclasses.fields(config) if "option" in f.metadata})
