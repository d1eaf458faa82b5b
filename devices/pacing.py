"""Sending a schedule of messages against the wall clock.

The simulator and a replay both turn their messages into ``(due, batch)``
pairs, ``due`` in simulated seconds from the start; this module sends each
batch when its time comes, at a chosen speed, and stops after a duration.
"""

from __future__ import annotations

import time
from typing import Iterable, Iterator


def send_scheduled(batches: Iterable[tuple[float, list]], transport, speed: float) -> float:
    """Send each batch when its simulated time comes (``speed`` 0: at once); returns the seconds taken.

    A batch is a list of message dicts or raw bytes; the transport's counters
    tell what was sent.
    """
    from devices.transports import envelope

    # A transport with connections to keep alive (MQTT) reads and answers the broker while it waits.
    idle = getattr(transport, "idle", time.sleep)
    # One that gathers messages into requests (HTTP, OTLP) sends what it holds before a wait: a paced fleet's
    # tick goes when it is due, not once a request is full (18 devices a second filled one in a minute).
    release = getattr(transport, "release", None)
    started = time.monotonic()
    for due, batch in batches:
        if speed > 0:
            wait = started + due / speed - time.monotonic()
            if wait > 0:
                if release is not None:
                    release()
                    wait = started + due / speed - time.monotonic()
                if wait > 0:
                    idle(wait)
        transport.send_envelopes([envelope(m) for m in batch])
    transport.flush()
    return time.monotonic() - started


def stop_after(batches: Iterable, duration: float | None) -> Iterator:
    if duration is None:
        yield from batches
        return
    deadline = time.monotonic() + duration
    for batch in batches:
        if time.monotonic() >= deadline:
            return
        yield batch


def group_due(items: Iterable[tuple[float, object]], window: float = 0.01) -> Iterator[tuple[float, list]]:
    """Group consecutive items due within ``window`` seconds of the group's first into one batch."""
    batch: list = []
    first = 0.0
    for due, item in items:
        if batch and due - first > window:
            yield first, batch
            batch = []
        if not batch:
            first = due
        batch.append(item)
    if batch:
        yield first, batch
