"""The socket UDF servers under supervisord: its configuration and its XML-RPC interface.

supervisord (``udf-supervisor``) runs one program per socket UDF of
kapacitor.conf and starts one again within a second when it dies; the
runner starts, stops and asks about each (``udf-<module>``) through it.
"""

from __future__ import annotations

import os
import sys
import xmlrpc.client

from tickml.paths import DATA, LOGS, ROOT, RUN, UDF_METRICS
from tickml.stack.config import StackError, udf_sockets

SUPERVISOR_CONF = RUN / "supervisord.conf"
SUPERVISOR_SOCKET = RUN / "supervisor.sock"


def supervisor_config() -> str:
    """supervisord's configuration: one program per socket UDF of kapacitor.conf, restarted when it dies."""
    # One BLAS thread: per-window algebra on small matrices gains nothing from more, and
    # OpenBLAS's idle threads spin (train over 3,000 windows: 14 % less CPU with one).
    # PROMETHEUS_MULTIPROC_DIR: where each server writes its counters (udfs/agent/metrics.py).
    # The model root in the state folder (TICKML_STATE_DIR), not the checkout: a second checkout serving a
    # running stack's UDFs keeps its models where the stack's are (udfs/learn/paths.py).
    env = ",".join(f'{k}="{v}"' for k, v in (("PYTHONPATH", str(ROOT)), ("PYTHONUNBUFFERED", "1"),
                                             ("OPENBLAS_NUM_THREADS", "1"), ("OMP_NUM_THREADS", "1"),
                                             ("TICKML_MODEL_ROOT", str(DATA / "models")),
                                             ("PROMETHEUS_MULTIPROC_DIR", str(UDF_METRICS))))
    lines = [
        "; Written by the stack runner from kapacitor/kapacitor.conf at every start; edit that file instead.",
        "[unix_http_server]", f"file={SUPERVISOR_SOCKET}", "chmod=0600", "",
        "[supervisord]", f"logfile={LOGS / 'udf-supervisor.log'}", f"pidfile={RUN / 'supervisord.pid'}",
        "logfile_maxbytes=10MB", "logfile_backups=2", "", "[rpcinterface:supervisor]",
        "supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface", "",
        "[supervisorctl]", f"serverurl=unix://{SUPERVISOR_SOCKET}", "",
    ]
    for module, path in sorted(udf_sockets().items()):
        lines += [
            f"[program:udf-{module}]",
            f"command={sys.executable} -m udfs.{module} --socket {path}",
            f"directory={ROOT}", f"environment={env}",
            # Back within a second of dying; never given up on (a crash loop shows in the log).
            "autostart=true", "autorestart=true", "startsecs=1", "startretries=1000000",
            # SIGTERM drains what a connection holds (udfs/agent/server.py).
            "stopsignal=TERM", "stopwaitsecs=20", "stopasgroup=true", "killasgroup=true",
            "redirect_stderr=true", f"stdout_logfile={LOGS / f'udf-{module}.log'}",
            "stdout_logfile_maxbytes=50MB", "stdout_logfile_backups=2", "",
        ]
    return "\n".join(lines)


def write_config() -> None:
    for path in udf_sockets().values():
        path.parent.mkdir(parents=True, exist_ok=True)
    SUPERVISOR_CONF.write_text(supervisor_config())


def supervisord_command() -> list[str]:
    return [sys.executable, "-m", "supervisor.supervisord", "-n", "-c", str(SUPERVISOR_CONF)]


def supervisor():
    """supervisord's XML-RPC interface over its unix socket."""
    from supervisor.xmlrpc import SupervisorTransport

    return xmlrpc.client.ServerProxy("http://127.0.0.1", transport=SupervisorTransport(
        None, None, f"unix://{SUPERVISOR_SOCKET}")).supervisor


def supervised_process(name: str) -> dict | None:
    """supervisord's view of program ``name`` (pid, statename, ...), or None when supervisord is not up."""
    if not SUPERVISOR_SOCKET.exists():
        return None
    try:
        return supervisor().getProcessInfo(name)
    except (OSError, xmlrpc.client.Fault):
        return None


def supervise(action: str, name: str, harmless: str, log_hint: str) -> None:
    """``startProcess`` or ``stopProcess`` through supervisord, waiting; the fault named ``harmless`` is no error."""
    try:
        getattr(supervisor(), action)(name, True)
    except xmlrpc.client.Fault as exc:
        if harmless not in exc.faultString:
            raise StackError(f"{name}: supervisord says {exc.faultString}; see {log_hint}") from None


def serve_foreground() -> None:
    """Replace this process with supervisord running every socket UDF server (for containers)."""
    LOGS.mkdir(parents=True, exist_ok=True)
    RUN.mkdir(parents=True, exist_ok=True)
    write_config()
    command = supervisord_command()
    os.execv(command[0], command)
