"""Time ranges: the picker's choices, what a page's range resolves to, and the bucket that bounds a series.

A relative range ("the last 15m") is resolved again at every refresh, so a
page always queries it whole from its start: a page opened late shows what
came before it opened (late join). An absolute range is two instants.
"""

from __future__ import annotations

import dataclasses
import datetime
import math

from devices.replay import parse_time
from udfs.agent.durations import positive_duration

#: The picker's relative ranges.
RELATIVE = ("5m", "15m", "1h", "6h", "24h", "7d")

# Bucket widths a GROUP BY time() takes: round numbers a reader recognises.
_STEPS = (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400)


def parse_duration(text: str) -> int:
    """Seconds of a positive duration in whole seconds, as TICKscript writes it: ``30s``, ``15m``, ``1h30m``, ``7d``.

    >>> parse_duration("15m"), parse_duration("7d")
    (900, 604800)
    >>> parse_duration("15 minutes")
    Traceback (most recent call last):
    ...
    ValueError: a duration is whole seconds, such as 15m or 6h, not '15 minutes'
    """
    ns = positive_duration(text)
    if ns is None or ns % 10**9:
        raise ValueError(f"a duration is whole seconds, such as 15m or 6h, not {text!r}")
    return ns // 10**9


def parse_instant(text: str) -> int:
    """Nanoseconds since the epoch of an ISO 8601 time; without an offset it is UTC.

    >>> parse_instant("1970-01-01T00:00:01Z"), parse_instant("1970-01-01 00:00:02")
    (1000000000, 2000000000)
    >>> parse_instant("yesterday")
    Traceback (most recent call last):
    ...
    ValueError: 'yesterday' is not a time like 2026-11-26T10:00:00Z
    """
    moment = parse_time(text)
    if moment is None:
        raise ValueError(f"{text!r} is not a time like 2026-11-26T10:00:00Z")
    return moment


def format_instant(ns: int) -> str:
    """
    >>> format_instant(1_000_000_000)
    '1970-01-01 00:00:01 UTC'
    """
    moment = datetime.datetime.fromtimestamp(ns / 1e9, tz=datetime.timezone.utc)
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC")


@dataclasses.dataclass(frozen=True)
class Range:
    start: int  # ns, inclusive
    end: int    # ns, exclusive

    @property
    def seconds(self) -> float:
        return (self.end - self.start) / 1e9

    def describe(self) -> str:
        return f"{format_instant(self.start)} to {format_instant(self.end)}"


def resolve(choice: str, start: str | None, end: str | None, now_ns: int) -> Range:
    """The range a page queries: ``choice`` is a relative range (``15m``) or ``custom`` with two ISO times.

    >>> resolve("15m", None, None, 1_000 * 10**9)
    Range(start=100000000000, end=1000000000000)
    >>> resolve("custom", "1970-01-01T00:01:00Z", "1970-01-01T00:00:00Z", 0)
    Traceback (most recent call last):
    ...
    ValueError: the range's end (1970-01-01 00:00:00 UTC) is not after its start (1970-01-01 00:01:00 UTC)
    """
    if choice != "custom":
        return Range(now_ns - parse_duration(choice) * 10**9, now_ns)
    if not start or not end:
        raise ValueError("a custom range needs both a start and an end (like 2026-11-26T10:00:00Z)")
    first, last = parse_instant(start), parse_instant(end)
    if last <= first:
        raise ValueError(f"the range's end ({format_instant(last)}) is not after its start ({format_instant(first)})")
    return Range(first, last)


def span(ns: int | float | None) -> str:
    """A duration for a person: the two largest units (a negative one, a clock's skew, is 0s).

    >>> span(0), span(42 * 10**9), span(3725 * 10**9), span(90061 * 10**9), span(-3 * 10**9), span(None)
    ('0s', '42s', '1h 2m', '1d 1h', '0s', '')
    """
    if ns is None:
        return ""
    seconds = max(int(ns // 10**9), 0)
    parts = [(seconds // 86400, "d"), (seconds // 3600 % 24, "h"), (seconds // 60 % 60, "m"), (seconds % 60, "s")]
    return " ".join([f"{n}{unit}" for n, unit in parts if n][:2]) or "0s"


def bucket(seconds: float, max_points: int, minimum: int = 1) -> int:
    """The GROUP BY time() width, in seconds, that keeps a series of a range at most ``max_points`` long.

    >>> bucket(900, 300), bucket(900, 300, minimum=10), bucket(7 * 86400, 300)
    (5, 10, 3600)
    """
    wanted = max(minimum, math.ceil(seconds / max_points))
    for step in _STEPS:
        if step >= wanted:
            return step
    return math.ceil(wanted / 86400) * 86400


def influx_duration(seconds: int) -> str:
    """
    >>> influx_duration(5), influx_duration(120), influx_duration(7200)
    ('5s', '2m', '2h')
    """
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"
