"""Rate-limited logging for problems that repeat with every point.

A sensor that sends strings for a week must not write a log line per point;
one line per reason per interval, with the count of what was held back, is
enough to see and fix it.

Examples
--------
>>> import logging, io
>>> stream = io.StringIO()
>>> log = logging.getLogger("doctest.ratelimit")
>>> log.addHandler(logging.StreamHandler(stream)); log.propagate = False
>>> clock = iter([0.0, 1.0, 2.0, 12.0]).__next__
>>> limited = RateLimitedLog(log, interval=10.0, clock=clock)
>>> for _ in range(4):
...     _ = limited.warning("bad point", "field 'x' is NaN")
>>> print(stream.getvalue().strip())
bad point: field 'x' is NaN
bad point: field 'x' is NaN (2 more since the last report)
>>> limited.counts["bad point"]
4
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from typing import Callable

__all__ = ["RateLimitedLog"]


class RateLimitedLog:
    """Log at most one line per key per ``interval`` seconds, counting the rest.

    Parameters
    ----------
    logger
        Where lines go.
    interval
        Seconds between two lines of the same key.
    clock
        Monotonic seconds; injectable for tests.

    Attributes
    ----------
    counts
        Every occurrence per key, logged or not.
    """

    def __init__(self, logger: logging.Logger, interval: float = 10.0, clock: Callable[[], float] = time.monotonic):
        self.logger = logger
        self.interval = interval
        self.clock = clock
        self.counts: Counter[str] = Counter()
        self._last: dict[str, float] = {}
        self._held: Counter[str] = Counter()

    def log(
        self, level: int, key: str, detail: str, exc_info: bool = False, prefix: str = "", title: str | None = None
    ) -> bool:
        """Count one occurrence of ``key``; log it unless one was logged recently.

        The line reads ``<prefix><title or key>: <detail>``.

        Returns
        -------
        bool
            Whether a line was written.
        """
        self.counts[key] += 1
        now = self.clock()
        last = self._last.get(key)
        if last is not None and now - last < self.interval:
            self._held[key] += 1
            return False
        self._last[key] = now
        held = self._held.pop(key, 0)
        suffix = f" ({held} more since the last report)" if held else ""
        self.logger.log(level, "%s%s: %s%s", prefix, title or key, detail, suffix, exc_info=exc_info)
        return True

    def warning(self, key: str, detail: str, prefix: str = "", title: str | None = None) -> bool:
        """:meth:`log` at WARNING."""
        return self.log(logging.WARNING, key, detail, prefix=prefix, title=title)

    def error(
        self, key: str, detail: str, exc_info: bool = False, prefix: str = "", title: str | None = None
    ) -> bool:
        """:meth:`log` at ERROR, with the current traceback if ``exc_info``."""
        return self.log(logging.ERROR, key, detail, exc_info=exc_info, prefix=prefix, title=title)
