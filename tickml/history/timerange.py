"""A range of history on the command line: ``--since 30d`` or ``--from``/``--to``, in nanoseconds."""

from __future__ import annotations

import time

from devices.replay import parse_time
from udfs.agent.durations import positive_duration



def span_ns(text: str) -> int:
    """``90s``, ``15m``, ``6h``, ``30d``, ``2w`` in nanoseconds.

    >>> span_ns("30d") == 30 * 86400 * 10**9, span_ns("1.5h")
    (True, 5400000000000)
    >>> span_ns("a month")
    Traceback (most recent call last):
    ...
    ValueError: want a span like 90s, 15m, 6h, 30d or 2w, got 'a month'
    """
    span = positive_duration(text)
    if span is None:
        raise ValueError(f"want a span like 90s, 15m, 6h, 30d or 2w, got {text!r}")
    return span


def instant_ns(text: str, now_ns: int | None = None) -> int:
    """``now``, ``now-2h``, RFC 3339 or epoch seconds (ms, us, ns told apart by magnitude), in nanoseconds.

    >>> instant_ns("2026-11-01T00:00:00Z"), instant_ns("now-1m", now_ns=60 * 10**9)
    (1793491200000000000, 0)
    """
    now_ns = time.time_ns() if now_ns is None else now_ns
    text = text.strip()
    if text == "now":
        return now_ns
    if text.startswith("now-"):
        return now_ns - span_ns(text[4:])
    value = parse_time(text)
    if value is None:
        raise ValueError(f"want now, now-<span>, RFC 3339 or epoch seconds, got {text!r}")
    return value


def resolve(since: str | None, start: str | None, end: str | None, default_end_ns: int | None = None,
            now_ns: int | None = None) -> tuple[int, int]:
    """``[from, to)`` from the options: ``--since SPAN`` (back from ``--to``), or ``--from`` (and ``--to``).

    ``--to`` defaults to ``default_end_ns`` (a live task's start), else now.

    >>> resolve("1h", None, None, now_ns=7200 * 10**9)
    (3600000000000, 7200000000000)
    >>> resolve(None, None, None)
    Traceback (most recent call last):
    ...
    ValueError: give --since SPAN or --from TIME
    """
    now_ns = time.time_ns() if now_ns is None else now_ns
    if (since is None) == (start is None):
        raise ValueError("give --since SPAN or --from TIME" if since is None else "give --since or --from, not both")
    stop = instant_ns(end, now_ns) if end else (default_end_ns or now_ns)
    begin = stop - span_ns(since) if since is not None else instant_ns(start, now_ns)
    if begin >= stop:
        raise ValueError(f"the range is empty: from {begin} is not before to {stop}")
    return begin, stop
