"""A service of the native stack: its command, its ports, its health probe, its pid and log files.

What the catalog (catalog.py: which services, in data-flow order), the process
functions (process.py: start and stop one) and the runner (runner.py: start,
stop and report the whole stack) have in common; a shard's services
(shards.py) are services too.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Callable

from tickml.paths import LOGS, RUN
from tickml.stack import supervision


@dataclasses.dataclass
class Service:
    name: str
    command: list[str]
    ports: list[tuple[str, int]]
    healthy: Callable[[], bool]
    env: dict[str, str] = dataclasses.field(default_factory=dict)
    start_timeout: float = 60.0
    # From SIGTERM to SIGKILL, when the runner stops it itself.
    stop_timeout: float = 30.0
    socket_path: Path | None = None
    # Run before the process starts (e.g. format storage) and once it is
    # healthy (e.g. create topics); both must be idempotent.
    prepare: Callable[[], None] | None = None
    after_start: Callable[[], None] | None = None
    # Run by supervisord (the udf-supervisor service, or a shard's), which restarts it when it dies;
    # ``supervisor`` None is the single node's, ``program`` its name there (default: the service's).
    supervised: bool = False
    supervisor: supervision.Supervisor | None = None
    program: str | None = None
    # Where its pid file and log are (a shard's services: the shard's folders).
    run_dir: Path = RUN
    log_dir: Path = LOGS

    @property
    def pid_file(self) -> Path:
        return self.run_dir / f"{self.name}.pid"

    @property
    def log_file(self) -> Path:
        return self.log_dir / f"{self.program or self.name}.log"

    @property
    def supervised_by(self) -> supervision.Supervisor:
        return self.supervisor or supervision.udf_supervisor()

    def pid(self) -> int | None:
        """The pid of our running instance, or None (stale pid files are removed)."""
        if self.supervised:
            info = self.supervised_by.process(self.program or self.name)
            if info is None:
                # Not a program of its supervisord (yet): one a runner before supervision started, by its pid
                # file (process.stop_service stops it).
                return dataclasses.replace(self, supervised=False).pid()
            pid = info["pid"] if info["statename"] in ("STARTING", "RUNNING") else None
            self._note_pid(pid)
            return pid
        try:
            pid = int(self.pid_file.read_text())
        except (FileNotFoundError, ValueError):
            return None
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            self.pid_file.unlink(missing_ok=True)
            return None
        # A zombie of a child we no longer wait for counts as stopped.
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
            if state == "Z":
                self.pid_file.unlink(missing_ok=True)
                return None
        except (FileNotFoundError, IndexError):
            return None
        return pid

    def _note_pid(self, pid: int | None) -> None:
        """A supervised service's pid file follows what supervisord says (for readers of the file, such as the
        tests' Telegraf start time): rewritten when supervisord has started another, removed when it is down."""
        try:
            if pid is None:
                self.pid_file.unlink(missing_ok=True)
            elif not self.pid_file.exists() or self.pid_file.read_text() != str(pid):
                self.pid_file.write_text(str(pid))
        except OSError:
            pass  # a folder not made yet, or not ours to write: the file is a courtesy
