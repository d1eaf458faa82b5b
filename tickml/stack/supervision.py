"""Processes under supervisord: its configuration and its XML-RPC interface.

The single node's supervisord (the ``udf-supervisor`` service, the first the
runner starts) runs one program per socket UDF of kapacitor.conf, started with
it, and every other native service of the catalog (Mosquitto to the dashboard),
which the runner starts through it in data-flow order; it starts any of them
again within seconds when it dies. A shard (``shards``) has a supervisord of
its own, which also runs its Kapacitor, Telegraf, model materialiser and task
watcher: a ``Supervisor`` is one supervisord, its folder and its programs;
``udf_supervisor`` is the UDF servers alone (``tickml stack serve-udfs``, a
container's).
"""

from __future__ import annotations

import dataclasses
import os
import sys
import xmlrpc.client
from pathlib import Path

from tickml.paths import DATA, LOGS, ROOT, RUN, UDF_METRICS
from tickml.config import StackError, udf_sockets

# One BLAS thread: per-window algebra on small matrices gains nothing from more, and
# OpenBLAS's idle threads spin (train over 3,000 windows: 14 % less CPU with one).
PROGRAM_ENV = {"PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1", "OPENBLAS_NUM_THREADS": "1",
               "OMP_NUM_THREADS": "1"}


@dataclasses.dataclass(frozen=True)
class Program:
    """One program of a supervisord: restarted when it dies; ``autostart`` False waits for the runner."""

    name: str
    command: list[str]
    env: dict[str, str] = dataclasses.field(default_factory=dict)
    autostart: bool = True
    # Seconds from SIGTERM (to its process group) to SIGKILL.
    stop_wait: int = 20


def udf_program(module: str, path: Path, env: dict[str, str] | None = None) -> Program:
    """The socket UDF server of ``udfs.<module>`` on ``path``."""
    return Program(f"udf-{module}", [sys.executable, "-m", f"udfs.{module}", "--socket", str(path)], env or {})


@dataclasses.dataclass(frozen=True)
class Supervisor:
    """A supervisord whose socket, configuration and pid file are in ``run``, and logs in ``logs``."""

    run: Path
    logs: Path
    programs: tuple[Program, ...]

    @property
    def conf(self) -> Path:
        return self.run / "supervisord.conf"

    @property
    def socket(self) -> Path:
        return self.run / "supervisor.sock"

    def config(self) -> str:
        lines = [
            "; Written by the stack runner at every start (tickml/stack/supervision.py); edit what it is made from.",
            "[unix_http_server]", f"file={self.socket}", "chmod=0600", "",
            "[supervisord]", f"logfile={self.logs / 'udf-supervisor.log'}", f"pidfile={self.run / 'supervisord.pid'}",
            "logfile_maxbytes=10MB", "logfile_backups=2", "", "[rpcinterface:supervisor]",
            "supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface", "",
            "[supervisorctl]", f"serverurl=unix://{self.socket}", "",
        ]
        for program in self.programs:
            env = ",".join(f"{k}={_quoted(v)}" for k, v in {**PROGRAM_ENV, **program.env}.items())
            lines += [
                f"[program:{program.name}]", f"command={' '.join(program.command)}".replace("%", "%%"),
                f"directory={ROOT}", f"environment={env}",
                # Back within a second of dying; never given up on (a crash loop shows in the log).
                f"autostart={'true' if program.autostart else 'false'}", "autorestart=true", "startsecs=1",
                "startretries=1000000",
                # SIGTERM drains what a UDF connection holds (udfs/agent/server.py).
                "stopsignal=TERM", f"stopwaitsecs={program.stop_wait}", "stopasgroup=true", "killasgroup=true",
                "redirect_stderr=true", f"stdout_logfile={self.logs / f'{program.name}.log'}",
                "stdout_logfile_maxbytes=50MB", "stdout_logfile_backups=2", "",
            ]
        return "\n".join(lines)

    def write_config(self) -> None:
        from tickml.secrets import write_private  # its programs' environment may hold logins

        self.run.mkdir(parents=True, exist_ok=True)
        self.logs.mkdir(parents=True, exist_ok=True)
        write_private(self.conf, self.config())

    def update(self, name: str) -> None:
        """Program ``name`` as the configuration written now has it, as ``supervisorctl update`` does for it
        alone: supervisord rereads the file, and adds the program, or replaces it (stopped first) when it changed.
        Other programs keep running as they are."""
        self.write_config()
        api = self.api()
        try:
            added, changed, _ = api.reloadConfig()[0]
            if name in changed:
                api.stopProcessGroup(name, True)
                api.removeProcessGroup(name)
            if name in added or name in changed:
                api.addProcessGroup(name)
        except xmlrpc.client.Fault as exc:
            raise StackError(f"{name}: supervisord ({self.conf}) says {exc.faultString}") from None

    def command(self) -> list[str]:
        return [sys.executable, "-m", "supervisor.supervisord", "-n", "-c", str(self.conf)]

    def api(self):
        """supervisord's XML-RPC interface over its unix socket."""
        from supervisor.xmlrpc import SupervisorTransport

        return xmlrpc.client.ServerProxy("http://127.0.0.1", transport=SupervisorTransport(
            None, None, f"unix://{self.socket}")).supervisor

    def process(self, name: str) -> dict | None:
        """supervisord's view of program ``name`` (pid, statename, ...), or None when supervisord is not up."""
        if not self.socket.exists():
            return None
        try:
            return self.api().getProcessInfo(name)
        except (OSError, xmlrpc.client.Fault):
            return None

    def supervise(self, action: str, name: str, harmless: str, log_hint: str) -> None:
        """``startProcess`` or ``stopProcess``, waiting; the fault named ``harmless`` is no error."""
        try:
            getattr(self.api(), action)(name, True)
        except xmlrpc.client.Fault as exc:
            if harmless not in exc.faultString:
                raise StackError(f"{name}: supervisord says {exc.faultString}; see {log_hint}") from None

    def serve_foreground(self) -> None:
        """Replace this process with supervisord (for containers)."""
        self.write_config()
        command = self.command()
        os.execv(command[0], command)


