"""Fixtures for tests on the real stack.

The ``stack`` fixture starts Mosquitto, InfluxDB, the socket UDF servers,
Kapacitor and Telegraf once per test session with ``tickml stack`` (the
same runner users run), defines the task list, and stops the services it started
when the session ends. The start begins as soon as collection shows a test
that needs the stack, as commands of their own, so the unit tests
(stack/test.sh runs them first) run while the services come up. Services that already ran (a developer's stack) are
reused and left running. Tests isolate their data by device ids unique to the session.

Side by side (stack/test.sh runs pytest-xdist workers, each a process of its own): the first worker to need the
stack starts it, under a lock, and writes what it started to a file of the session's; the others find it there
and wait for the same start; the session's controller stops what was started once every worker is done. A module
runs on one worker (``--dist loadfile``). A test marked ``serial`` (it stops, restarts or kills a service the others
use) runs with no other test on the stack; one marked ``exclusive(name)`` with no other test holding that name
(fixed ports, a task that reads every device's results): tests/stackturns.py.

The tasks are defined with a flush interval of 1 s (``TICKML_FLUSH_INTERVAL``,
tickml/tasks.py): a task's result is in InfluxDB a second after it comes out,
not up to Kapacitor's default 10 s, so tests wait on it rather than sit out
the flush. The variable stays set for the session, so that what the tests
define too (the shards' tasks, ``tickml tasks define`` run by a test) keeps it.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import subprocess
import sys
import threading
import types
import uuid
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# The session's id, set by the process pytest was started as and inherited by its xdist workers.
SESSION_ENV = "TICKML_TEST_SESSION"


def _stack_handle() -> types.SimpleNamespace:
    """What the tests reach the stack by (the ``stack`` fixture): its folders and the runner's calls."""
    from tickml import paths
    from tickml.stack import catalog, process, runner, supervision

    return types.SimpleNamespace(
        ROOT=paths.ROOT, BIN=paths.BIN, LOGS=paths.LOGS, RUN=paths.RUN, services=catalog.services,
        start=runner.start, stop=runner.stop,
        start_service=process.start_service, stop_service=process.stop_service,
        supervised_process=supervision.supervised_process)


def _session_folder() -> Path:
    from tickml import paths

    return paths.RUN / "tests" / os.environ[SESSION_ENV]


def _is_worker(config) -> bool:
    return hasattr(config, "workerinput")


class _Start:
    """The stack's start, begun as soon as the session knows a test needs it, so that the unit tests (which
    run first) run meanwhile.

    The first process of the session to get here starts it and writes ``started.json`` (the services it found
    stopped, which the session stops at its end, and the error if the start failed); a process that comes later
    (another xdist worker) waits on the lock and reads the file. The runner runs as a command of its own
    (``tickml stack start``, then ``tickml tasks define``), not in a thread of this process: unit tests patch
    the tools' modules (the secrets' folder, the configuration's paths), which a thread here would read half-way
    through its start."""

    def __init__(self):
        self.handle = _stack_handle()
        # Read here, before the unit tests run beside the thread (they patch the runner's folders).
        self.stopped = [s.name for s in self.handle.services() if s.pid() is None]
        self.thread = threading.Thread(target=self._run, name="stack-start", daemon=True)
        self.error: str | None = None
        self.thread.start()

    def _run(self) -> None:
        folder = _session_folder()
        folder.mkdir(parents=True, exist_ok=True)
        record = folder / "started.json"
        with open(folder / "start.lock", "a+") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            if not record.exists():
                record.write_text(json.dumps({"started": self.stopped, "error": self._start()}))
        self.error = json.loads(record.read_text())["error"]

    @staticmethod
    def _start() -> str | None:
        for command in (["stack", "start"], ["tasks", "define"]):
            done = subprocess.run([sys.executable, "-m", "tickml", *command], cwd=ROOT, capture_output=True,
                                  text=True)
            if done.returncode != 0:
                return f"tickml {' '.join(command)} exited with {done.returncode}:\n{done.stdout}{done.stderr}"
        return None


_START: _Start | None = None
_TURNS = None


def pytest_configure(config):
    from tickml import tasks

    from stackutil import FLUSH_INTERVAL

    if not _is_worker(config):
        os.environ[SESSION_ENV] = uuid.uuid4().hex[:12]
    os.environ.setdefault(tasks.FLUSH_INTERVAL_ENV, FLUSH_INTERVAL)


