"""Turns on the shared stack for tests run side by side (pytest-xdist workers are processes).

Most tests on the stack only add data under device ids of their own, and run side by side. A test that stops,
restarts or kills a service the others use (marked ``serial``) runs alone: the others would see its fault as
theirs. A readers-writer lock across processes, on two lock files: a test takes the room shared, a serial test
takes it whole. A serial test waits at the turnstile for the room to empty; the tests that come to the turnstile
after it wait until it is done, so it is never starved by a stream of others. Beside the turns, named locks: tests
that hold the same name (fixed ports of their own, a task that reads every device's results) never run together.
Names are taken before the turn, so a test waiting for a name holds no turn.
"""

from __future__ import annotations

import fcntl
from contextlib import contextmanager
from pathlib import Path


class StackTurns:
    def __init__(self, folder: Path):
        folder.mkdir(parents=True, exist_ok=True)
        self._folder = folder
        self._turnstile = open(folder / "turnstile.lock", "a+")
        self._room = open(folder / "room.lock", "a+")

    def shared(self):
        """A test's turn beside the others."""
        return self._turn(fcntl.LOCK_SH)

    def alone(self):
        """A serial test's turn: no other test on the stack."""
        return self._turn(fcntl.LOCK_EX)

    @contextmanager
    def _turn(self, mode: int):
        fcntl.flock(self._turnstile, fcntl.LOCK_EX)
        try:
            fcntl.flock(self._room, mode)
        finally:
            fcntl.flock(self._turnstile, fcntl.LOCK_UN)
        try:
            yield
        finally:
            fcntl.flock(self._room, fcntl.LOCK_UN)

    @contextmanager
    def holding(self, names: list[str]):
        """``names`` (in this order, the same for every test, so that two never wait on each other) held
        exclusively."""
        files = []
        try:
            for name in names:
                fh = open(self._folder / f"exclusive-{name}.lock", "a+")
                files.append(fh)
                fcntl.flock(fh, fcntl.LOCK_EX)
            yield
        finally:
            for fh in reversed(files):
                fh.close()  # closing the only descriptor of it releases the lock

    def close(self) -> None:
        self._turnstile.close()
        self._room.close()
