#!/usr/bin/env python3
"""Bring Kapacitor tasks back on their own once a UDF they call answers again.

Kapacitor never reconnects a socket UDF that went away (influxdata/kapacitor
#1174, #2526): the task keeps running against a dead connection, then stops
with an error at its next point or snapshot, and stays stopped until someone
enables it again. This watcher, started by the stack after Kapacitor, does
that someone's job through Kapacitor's HTTP API:

- Every ``--interval`` seconds it asks each socket UDF of kapacitor.conf for
  its Info and notes which process answered (``udfcheck.server``): a new
  process is a new server, so every connection to the old one is dead.
- A task is *broken* when it is enabled but stopped with an error, or when a
  socket UDF it calls was replaced since the task last started. When a task
  started is read off Kapacitor's own statistics (``/debug/vars``): every
  start of a task registers its nodes' statistics under new ids, so a task
  that Kapacitor restarted (its own restart, or a user's enable) is seen as
  connected to the servers that answer now, and is left alone.
- A broken task is disabled and enabled again, but only when every socket UDF
  it calls answers (enabling one whose UDF is down makes Kapacitor 1.8 panic).
  On enable Kapacitor restores the task's last snapshot; the models are on
  disk. Each recovery is logged on one line and written to InfluxDB as a
  ``task_recoveries`` point (tags ``task``; fields ``udfs``, ``down_seconds``,
  ``reason``) in the ``telemetry`` database, for the dashboards.

What is not recovered: points that reached Kapacitor while the task was down,
and the windows that were open when it stopped (see README, "When a UDF
dies").

Run: ``stack/task_watcher.py [--interval 1] [--kapacitor URL] [--influxdb URL]``
(the stack runs it as the ``task-watcher`` service; its heartbeat file says it
is alive; ``stack/systemd/tickml-task-watcher.service`` for production hosts,
with ``TICKML_KAPACITOR_CONF`` naming the host's kapacitor.conf).
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import tickstack  # noqa: E402
import udfcheck  # noqa: E402

log = logging.getLogger("task_watcher")

HEARTBEAT = tickstack.RUN / "task-watcher.heartbeat"


class Watcher:
    """One pass (:meth:`check`) looks at every UDF and task and recovers what it can."""

    def __init__(self, kapacitor, influx=None, clock=time.monotonic):
        self.kapacitor = kapacitor
        self.influx = influx
        self.clock = clock
        self.sockets = udfcheck.socket_udfs()
        self.servers: dict[str, tuple | None] = {}      # UDF -> the server process that answers, None if none
        self.seen: dict[str, dict[str, tuple | None]] = {}  # task -> the servers it was last connected to
        self.broken_since: dict[str, float] = {}
        self.incarnations: dict[str, str] = {}
        self.recoveries = 0

    def check(self) -> list[str]:
        """One pass; returns the tasks re-enabled."""
        for name, path in self.sockets.items():
            self.servers[name] = udfcheck.server(path)
        incarnations = self._incarnations()
        recovered = []
        for task in self.kapacitor.tasks():
            if task.get("status") != "enabled":
                self.seen.pop(task["id"], None)
                continue
            name = task["id"]
            if incarnations.get(name) != self.incarnations.get(name):
                # Started since the last pass: connected to the servers answering now.
                self.incarnations[name] = incarnations.get(name)
                self.seen.pop(name, None)
            reason = self._broken(name, task)
            if reason is None:
                continue
            self.broken_since.setdefault(name, self.clock())
            udfs = self._udfs_of(name)
            down = [u for u in udfs if self.servers.get(u) is None]
            if down:
                continue  # enabling now would crash Kapacitor; the next pass tries again
            self._restart(name, udfs, reason)
            recovered.append(name)
        return recovered

    def _incarnations(self) -> dict[str, str]:
        """Per task, one id of its nodes' statistics: a new id is a new start of the task."""
        found: dict[str, str] = {}
        for key, stat in self.kapacitor._call("GET", "/debug/vars").get("kapacitor", {}).items():
            task = stat.get("tags", {}).get("task")
            if task and (task not in found or key < found[task]):
                found[task] = key
        return found

    def _udfs_of(self, name: str) -> list[str]:
        script = (self.kapacitor.task(name) or {}).get("script", "")
        return sorted(udfcheck.udfs_called(script) & self.sockets.keys())

    def _broken(self, name: str, task: dict) -> str | None:
        if not task.get("executing") and task.get("error"):
            return f"stopped: {task['error']}"
        connected = self.seen.get(name)
        if connected is None:
            # First sight (or just enabled): the task talks to the servers answering now.
            self.seen[name] = {u: self.servers.get(u) for u in self._udfs_of(name)}
            return None
        replaced = [u for u, proc in connected.items() if proc is not None and self.servers.get(u) != proc]
        if replaced:
            return f"UDF {', '.join(replaced)} went away"
        # A UDF that was down when the task was first seen counts from when it answers.
        for u, proc in connected.items():
            if proc is None and self.servers.get(u) is not None:
                return f"UDF {u} was down"
        return None

    def _restart(self, name: str, udfs: list[str], reason: str) -> None:
        down_for = self.clock() - self.broken_since.pop(name)
        self.kapacitor.set_status(name, "disabled")
        self.kapacitor.enable(name)
        self.seen[name] = {u: self.servers.get(u) for u in udfs}
        self.incarnations[name] = self._incarnations().get(name)
        self.recoveries += 1
        log.warning("task %s re-enabled: %s; UDF %s answers again; noticed %.1f s ago",
                    name, reason, ", ".join(udfs) or "-", down_for)
        if self.influx is not None:
            reason_text = reason.replace("\\", "\\\\").replace('"', '\\"')
            try:
                self.influx.write(f'task_recoveries,task={name} udfs="{",".join(udfs)}",'
                                  f'down_seconds={down_for:.3f},reason="{reason_text}" {time.time_ns()}')
            except Exception as exc:  # the recovery happened; only its record is missing
                log.warning("cannot record the recovery of %s in InfluxDB: %s", name, exc)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--interval", type=float, default=1.0, help="seconds between passes")
    parser.add_argument("--kapacitor", help="Kapacitor URL (default: from kapacitor/kapacitor.conf)")
    parser.add_argument("--influxdb", help="InfluxDB URL for task_recoveries points (default: from influxdb.conf)")
    args = parser.parse_args(argv)
    logging.basicConfig(stream=sys.stderr, level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    import tasks
    from influx import Influx

    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(True))
    watcher = Watcher(tasks.Kapacitor(args.kapacitor), Influx(args.influxdb))
    HEARTBEAT.parent.mkdir(parents=True, exist_ok=True)
    log.info("watching %d socket UDFs: %s", len(watcher.sockets), ", ".join(sorted(watcher.sockets)))
    while not stop:
        try:
            watcher.check()
        except Exception as exc:  # Kapacitor restarting, say: try again next pass
            log.warning("pass failed: %s", exc)
        HEARTBEAT.write_text(str(time.time()))
        time.sleep(args.interval)
    log.info("stopping on SIGTERM after %d recoveries", watcher.recoveries)
    return 0


if __name__ == "__main__":
    sys.exit(main())
