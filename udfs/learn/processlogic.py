"""The seed's ``processlogic``: a rule that derives a 0/1 label from field thresholds.

Grammar (whitespace around tokens is ignored)::

    processlogic := "classification_name" "=" label ( ":" condition )+
    condition    := field "=" lower "," upper
    lower        := number | "-n"        ("-n": no lower bound)
    upper        := number | "n"         ("n":  no upper bound)

A row is labelled 1 when *every* condition holds, else 0. A condition holds
when ``lower < value < upper`` (strict on both sides, as in the seed: ``=55,n``
means "greater than 55", ``=-n,55`` means "less than 55"). A missing or NaN
value makes its condition false. Example from the seed::

    classification_name=failure_prob:Voltage_preprocessed_AnomProb=55,n:Current_preprocessed_AnomProb=55,n

sets ``failure_prob`` to 1 where both fields exceed 55.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Mapping

import numpy as np

_HEAD = "classification_name"


@dataclass(frozen=True)
class Condition:
    """``lower < field < upper``; infinite bounds mean "no bound"."""

    field: str
    lower: float
    upper: float


@dataclass(frozen=True)
class ProcessLogic:
    """A parsed rule: the label's name and the conditions that must all hold."""

    label: str
    conditions: tuple[Condition, ...]

    @property
    def fields(self) -> tuple[str, ...]:
        return tuple(c.field for c in self.conditions)

    def apply(self, columns: Mapping[str, np.ndarray]) -> np.ndarray:
        """Vectorised labelling: a float array of 0.0/1.0, one per row.

        Examples
        --------
        >>> rule = parse("classification_name=fail:v=55,n:c=-n,10")
        >>> rule.apply({"v": np.array([60, 60, 50, np.nan]), "c": np.array([5, 20, 5, 5])}).tolist()
        [1.0, 0.0, 0.0, 0.0]
        """
        label = None
        for c in self.conditions:
            if c.field not in columns:
                raise ValueError(f"processlogic: field {c.field!r} is not in the data")
            with np.errstate(invalid="ignore"):
                values = np.asarray(columns[c.field], dtype=float)
                holds = (values > c.lower) & (values < c.upper)
            label = holds if label is None else label & holds
        return label.astype(float)


def parse(text: str) -> ProcessLogic:
    """Parse a ``processlogic`` string; a ValueError says what is wrong and where.

    Examples
    --------
    >>> parse("classification_name=failure_prob:Voltage=55,n:Current=-n,55")
    ProcessLogic(label='failure_prob', conditions=(Condition(field='Voltage', lower=55.0, upper=inf), Condition(field='Current', lower=-inf, upper=55.0)))
    >>> parse("classification_name=fail:Voltage=55")
    Traceback (most recent call last):
    ...
    ValueError: processlogic condition 'Voltage=55': bounds must be 'lower,upper' (use -n or n for no bound), got '55'
    """
    if not isinstance(text, str) or not text.strip():
        raise ValueError("processlogic must be a non-empty string like "
                         "'classification_name=failure_prob:Voltage=55,n'")
    head, *parts = [p.strip() for p in text.split(":")]
    name, eq, label = (s.strip() for s in head.partition("="))
    if name != _HEAD or not eq:
        raise ValueError(f"processlogic must start with '{_HEAD}=<label>', got {head!r}")
    if not label:
        raise ValueError(f"processlogic: the label after '{_HEAD}=' is empty")
    if not parts:
        raise ValueError(f"processlogic {text!r} has no conditions; add ':<field>=<lower>,<upper>'")
    conditions = []
    for part in parts:
        condition = _parse_condition(part)
        if any(c.field == condition.field for c in conditions):
            raise ValueError(f"processlogic: field {condition.field!r} appears in more than one condition")
        conditions.append(condition)
    return ProcessLogic(label=label, conditions=tuple(conditions))


def _parse_condition(part: str) -> Condition:
    field, eq, bounds = (s.strip() for s in part.partition("="))
    if not part:
        raise ValueError("processlogic has an empty condition (two ':' in a row or a trailing ':')")
    if not eq or not field:
        raise ValueError(f"processlogic condition {part!r} must look like '<field>=<lower>,<upper>'")
    pieces = [p.strip() for p in bounds.split(",")]
    if len(pieces) != 2:
        raise ValueError(f"processlogic condition {part!r}: bounds must be 'lower,upper' "
                         f"(use -n or n for no bound), got {bounds!r}")
    lower = _bound(part, pieces[0], open_token="-n", infinity=-math.inf)
    upper = _bound(part, pieces[1], open_token="n", infinity=math.inf)
    if not lower < upper:
        raise ValueError(f"processlogic condition {part!r}: lower bound {pieces[0]} "
                         f"must be below upper bound {pieces[1]}")
    return Condition(field=field, lower=lower, upper=upper)


def _bound(part: str, token: str, *, open_token: str, infinity: float) -> float:
    if token.lower() == open_token:
        return infinity
    try:
        value = float(token)
    except ValueError:
        side = "lower" if infinity < 0 else "upper"
        raise ValueError(f"processlogic condition {part!r}: {side} bound must be a number "
                         f"or {open_token!r}, got {token!r}") from None
    if not math.isfinite(value):
        raise ValueError(f"processlogic condition {part!r}: bound {token!r} is not finite")
    return value
