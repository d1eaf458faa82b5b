"""Fixtures for tests on the real stack.

The ``stack`` fixture starts Mosquitto, InfluxDB, the socket UDF servers,
Kapacitor and Telegraf once per test session with ``tickml stack`` (the
same runner users run), defines the task list, and stops the services it started
when the session ends. The start begins as soon as collection shows a test
that needs the stack, as commands of their own, so the unit tests
(stack/test.sh runs them first) run while the services come up. Services that already ran (a developer's stack) are
reused and left running. Tests isolate their data by device ids unique to the session.

The tasks are defined with a flush interval of 1 s (``TICKML_FLUSH_INTERVAL``,
tickml/tasks.py): a task's result is in InfluxDB a second after it comes out,
not up to Kapacitor's default 10 s, so tests wait on it rather than sit out
the flush. The variable stays set for the session, so that what the tests
define too (the shards' tasks, ``tickml tasks define`` run by a test) keeps it.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import types
import uuid
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _stack_handle() -> types.SimpleNamespace:
    """What the tests reach the stack by (the ``stack`` fixture): its folders and the runner's calls."""
    from tickml import paths
    from tickml.stack import catalog, process, runner, supervision

    return types.SimpleNamespace(
        ROOT=paths.ROOT, BIN=paths.BIN, LOGS=paths.LOGS, RUN=paths.RUN, services=catalog.services,
        start=runner.start, stop=runner.stop,
        start_service=process.start_service, stop_service=process.stop_service,
        supervised_process=supervision.supervised_process)


class _Start:
    """The stack's start, begun as soon as the session knows a test needs it, so that the unit tests (which
    run first) run meanwhile; and the services it found stopped (the ones to stop at the end).

    The runner runs as a command of its own (``tickml stack start``, then ``tickml tasks define``), not in a
    thread of this process: unit tests patch the tools' modules (the secrets' folder, the configuration's
    paths), which a thread here would read half-way through its start."""

    def __init__(self):
        self.handle = _stack_handle()
        self.started = [s.name for s in self.handle.services() if s.pid() is None]
        self.thread: threading.Thread | None = None
        self.error: str | None = None

    def begin(self) -> None:
        from tickml import tasks

        from stackutil import FLUSH_INTERVAL

        os.environ.setdefault(tasks.FLUSH_INTERVAL_ENV, FLUSH_INTERVAL)
        self.thread = threading.Thread(target=self._run, name="stack-start", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        for command in (["stack", "start"], ["tasks", "define"]):
            done = subprocess.run([sys.executable, "-m", "tickml", *command], cwd=ROOT, capture_output=True,
                                  text=True)
            if done.returncode != 0:
                self.error = f"tickml {' '.join(command)} exited with {done.returncode}:\n{done.stdout}{done.stderr}"
                return


_START: _Start | None = None


def pytest_collection_finish(session):
    global _START
    if any("stack" in item.fixturenames for item in session.items):
        _START = _Start()
        _START.begin()


@pytest.fixture(scope="session")
def stack():
    global _START
    if _START is None:  # collected by a hook that did not see it (a plugin's run): start now
        _START = _Start()
        _START.begin()
    _START.thread.join()
    try:
        if _START.error is not None:
            raise RuntimeError(_START.error)
        yield _START.handle
    finally:
        # Stop only what this session started (also when starting failed half-way):
        # a developer's stack stays up.
        if _START.started and not os.environ.get("TICKML_KEEP_STACK"):
            _START.handle.stop(_START.started)


@pytest.fixture(scope="session")
def influx(stack):
    from tickml.influx import Influx

    return Influx()


@pytest.fixture(scope="session")
def kapacitor(stack):
    from tickml.kapacitor import Kapacitor

    return Kapacitor()


@pytest.fixture
def run_id() -> str:
    """A prefix for device ids that no other test or run uses."""
    return f"t{uuid.uuid4().hex[:8]}-"


@pytest.fixture
def secrets_folder(tmp_path, monkeypatch):
    """The stack's secrets made in a folder of the test's own (tickml.secrets pointed at it), no broker to reload."""
    from tickml import secrets

    where = tmp_path / "secrets"
    monkeypatch.setattr(secrets, "SECRETS", where)
    monkeypatch.setattr(secrets, "_CREDENTIALS", where / "credentials.json")
    monkeypatch.setattr(secrets, "_DEVICES", where / "devices.txt")
    monkeypatch.setattr(secrets, "RUN", tmp_path / "run")
    return where
