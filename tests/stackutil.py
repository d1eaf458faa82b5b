"""Helpers shared by the tests on the real stack."""

from __future__ import annotations

import time


def wait_until(predicate, timeout: float = 60.0, interval: float = 0.5, what: str = "condition"):
    """Poll ``predicate`` until it returns a truthy value; that value is returned."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}; last value: {last!r}")


def wait_for_rows(influx, query: str, n: int, timeout: float = 60.0) -> list[dict]:
    """Run ``query`` until it returns at least ``n`` rows; those rows."""

    def enough():
        rows = influx.query(query)
        return rows if len(rows) >= n else None

    return wait_until(enough, timeout=timeout, what=f"{n} rows of {query!r}")
