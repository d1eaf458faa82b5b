"""The stack runner's own behaviour: health, status, and a port already taken."""

from __future__ import annotations

import socket
import subprocess
import sys

import pytest

from tickml.config import StackError
from tickml.stack.catalog import services
from tickml.stack.process import start_service
from tickml.stack.service import Service

from stackutil import wait_until

pytestmark = pytest.mark.stack


def test_status_reports_every_service_running(stack):
    # Beside the other tests a device registers now and then, and Telegraf, rereading its configuration,
    # is unhealthy (its listeners closed) for a second or two: status is right to say so, and must say
    # running again once the reload is over.
    runs = []

    def all_running() -> bool:
        runs.append(subprocess.run(
            [sys.executable, "-m", "tickml", "stack", "status"], capture_output=True, text=True))
        return runs[-1].returncode == 0

    try:
        wait_until(all_running, timeout=30, interval=1, what="every service running")
    except AssertionError:
        pass
    result = runs[-1]
    assert result.returncode == 0, result.stdout + result.stderr
    for service in services():
        line = next(l for l in result.stdout.splitlines() if l.startswith(service.name + " "))
        assert "running (pid" in line


def _state_in(folder, monkeypatch) -> dict:
    """Pid files and logs of the services these tests make go to ``folder``: the folders the runner makes,
    and a service's own (its fields; pass what this returns to ``Service``)."""
    from tickml.stack import process

    monkeypatch.setattr(process, "RUN", folder)
    monkeypatch.setattr(process, "LOGS", folder)
    return {"run_dir": folder, "log_dir": folder}


def test_a_port_in_use_is_a_clear_error_not_a_hang(tmp_path, monkeypatch):
    folders = _state_in(tmp_path, monkeypatch)
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        port = squatter.getsockname()[1]
        service = Service(
            "squatted", [sys.executable, "-c", "import time; time.sleep(60)"], [("127.0.0.1", port)], lambda: False,
            **folders)
        with pytest.raises(StackError, match=rf"squatted: port 127.0.0.1:{port} is in use by another process"):
            start_service(service)
    assert not (tmp_path / "squatted.pid").exists()


def test_a_service_that_dies_at_start_reports_its_log(tmp_path, monkeypatch):
    folders = _state_in(tmp_path, monkeypatch)
    service = Service(
        "crasher", [sys.executable, "-c", "import sys; print('bad config line 3'); sys.exit(2)"], [], lambda: False,
        **folders)
    with pytest.raises(StackError, match=r"(?s)crasher exited with code 2 at start.*bad config line 3"):
        start_service(service)
    assert "bad config line 3" in (tmp_path / "crasher.log").read_text()
