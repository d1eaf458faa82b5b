"""Durations as TICKscript writes them (``10s``, ``1m30s``, ``250ms``, ``1.5h``): the one parser of the project.

Kapacitor's literals, the dashboard's ranges, the history commands' spans and
the TICKscript reader all read durations here, and each says what it accepts
on top (whole seconds, a positive span) where it needs to.
"""

from __future__ import annotations

import re

_DURATION_UNITS = {
    "ns": 1,
    "u": 1_000,
    "us": 1_000,
    "µs": 1_000,
    "ms": 1_000_000,
    "s": 1_000_000_000,
    "m": 60_000_000_000,
    "h": 3_600_000_000_000,
    "d": 86_400_000_000_000,
    "w": 604_800_000_000_000,
}
_DURATION_PART = re.compile(r"(\d+(?:\.\d*)?)(ns|us|µs|u|ms|s|m|h|d|w)")


def parse_duration(text: str) -> int:
    """Parse a TICKscript duration literal into nanoseconds.

    Examples
    --------
    >>> parse_duration("1m30s")
    90000000000
    >>> parse_duration("250ms")
    250000000
    """
    pos = 0
    total = 0.0
    text = text.strip()
    for match in _DURATION_PART.finditer(text):
        if match.start() != pos:
            break
        total += float(match.group(1)) * _DURATION_UNITS[match.group(2)]
        pos = match.end()
    if pos != len(text) or not text:
        raise ValueError(f"not a duration: {text!r} (expected e.g. '10s', '1m30s', '250ms')")
    return int(total)


def positive_duration(text: str) -> int | None:
    """Nanoseconds of a duration above zero, or None for anything else: for callers that word their own error.

    >>> positive_duration("1h30m"), positive_duration("0s"), positive_duration("soon")
    (5400000000000, None, None)
    """
    try:
        span = parse_duration(text)
    except ValueError:
        return None
    return span if span > 0 else None
