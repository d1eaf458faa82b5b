"""Start and stop one service's process, and wait until it is healthy.

A service runs in its own session with its output in ``.stack/logs/<name>.log``
and its pid in ``.stack/run/<name>.pid``; ``start_service`` waits until its
health probe passes and names the log when it does not. A supervised service
(every service of the single node but its supervisord, and a shard's) is
started and stopped through its supervisord instead.
The runner (runner.py) starts the whole stack with these; a shard (shards.py)
its own services.
"""

from __future__ import annotations

import dataclasses
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from tickml.paths import DATA, LOGS, ROOT, RUN, STATE
from tickml.stack import probes
from tickml.config import StackError
from tickml.stack.service import Service


def _wait_healthy(service: Service, proc: subprocess.Popen | None = None) -> str:
    deadline = time.monotonic() + service.start_timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            service.pid_file.unlink(missing_ok=True)
            raise StackError(
                f"{service.name} exited with code {proc.returncode} at start; last lines of {service.log_file}:\n"
                + _tail(service.log_file)
            )
        if service.healthy():
            if service.after_start is not None:
                service.after_start()
            return f"started (pid {service.pid()}{', supervised' if service.supervised else ''})"
        time.sleep(0.2)
    raise StackError(f"{service.name} not healthy after {service.start_timeout:.0f} s; see {service.log_file}")


def _supervised_start(service: Service) -> str:
    supervisor, program = service.supervised_by, service.program or service.name
    if not _answers(supervisor):
        raise StackError(f"{service.name} runs under a supervisord ({supervisor.socket}) that is not running; "
                         f"start it first")
    if service.pid() is not None:
        if service.healthy():
            if service.after_start is not None:
                service.after_start()
            return "already running"
    else:
        _check_can_start(service)
    if service.prepare is not None:
        service.prepare()
    # What its prepare computed (logins from the secrets) is in the configuration supervisord starts it from.
    supervisor.update(program)
    supervisor.supervise("startProcess", program, "ALREADY_STARTED", str(service.log_file))
    return _wait_healthy(service)


def _answers(supervisor) -> bool:
    try:
        supervisor.api().getState()
        return True
    except OSError:
        return False


def _check_can_start(service: Service) -> None:
    """Its ports free and its program there: a clear error rather than a start that never gets healthy."""
    for host, port in service.ports:
        if probes.port_in_use(host, port):
            raise StackError(
                f"{service.name}: port {host}:{port} is in use by another process; "
                f"stop it or change the port in the configuration file"
            )
    executable = service.command[0] if service.command else None
    if executable is not None and not (os.path.isfile(executable) and os.access(executable, os.X_OK)):
        raise StackError(f"{service.name}: {executable} is missing; run stack/install.sh first")


def child_env(extra: dict[str, str]) -> dict[str, str]:
    """The environment a service runs in: ours, ``extra``, the project on PYTHONPATH, this venv first on PATH."""
    env = {**os.environ, **extra, "PYTHONUNBUFFERED": "1"}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    # Kapacitor starts the process UDFs as `python3 -m udfs.<name>`: this
    # interpreter's folder first, so that is the project's virtual environment.
    env["PATH"] = os.pathsep.join(filter(None, [os.path.dirname(sys.executable), env.get("PATH")]))
    return env


def start_service(service: Service) -> str:
    if service.supervised:
        return _supervised_start(service)
    if service.pid() is not None:
        if service.healthy():
            if service.after_start is not None:
                service.after_start()
            return "already running"
        raise StackError(f"{service.name} runs (pid {service.pid()}) but is not healthy; see {service.log_file}")
    _check_can_start(service)
    for folder in (LOGS, RUN, DATA, service.run_dir, service.log_dir):
        folder.mkdir(parents=True, exist_ok=True)
    if service.prepare is not None:
        service.prepare()
    if service.socket_path is not None:
        service.socket_path.parent.mkdir(parents=True, exist_ok=True)
    with service.log_file.open("ab") as log:
        log.write(f"\n=== {time.strftime('%Y-%m-%dT%H:%M:%S')} starting {' '.join(service.command)}\n".encode())
        log.flush()
        proc = subprocess.Popen(
            service.command,
            cwd=ROOT,
            env=child_env(service.env),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    service.pid_file.write_text(str(proc.pid))
    return _wait_healthy(service, proc)


def stop_service(service: Service, timeout: float | None = None) -> str:
    timeout = service.stop_timeout if timeout is None else timeout
    if service.supervised:
        legacy = _stop_unsupervised(service, timeout)
        if service.pid() is None:
            return "stopped" if legacy else "not running"
        service.supervised_by.supervise("stopProcess", service.program or service.name, "NOT_RUNNING",
                                        str(service.log_file))
        _wait_ports_free(service)
        return "stopped"
    pid = service.pid()
    if pid is None:
        return "not running"
    try:
        os.killpg(pid, signal.SIGTERM)
    except ProcessLookupError:
        pass
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and service.pid() is not None:
        _reap(pid)
        time.sleep(0.1)
    if service.pid() is not None:
        os.killpg(pid, signal.SIGKILL)
        _reap(pid)
        time.sleep(0.2)
    service.pid_file.unlink(missing_ok=True)
    if service.socket_path is not None:
        service.socket_path.unlink(missing_ok=True)
    _wait_ports_free(service)
    return "stopped"


def _wait_ports_free(service: Service) -> None:
    # A threaded process's leader shows as a zombie while its other threads, holding its sockets, still
    # exit: a restart right away found the port in use (the dashboard's waitress threads).
    deadline = time.monotonic() + 5.0
    while time.monotonic() < deadline and any(probes.port_in_use(h, p) for h, p in service.ports):
        time.sleep(0.05)


def _stop_unsupervised(service: Service, timeout: float) -> bool:
    """A service a runner before supervision started (its pid file; its supervisord knows no such program) is
    stopped too; True when there was one."""
    if service.supervised_by.process(service.program or service.name) is not None:
        return False
    legacy = dataclasses.replace(service, supervised=False)
    if legacy.pid() is None:
        return False
    stop_service(legacy, timeout)
    return True


def _reap(pid: int) -> None:
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass


def _tail(path: Path, lines: int = 20) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except FileNotFoundError:
        return "(no log)"


def private_state() -> None:
    """What the services write (data, logs, sockets, pid files) is their owner's alone: umask 077 for this process
    and the services it starts, and the state folder 0700, so that another local user reads none of it."""
    os.umask(0o077)
    STATE.mkdir(parents=True, exist_ok=True)
    STATE.chmod(0o700)
