"""Choosing things by name on the command line: all of them, or the ones named, or an error naming the unknown."""

from __future__ import annotations

from typing import Sequence, TypeVar

T = TypeVar("T")


def pick(items: Sequence[T], names: Sequence[str], what: str, error: type[Exception]) -> list[T]:
    """``items`` (each with a ``name``) in the order ``names`` gives, or all of them when none is named.

    >>> from types import SimpleNamespace as N
    >>> [i.name for i in pick([N(name="a"), N(name="b")], ["b"], "service", ValueError)]
    ['b']
    >>> pick([N(name="a")], ["x", "y"], "service", ValueError)
    Traceback (most recent call last):
    ...
    ValueError: unknown service(s) x, y; known: a
    """
    if not names:
        return list(items)
    known = {item.name: item for item in items}
    unknown = [n for n in names if n not in known]
    if unknown:
        raise error(f"unknown {what}(s) {', '.join(unknown)}; known: {', '.join(known)}")
    return [known[n] for n in names]
