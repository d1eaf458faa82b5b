"""Fixtures for tests on the real stack.

The ``stack`` fixture starts Mosquitto, InfluxDB, the socket UDF servers,
Kapacitor and Telegraf once per test session with ``stack/tickstack.py`` (the
same runner users run), defines the task list, and stops what it started when
the session ends. A stack that already runs (a developer's) is reused and left
running. Tests isolate their data by device ids unique to the session.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def stack():
    import tickstack
    import tasks

    already = all(s.pid() is not None for s in tickstack.services())
    tickstack.start()
    kapacitor = tasks.Kapacitor()
    for task in tasks.load_tasks():
        kapacitor.define(task)
    yield tickstack
    if not already and not os.environ.get("TICKML_KEEP_STACK"):
        tickstack.stop()


@pytest.fixture(scope="session")
def influx(stack):
    from influx import Influx

    return Influx()


@pytest.fixture(scope="session")
def kapacitor(stack):
    import tasks

    return tasks.Kapacitor()


@pytest.fixture
def run_id() -> str:
    """A prefix for device ids that no other test or run uses."""
    return f"t{uuid.uuid4().hex[:8]}-"
