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

Each enabled task that stops without being told to is reported as a
``task_state`` point (tag ``task``; fields ``state`` stopped or running,
``reason``) into Kapacitor's ``_kapacitor`` stream when a pass first sees it
stopped and when a pass first sees it running again;
``tick_scripts/task_health.tick`` alerts on them.

A task that fails again as it starts (a snapshot it cannot restore, say) is
re-enabled after 1, 2, 4 ... up to 60 s, until a pass sees it running; its
gap is filled once it runs, by one copy at a time. A task the watcher
disabled to restart but could not enable (its UDF went down again in
between) stays the watcher's to enable, though Kapacitor says disabled; a
gap copy it could not delete (Kapacitor restarting) is deleted at a later
pass, as is any gap copy no thread of this watcher runs.

The gap is filled: a window's length after re-enabling a stream task, the
watcher reads what InfluxDB holds of the measurements the task reads, from
two window lengths before the last pass that saw the task healthy to a
window's length after the re-enable, and feeds it, with the points' own
times, to a temporary copy of the task that listens on a retention policy of
its own (``GAP_RP``) and writes where the task writes, only outputs stamped
from a window's length before that last healthy pass (a window may have been
in flight when the UDF died); so the windows of the gap, and those the
re-enabled task began without their earlier points, are written whole, as
if the task had never stopped. The copy is deleted once it has handled
everything. Each fill
is logged and written as a ``task_gap_fills`` point (fields ``seconds``,
``points``, and ``rewrote_from``/``rewrote_to``: the ns range of the outputs
the copy writes). Kapacitor's own replay
of a query would do the same (``tickml history repair`` uses it for a range
given by hand), but Kapacitor 1.8.3 panics when a replay starts a task whose
socket UDF does not answer (a nil ``udf.(*Server)``: its snapshotter, or
``Abort`` when the replay stops it), and a gap is first seen just then.
What a copy cannot give back: the state a stateful UDF had built (moving
averages, the trainer's fleet evidence) starts afresh in it.

A shard's watcher (``--no-gap-fill``) re-enables tasks but fills no gaps:
InfluxDB holds every shard's devices, and a copy fed from it would compute,
and write, the windows of devices another shard owns.

Run: ``tickml watch [--interval 1] [--kapacitor URL] [--influxdb URL] [--heartbeat PATH] [--no-gap-fill]``
(the stack runs it as the ``task-watcher`` service; its heartbeat file says it
is alive; ``stack/systemd/tickml-task-watcher.service`` for production hosts,
with ``TICKML_KAPACITOR_CONF`` naming the host's kapacitor.conf).
"""

from __future__ import annotations

import argparse
import logging
import re
import signal
import sys
import threading
import time
from pathlib import Path

from tickml.kapacitor import Kapacitor
from tickml import tickscript, udfcheck
from tickml.paths import RUN

log = logging.getLogger("task_watcher")

HEARTBEAT = RUN / "task-watcher.heartbeat"


class Watcher:
    """One pass (:meth:`check`) looks at every UDF and task and recovers what it can."""

    def __init__(self, kapacitor, influx=None, clock=time.monotonic, fill_gaps: bool = True):
        self.kapacitor = kapacitor
        self.influx = influx
        self.fill_gaps = fill_gaps
        self.clock = clock
        self.sockets = udfcheck.socket_udfs()
        self.servers: dict[str, tuple | None] = {}      # UDF -> the server process that answers, None if none
        self.seen: dict[str, dict[str, tuple | None]] = {}  # task -> the servers it was last connected to
        self.broken_since: dict[str, float] = {}
        self.healthy_at: dict[str, int] = {}  # task -> wall time (ns) of the last pass that saw it healthy
        self.incarnations: dict[str, str] = {}
        self.recoveries = 0
        # A task re-enabled whose gap is filled once it is seen healthy again (a task that fails as it starts,
        # on a snapshot it cannot restore say, would otherwise start a copy at every pass): task -> (from, to).
        self.gaps: dict[str, tuple[int, int]] = {}
        self.filling: dict[str, threading.Thread] = {}
        # Re-enables of a task that fails again before a pass sees it healthy are spaced out (1, 2, 4 ... 60 s).
        self.retries: dict[str, int] = {}
        self.next_try: dict[str, float] = {}
        self.stopped: set[str] = set()  # tasks reported stopped (a task_state point), not yet seen running again
        # Tasks this watcher disabled to restart and has not enabled yet (the enable failed: a UDF went down again
        # in between): still the watcher's to enable, though Kapacitor says disabled.
        self.reenabling: set[str] = set()
        # The gap copies this watcher's threads run now; any other task named as a gap copy is left over (a delete
        # that failed while Kapacitor restarted, a watcher that died) and is deleted at the next pass.
        self.copies: set[str] = set()

    def check(self) -> list[str]:
        """One pass; returns the tasks re-enabled."""
        for name, path in self.sockets.items():
            self.servers[name] = udfcheck.server(path)
        incarnations = self._incarnations()
        pass_started = time.time_ns()
        recovered = []
        tasks = self.kapacitor.tasks()
        self.reenabling &= {t["id"] for t in tasks}  # one deleted meanwhile is nobody's to enable
        for task in tasks:
            name = task["id"]
            if GAP_SUFFIX in name:
                if name not in self.copies:
                    self._delete_left_over(name)
                continue  # a copy filling a gap: it lives a few seconds
            if task.get("status") != "enabled" and name not in self.reenabling:
                self.seen.pop(name, None)
                continue
            if incarnations.get(name) != self.incarnations.get(name):
                # Started since the last pass: connected to the servers answering now.
                self.incarnations[name] = incarnations.get(name)
                self.seen.pop(name, None)
            reason = "its re-enable failed" if name in self.reenabling else self._broken(name, task)
            if reason is None:
                self.healthy_at[name] = pass_started
                self.retries.pop(name, None)
                if name in self.stopped:
                    self.stopped.discard(name)
                    self._report(name, "running", "")
                self._fill_pending(name)
                continue
            self.broken_since.setdefault(name, self.clock())
            if name not in self.stopped:
                self.stopped.add(name)
                self._report(name, "stopped", reason)
            if self.clock() < self.next_try.get(name, 0.0):
                continue
            udfs = self._udfs_of(name)
            down = [u for u in udfs if self.servers.get(u) is None]
            if down:
                continue  # enabling now would crash Kapacitor; the next pass tries again
            if self._restart(name, udfs, reason):
                recovered.append(name)
        return recovered

    def _delete_left_over(self, copy: str) -> None:
        try:
            self.kapacitor.delete(copy)
            log.warning("deleted gap copy %s, left over by an earlier delete that failed", copy)
        except Exception as exc:  # the next pass tries again
            log.warning("cannot delete left-over gap copy %s: %s", copy, exc)

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

    def _restart(self, name: str, udfs: list[str], reason: str) -> bool:
        """Disable and enable ``name``; False when the enable failed (it is tried again at a later pass)."""
        self.reenabling.add(name)
        tries = self.retries[name] = self.retries.get(name, 0) + 1
        self.next_try[name] = self.clock() + min(60.0, 2.0 ** (tries - 1))
        try:
            self.kapacitor.set_status(name, "disabled")
            self.kapacitor.enable(name)
        except Exception as exc:
            log.warning("task %s not re-enabled yet (%s): %s", name, reason, exc)
            return False
        self.reenabling.discard(name)
        down_for = self.clock() - self.broken_since.pop(name)
        enabled_at = time.time_ns()
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
        since = self.healthy_at.get(name)
        if since is not None and self.fill_gaps:
            earlier = self.gaps.get(name)
            self.gaps[name] = (min(since, earlier[0]) if earlier else since, enabled_at)
        return True

    def _report(self, name: str, state: str, reason: str) -> None:
        """A ``task_state`` point into Kapacitor's own statistics stream (``_kapacitor``), where
        tick_scripts/task_health.tick alerts on it and kapacitor_stats copies it to InfluxDB: an enabled task
        that stopped without being told to (a task disabled or deleted on purpose is never reported)."""
        from tickml.influx import line

        try:
            self.kapacitor.write(line("task_state", {"task": name}, {"state": state, "reason": reason},
                                      time.time_ns()), database="_kapacitor", rp="autogen")
        except Exception as exc:  # the watcher goes on; only the record (and its alert) is missing
            log.warning("cannot report task %s %s: %s", name, state, exc)

    def _fill_pending(self, name: str) -> None:
        """Fill the gap of a task seen healthy after its re-enable, unless a copy of it is still filling one."""
        running = self.filling.get(name)
        if name not in self.gaps or (running is not None and running.is_alive()):
            return
        since, until = self.gaps.pop(name)
        try:
            thread = self.fill_gap(name, since, until)
            if thread is not None:
                self.filling[name] = thread
        except Exception as exc:  # the task runs again; only its gap stays open
            log.warning("cannot fill the gap of %s: %s", name, exc)

    def fill_gap(self, name: str, since_ns: int, until_ns: int) -> threading.Thread | None:
        """Fill a stream task's gap with a temporary copy of it, in a thread; the thread."""
        task = self.kapacitor.task(name) or {}
        script, task_vars = task.get("script", ""), task.get("vars") or {}
        if task.get("type") != "stream" or self.influx is None \
                or gap_query(script, since_ns, until_ns, task_vars) is None:
            return None
        thread = threading.Thread(target=self._fill, args=(name, script, task_vars, since_ns, until_ns), daemon=True)
        thread.start()
        return thread

    def _fill(self, name: str, script: str, task_vars: dict, since_ns: int, until_ns: int) -> None:
        # The re-enabled task starts its windows afresh: the ones that end within a window's
        # length after the re-enable hold only the points it saw since. Waiting that long lets
        # the copy write them whole, after the task wrote them partial.
        longest = window_length(script, task_vars)
        time.sleep(longest / 1e9 + 2.0)
        from tickml.influx import line

        end = until_ns + longest
        # A window that closed just before the break may have been in flight to the UDF when it
        # died, after the last pass that saw the task healthy: the copy rewrites a window's
        # length before that too (from whole windows, with the same values where they were written).
        start = since_ns - longest
        points = self.influx.points(gap_query(script, start, end, task_vars))
        if not points:
            return
        copy = f"{name}{GAP_SUFFIX}{until_ns}"
        self.copies.add(copy)
        database = _DBRP.search(script).group(1)
        try:
            self.kapacitor._call("POST", "/tasks", {"id": copy, "type": "stream", "status": "disabled", "vars": task_vars,
                                                     "script": gap_script(script, database, start, end)})
            self.kapacitor.enable(copy)
            self.kapacitor.write("\n".join(line(*p) for p in points), database, GAP_RP)
            seconds = (until_ns - since_ns) / 1e9
            log.warning("task %s: %d points around its %.1f s gap fed to %s, which rewrites outputs in (%d, %d]",
                        name, len(points), seconds, copy, start, end)
            self.influx.write(f'task_gap_fills,task={name} seconds={seconds:.3f},points={len(points)}i,'
                              f'rewrote_from={start}i,rewrote_to={end}i {time.time_ns()}')
        except Exception as exc:  # the task runs again; only its gap stays open
            log.warning("cannot fill the gap of %s: %s", name, exc)
        finally:
            self._retire(copy, flush_seconds(task_vars) + 1.0)

    def _retire(self, copy: str, flush: float, quiet: float = 2.0) -> None:
        """Delete a gap copy once its counters stopped moving and its output had time to flush (``flush``
        seconds: its influxDBOut's interval and a margin)."""
        try:
            last, still = None, 0.0
            while still < quiet:
                time.sleep(0.5)
                stats = (self.kapacitor.task(copy) or {}).get("stats", {}).get("node-stats", {})
                now = sorted((node, v.get("collected"), v.get("emitted")) for node, v in stats.items())
                still = still + 0.5 if now == last else 0.0
                last = now
            time.sleep(flush)
        finally:
            try:
                self.kapacitor.delete(copy)
            except Exception as exc:  # no longer one of ours: the next pass deletes it as left over
                log.warning("cannot delete gap copy %s: %s", copy, exc)
            self.copies.discard(copy)


def flush_seconds(task_vars: dict) -> float:
    """How often a task's influxDBOut writes: its ``flush_interval`` var (tick_scripts declare one), else
    Kapacitor's default, 10 s.

    >>> flush_seconds({"flush_interval": {"type": "duration", "value": 10**9}}), flush_seconds({})
    (1.0, 10.0)
    """
    var = task_vars.get("flush_interval") or {}
    return var["value"] / 1e9 if var.get("type") == "duration" and isinstance(var.get("value"), int) else 10.0


GAP_RP = "tickml_gapfill"
GAP_SUFFIX = "__gapfill_"
_DBRP = re.compile(r'dbrp\s+"([^"]+)"\s*\.\s*"([^"]+)"')


def gap_query(script: str, since_ns: int, until_ns: int, task_vars: dict | None = None) -> str | None:
    """The InfluxQL that gives a stream task its input over a gap, with the windows reaching into it;
    None for a script whose input cannot be read off it.

    >>> script = chr(10).join(['dbrp "telemetry"."autogen"', "var m = 'm'",
    ...                        "stream |from().measurement(m) |window().period(30s).every(10s)"])
    >>> gap_query(script, 100 * 10**9, 200 * 10**9)
    'SELECT * FROM "telemetry"."autogen"."m" WHERE time >= 70000000000 AND time < 200000000000 GROUP BY *'
    """
    try:
        read = tickscript.read(script, task_vars)
    except tickscript.ScriptError:
        return None
    if not read.measurements:
        return None
    return tickscript.query(read, since_ns - read.window_ns, until_ns)


def window_length(script: str, task_vars: dict | None = None) -> int:
    """The longest window period (or every) a script declares, in ns; 0 without windows."""
    return tickscript.read(script, task_vars).window_ns


def gap_script(script: str, database: str, since_ns: int, until_ns: int) -> str:
    r"""The task's script for a gap copy: it listens on ``GAP_RP`` only, and writes only outputs stamped
    in ``(since_ns, until_ns]`` (before, the task wrote them itself, and the copy, fed from a window's
    length earlier, would write them again from part of their points).

    >>> print(gap_script('dbrp "db"."autogen"\nstream|from()\n    |influxDBOut()', "db", 5, 9))
    dbrp "db"."tickml_gapfill"
    stream|from()
        |where(lambda: unixNano("time") > 5 AND unixNano("time") <= 9)
        |influxDBOut()
    """
    copy = _DBRP.sub(f'dbrp "{database}"."{GAP_RP}"', script, count=1)
    keep = f'unixNano("time") > {since_ns} AND unixNano("time") <= {until_ns}'
    return _OUTPUT.sub(lambda m: f"{m.group(1)}|where(lambda: {keep})\n{m.group(1)}|influxDBOut(", copy)


_OUTPUT = re.compile(r"([ \t]*)\|influxDBOut\(")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--interval", type=float, default=1.0, help="seconds between passes (%(default)s)")
    parser.add_argument("--kapacitor", help="Kapacitor URL (default: from kapacitor/kapacitor.conf)")
    parser.add_argument("--influxdb", help="InfluxDB URL for task_recoveries points (default: from influxdb/influxdb.conf)")
    parser.add_argument("--heartbeat", default=str(HEARTBEAT),
                        help="file touched after every pass, to tell it is alive (%(default)s)")
    parser.add_argument("--no-gap-fill", dest="fill_gaps", action="store_false",
                        help="re-enable tasks but fill no gaps (a shard's watcher: InfluxDB holds other shards' "
                             "devices too)")


def run(args: argparse.Namespace) -> int:
    logging.basicConfig(stream=sys.stderr, level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    from tickml.influx import Influx

    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(True))
    watcher = Watcher(Kapacitor(args.kapacitor), Influx(args.influxdb), fill_gaps=args.fill_gaps)
    heartbeat = Path(args.heartbeat)
    heartbeat.parent.mkdir(parents=True, exist_ok=True)
    log.info("watching %d socket UDFs: %s", len(watcher.sockets), ", ".join(sorted(watcher.sockets)))
    while not stop:
        try:
            watcher.check()
        except Exception as exc:  # Kapacitor restarting, say: try again next pass
            log.warning("pass failed: %s", exc)
        heartbeat.write_text(str(time.time()))
        time.sleep(args.interval)
    log.info("stopping on SIGTERM after %d recoveries", watcher.recoveries)
    return 0

