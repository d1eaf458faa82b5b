"""Fixtures of the agent tests: UDFs served by real subprocesses on real sockets."""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import pytest

from .udf_client import TEST_HANDLERS, SocketUdf


@pytest.fixture
def short_tmp():
    """A directory with a short path: unix socket paths are limited to ~107 bytes."""
    with tempfile.TemporaryDirectory(prefix="tickml-") as d:
        yield Path(d)


@pytest.fixture
def socket_udf(short_tmp):
    """Start a socket UDF: ``socket_udf("py_classifier")`` or ``socket_udf(handler="Sleepy")``."""
    started = []

    def start(module: str | None = None, handler: str | None = None, args: tuple[str, ...] = ()) -> SocketUdf:
        if module:
            argv = [sys.executable, "-m", f"udfs.{module}"]
            name = module
        else:
            argv = [sys.executable, str(TEST_HANDLERS), handler]
            name = handler
        udf = SocketUdf(argv + list(args), short_tmp / f"{name}.sock", short_tmp / f"{name}.stderr")
        started.append(udf)
        return udf

    yield start
    for udf in started:
        udf.stop()