# The longest modules on the stack, started first among them so that none is left running alone at the end of a
# run side by side (stack/test.sh). Only an order: a module missing here runs in its place.
LONGEST_FIRST = ("test_dashboard.py", "test_shards.py", "test_bench_alerts.py", "test_learning.py")


def pytest_collection_modifyitems(config, items):
    """The unit tests first, as collected (they run while the stack starts), then the tests on the stack: the
    longest modules first, then the modules without a serial test, the modules with one last. stack/test.sh
    keeps this order across its workers (``--no-loadscope-reorder``).

    Why the serial modules last: a serial test takes the stack from every worker, and a shared module caught
    half-way behind it (its first tests run, the rest wait) then ran alone at the end: in a run with
    test_udf_recovery (95 s alone) last but one, test_task_list's remaining 30 s ran after it with two workers
    idle. Last, they run one after the other with nothing of the others left to wait for them.

    A test marked ``stack`` that asks for no fixture of it (it runs a ``tickml`` command) gets the ``stack``
    fixture, so that it waits for the start and takes its turn: without it, one asked Kapacitor while a serial
    test had killed it."""
    for item in items:
        if item.get_closest_marker("stack") is not None and "stack" not in item.fixturenames:
            item.fixturenames.append("stack")
    serial = {item.path for item in items if item.get_closest_marker("serial") is not None}

    def rank(item):
        # By folder, not by fixture: a module's tests keep their order (a test without the stack fixture may
        # come after others in its module that set up what it shares with them).
        if item.path.parent.name != "integration":
            return 0
        name = item.path.name
        if name in LONGEST_FIRST:
            return 1 + LONGEST_FIRST.index(name)
        return 1 + len(LONGEST_FIRST) + (item.path in serial)

    items.sort(key=rank)  # stable: the order within each rank is collection's


def pytest_collection_finish(session):
    global _START
    if _START is None and any("stack" in item.fixturenames for item in session.items):
        _START = _Start()


def _turn_key(item) -> tuple | None:
    """What a test on the stack takes: (serial, the names it holds exclusively); None off the stack."""
    if item is None or "stack" not in item.fixturenames:
        return None
    return (item.get_closest_marker("serial") is not None,
            tuple(sorted({name for mark in item.iter_markers("exclusive") for name in mark.args})))


# The turn a serial test took and kept for the next test of its module (``pytest_runtest_protocol``).
_KEPT: tuple[str, tuple, contextlib.ExitStack] | None = None


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item, nextitem):
    """A test on the stack takes its turn (setup, call and teardown): shared, or alone if it is serial; and first
    whatever it holds exclusively (``exclusive(name, ...)``), waited for outside the turn.

    A serial test followed by another serial test of its module holding the same names keeps its turn for it:
    every turn alone first waits for the tests running beside it to end, and a module of fifteen serial tests
    waited fifteen times while the other workers stood idle at the turnstile."""
    global _TURNS, _KEPT
    key = _turn_key(item)
    if key is None:
        yield
        return
    if _TURNS is None:
        from stackturns import StackTurns

        _TURNS = StackTurns(_session_folder())
    module = str(item.path)
    if _KEPT is not None and _KEPT[:2] == (module, key):
        turn = _KEPT[2]
    else:
        if _KEPT is not None:  # kept for a test that did not come (deselected, or the run stopped): give it back
            _KEPT[2].close()
        turn = contextlib.ExitStack()
        turn.enter_context(_TURNS.holding(list(key[1])))
        turn.enter_context(_TURNS.alone() if key[0] else _TURNS.shared())
    _KEPT = None
    try:
        yield
    finally:
        if key[0] and nextitem is not None and str(nextitem.path) == module and _turn_key(nextitem) == key:
            _KEPT = (module, key, turn)
        else:
            turn.close()


def pytest_sessionfinish(session):
    """Stop what the session started (also when starting failed half-way): a developer's stack stays up. Only the
    process pytest was started as, once its workers are done."""
    import shutil

    if _is_worker(session.config) or SESSION_ENV not in os.environ:
        return
    if _START is not None:
        _START.thread.join()
    folder = _session_folder()
    record = folder / "started.json"
    try:
        started = json.loads(record.read_text())["started"] if record.exists() else []
        if started and not os.environ.get("TICKML_KEEP_STACK"):
            _stack_handle().stop(started)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="session")
def stack():
    global _START
    if _START is None:  # collected by a hook that did not see it (a plugin's run): start now
        _START = _Start()
    _START.thread.join()
    if _START.error is not None:
        raise RuntimeError(_START.error)
    return _START.handle


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