def udf_supervisor() -> Supervisor:
    """The single node's: one program per socket UDF of kapacitor.conf."""
    # The model root in the state folder (TICKML_STATE_DIR), not the checkout: a second checkout serving a
    # running stack's UDFs keeps its models where the stack's are (udfs/learn/paths.py).
    # PROMETHEUS_MULTIPROC_DIR: where each server writes its counters (udfs/agent/metrics.py).
    env = {"TICKML_MODEL_ROOT": str(DATA / "models"), "PROMETHEUS_MULTIPROC_DIR": str(UDF_METRICS)}
    return Supervisor(RUN, LOGS, tuple(udf_program(m, p, env) for m, p in sorted(udf_sockets().items())))


SUPERVISOR_CONF = RUN / "supervisord.conf"
SUPERVISOR_SOCKET = RUN / "supervisor.sock"


def supervisor_config() -> str:
    return udf_supervisor().config()


def write_config() -> None:
    for path in udf_sockets().values():
        path.parent.mkdir(parents=True, exist_ok=True)
    udf_supervisor().write_config()


def supervisord_command() -> list[str]:
    return udf_supervisor().command()


def supervisor():
    return udf_supervisor().api()


def supervised_process(name: str) -> dict | None:
    return udf_supervisor().process(name)


def supervise(action: str, name: str, harmless: str, log_hint: str) -> None:
    udf_supervisor().supervise(action, name, harmless, log_hint)


def serve_foreground() -> None:
    """Replace this process with supervisord running every socket UDF server (for containers)."""
    write_config()
    udf_supervisor().serve_foreground()


def _quoted(value: str) -> str:
    """A value of supervisord's ``environment=`` as it reads it back. Its parser (shlex, not POSIX) knows no
    escapes: a value is wrapped in double quotes, or in single quotes when it holds double quotes (the device
    types' JSON does); one holding both cannot be written. supervisord expands ``%(name)s``: ``%`` is ``%%``.

    >>> from supervisor.datatypes import dict_of_key_value_pairs
    >>> dict_of_key_value_pairs("A=" + _quoted('{"a": [1, 2]}') + ",B=" + _quoted("x,y"))
    {'A': '{"a": [1, 2]}', 'B': 'x,y'}
    """
    value = str(value)
    if '"' in value and "'" in value:
        raise ValueError(f"an environment value for supervisord holds both quote characters: {value[:60]!r}")
    quote = "'" if '"' in value else '"'
    return quote + value.replace("%", "%%") + quote
