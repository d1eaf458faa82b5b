"""Nothing stays down: every service of the single node runs under supervisord, which starts it again when it dies.

kill -9 of kapacitord and of Telegraf (their whole process groups, as the kernel's OOM killer or a crash would
leave them): ``tickml stack status`` exits 0 again within 15 s, with another pid, and every task that was executing
executes again. Nothing here starts them: the runner is not called.

And supervisord's side of a start, on a supervisord of the test's own: the environment a program's prepare hook
computes (Telegraf's and Kapacitor's logins) is what the program starts with, also when supervisord already ran it
with another (``Supervisor.update``).
"""

from __future__ import annotations

import collections
import os
import signal
import subprocess
import sys
import time

import pytest

from stackutil import wait_until
from tickml.stack import probes, process
from tickml.stack.catalog import services
from tickml.stack.service import Service
from tickml.stack.supervision import Program, Supervisor

RECOVERY_SECONDS = 15


def _executing(kapacitor) -> set[str]:
    return {t["id"] for t in kapacitor.tasks() if t["status"] == "enabled" and t["executing"]}


@pytest.mark.stack
@pytest.mark.serial
@pytest.mark.parametrize("name", ["kapacitor", "telegraf"])
def test_a_killed_service_is_back_and_status_says_so_within_15_s(stack, kapacitor, name):
    service = next(s for s in services() if s.name == name)
    assert service.supervised
    wait_until(lambda: subprocess.run([sys.executable, "-m", "tickml", "stack", "status"],
                                      capture_output=True).returncode == 0, timeout=30, what="every service running")
    executing = _executing(kapacitor)
    assert executing, "no task executing before the kill"
    old = service.pid()
    os.killpg(old, signal.SIGKILL)
    killed = time.monotonic()

    def back():
        status = subprocess.run([sys.executable, "-m", "tickml", "stack", "status"], capture_output=True, text=True)
        if status.returncode != 0 or service.pid() in (None, old):
            return None
        try:
            return executing <= _executing(kapacitor) and status.stdout
        except Exception:  # Kapacitor not answering yet
            return None

    out = wait_until(back, timeout=RECOVERY_SECONDS, interval=0.5, what=f"{name} back, every task executing")
    line = next(l for l in out.splitlines() if l.startswith(name + " "))
    assert f"running (pid {service.pid()})" in line
    assert time.monotonic() - killed <= RECOVERY_SECONDS


def test_a_program_starts_with_the_environment_its_prepare_hook_computed(tmp_path):
    script = tmp_path / "show.py"
    script.write_text("import os, time\nprint('LOGIN=' + os.environ['LOGIN'], flush=True)\ntime.sleep(600)\n")
    env: dict[str, str] = {"LOGIN": "none yet"}
    program = Program("shower", [sys.executable, str(script)], collections.ChainMap(env, {}), autostart=False)
    supervisor = Supervisor(tmp_path, tmp_path, (program,))
    supervisor.write_config()
    assert oct(supervisor.conf.stat().st_mode & 0o777) == "0o600"  # the environment may hold logins
    daemon = subprocess.Popen(supervisor.command(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_until(lambda: probes.unix_open(supervisor.socket), timeout=20, interval=0.1, what="supervisord")
        service = Service("shower", program.command, [], lambda: True, env=env, supervised=True,
                          supervisor=supervisor, run_dir=tmp_path, log_dir=tmp_path,
                          prepare=lambda: env.update(LOGIN="first"))
        log = tmp_path / "shower.log"
        assert process.start_service(service).startswith("started")
        wait_until(lambda: "LOGIN=first" in log.read_text(), timeout=10, interval=0.1, what="the first login")
        first = service.pid()
        assert (tmp_path / "shower.pid").read_text() == str(first)  # for readers of pid files
        # supervisord runs it again when it dies, with the same environment.
        os.killpg(first, signal.SIGKILL)
        wait_until(lambda: service.pid() not in (None, first) and log.read_text().count("LOGIN=first") == 2,
                   timeout=10, interval=0.1, what="another process, with the first login")
        assert process.stop_service(service) == "stopped"
        assert service.pid() is None and not (tmp_path / "shower.pid").exists()
        # A changed login (a rotation) is what the next start gets, though supervisord read the old one.
        service.prepare = lambda: env.update(LOGIN="second")
        process.start_service(service)
        wait_until(lambda: "LOGIN=second" in log.read_text(), timeout=10, interval=0.1, what="the second login")
        process.stop_service(service)
    finally:
        daemon.terminate()
        daemon.wait(30)
