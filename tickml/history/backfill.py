"""A stream task's TICKscript and UDFs run over history: backfill, predictions for history, gap repair.

How: Kapacitor's own replay of a query (``POST /kapacitor/v1/replays/query``,
``clock: fast``, ``recording-time: true``): Kapacitor queries InfluxDB,
feeds the points in time order to the task, apart from the live one, with
the points' own times, and the task's UDFs and ``influxDBOut`` do what they
do live. So history and live cannot disagree: the same script, the same
UDF servers, the same model store.

What is replayed is a disabled copy of the task (``<task>__history``): the
script and vars of the task as Kapacitor holds it (or as the task list
gives it, when Kapacitor has none yet), with one ``where()`` in front of each
``influxDBOut()`` that keeps only what ends inside the chunk. A copy, so
that the live task's snapshots and statistics stay its own (a replay of the
task itself saves its snapshots under the live task's id).

Chunks (``chunks``): each chunk is read from a window's length before it.
The windows that end in that lead-in come out again, holding only part of
their rows: the output filter drops them, and the train UDF skips them for
every entity that has a model (its document records the newest row it has
judged: ``windows_until``). So a window is trained once, whole, whether the
range was run in one go, in chunks, or stopped and resumed; an entity
without a model yet may see the part of such a window judged (and dropped)
before the whole one. At the end of the range, windows whose end no point
passed stay open, as they do live; the live task starts its own.

Stop and resume: Ctrl-C (or SIGTERM) stops after the chunk being replayed:
Kapacitor cannot cancel a replay, so the chunk runs to its end in Kapacitor
even if this command is killed. Each chunk's replay has an id naming the
task, a digest of the script, vars and ``--where``, and the chunk's bounds;
a run of the same command finds the finished ones in Kapacitor's replay list
and goes on with the rest (waiting first for one still running). A replay
that failed (Kapacitor restarted) is replayed again: what its windows had
trained is skipped. Once every chunk is done, the copy and the replays'
records are deleted.

Safety: a replay whose task calls a socket UDF that does not answer makes
Kapacitor 1.8.3 panic (a nil ``udf.Server``; every task goes down), so each
chunk starts only once every socket UDF of the task answers; the query is
run against InfluxDB first (counting points), so a bad one fails here.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import re
import signal
import sys
import time
from datetime import datetime, timezone

from tickml import tickscript, udfcheck
from tickml.history import chunks as chunking
from tickml.history.summary import Summary, tally

log = logging.getLogger(__name__)

HISTORY_SUFFIX = "__history"
DEFAULT_TARGET_POINTS = 100_000
_OUTPUT = re.compile(r"([ \t]*)\|influxDBOut\(")


class BackfillError(RuntimeError):
    """The backfill cannot start or a chunk failed; the message says which and why."""


def history_script(script: str, since_ns: int) -> str:
    r"""The task's script with each output keeping only what is stamped from ``since_ns`` on.

    >>> print(history_script('stream|from()\n    |influxDBOut()', 5))
    stream|from()
        |where(lambda: unixNano("time") >= 5)
        |influxDBOut()
    """
    keep = f'unixNano("time") >= {since_ns}'
    return _OUTPUT.sub(lambda m: f"{m.group(1)}|where(lambda: {keep})\n{m.group(1)}|influxDBOut(", script)


def _iso(ns: int) -> str:
    return datetime.fromtimestamp(ns / 1e9, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclasses.dataclass
class Backfill:
    """One task over ``[start, end)`` of history; :meth:`run` does it and returns the summary."""

    kapacitor: object
    influx: object
    task: str
    start: int
    end: int
    where: str = ""
    chunk_ns: int | None = None
    target_points: int = DEFAULT_TARGET_POINTS
    progress: bool = True
    poll: float = 0.2

    def __post_init__(self):
        self.script, self.vars = self._definition()
        self.read = tickscript.read(self.script, self.vars)
        self.copy = self.task + HISTORY_SUFFIX
        digest = hashlib.sha256(json.dumps([self.script, self.vars, self.where], sort_keys=True).encode())
        self.prefix = f"history-{self.task}-{digest.hexdigest()[:8]}-"
        self._stopping = False

    # -- what is replayed --------------------------------------------------------

    def _definition(self) -> tuple[str, dict]:
        """The task's script and vars as Kapacitor holds it, else as the task list gives it."""
        held = self.kapacitor.task(self.task)
        if held is not None:
            if held.get("type") != "stream":
                raise BackfillError(f"{self.task} is a {held.get('type')} task; history replays stream tasks "
                                    f"(a batch task queries InfluxDB itself: kapacitor replay-live batch)")
            return held["script"], held.get("vars") or {}
        from tickml.tasks import TaskListError, load_tasks
        from tickml.names import pick

        try:
            (listed,) = pick(load_tasks(), [self.task], "task", TaskListError)
        except TaskListError as exc:
            raise BackfillError(f"Kapacitor has no task {self.task!r}, nor has the task list: {exc}") from None
        if listed.type != "stream":
            raise BackfillError(f"{self.task} is a {listed.type} task; history replays stream tasks")
        return listed.script, {}

    def _source_query(self, since: int, until: int) -> str:
        return tickscript.query(self.read, since, until, self.where)

    def counts(self) -> tuple[dict[int, int], int]:
        """Points per bucket over the range (every field counted, the fullest taken), and the bucket."""
        bucket = chunking.bucket_ns(self.end - self.start)
        select = self._source_query(self.start, self.end).replace("SELECT *", "SELECT count(*)", 1)
        select = select.replace(" GROUP BY *", f" GROUP BY time({bucket // 10**9}s)")
        counts: dict[int, int] = {}
        for row in self.influx.query(select, database=self.read.dbrp[0]):
            n = max((v for k, v in row.items() if k != "time" and isinstance(v, (int, float))), default=0)
            counts[row["time"]] = counts.get(row["time"], 0) + int(n)
        return {t: n for t, n in counts.items() if n}, bucket

    # -- running -----------------------------------------------------------------

    def plan(self) -> tuple[list[chunking.Chunk], list[chunking.Chunk]]:
        """Every chunk of the range, and those still to replay."""
        counts, bucket = self.counts()
        length = self.chunk_ns or chunking.chunk_ns(counts, bucket, self.target_points)
        every = chunking.plan(self.start, self.end, length, counts)
        return every, chunking.pending(every, self.done())

    def done(self) -> list[tuple[int, int]]:
        """Bounds of the chunks Kapacitor finished replaying for this task, script, vars and ``where``."""
        out = []
        for replay in self.kapacitor.replays(self.prefix + "*"):
            if replay.get("status") == "finished":
                start, end = replay["id"][len(self.prefix):].split("-")
                out.append((int(start), int(end)))
            elif replay.get("status") == "running":
                log.warning("waiting for replay %s, still running from an earlier run", replay["id"])
                if self._wait(replay["id"]).get("status") == "finished":
                    start, end = replay["id"][len(self.prefix):].split("-")
                    out.append((int(start), int(end)))
        return out

    def run(self) -> Summary:
        summary = Summary()
        every, todo = self.plan()
        if not every:
            return summary
        total = sum(c.points for c in every)
        already = total - sum(c.points for c in todo)
        from tqdm import tqdm

        bar = tqdm(total=total, initial=already, unit="pt", unit_scale=True, dynamic_ncols=True, file=sys.stderr,
                   disable=not self.progress, desc=self.task, smoothing=0.1)
        if already or len(todo) < len(every):
            tqdm.write(f"{len(every) - len(todo)} of {len(every)} chunks were replayed before: going on from "
                       f"{_iso(todo[0].start) if todo else 'the end'}", file=sys.stderr)
            for chunk in every:
                if chunk not in todo:  # the summary is the whole range's
                    tally(self.influx, self.read, chunk.start, chunk.end, self.where, summary)
            summary.chunks_before = len(every) - len(todo)
        previous = {sig: signal.signal(sig, self._stop) for sig in (signal.SIGINT, signal.SIGTERM)}
        began = time.monotonic()
        left = list(todo)
        try:
            while left and not self._stopping:
                chunk = left[0]
                self._replay(chunk)
                counted = time.monotonic()
                tally(self.influx, self.read, chunk.start, chunk.end, self.where, summary)
                summary.tally_seconds += time.monotonic() - counted
                summary.chunks += 1
                summary.points_read += chunk.points
                bar.update(chunk.points)
                bar.set_postfix_str(f"to {_iso(chunk.end)}, {summary.windows:,} windows", refresh=True)
                left.pop(0)
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            summary.seconds = time.monotonic() - began
            bar.close()
        summary.chunks_left = len(left)
        if left:
            log.warning("stopped: %d of %d chunks left; run the same command again to go on", len(left), len(every))
        else:
            self._finish()
        return summary

    def _stop(self, signum, frame):
        if self._stopping:
            raise KeyboardInterrupt  # a second Ctrl-C: leave now; Kapacitor finishes the chunk it replays
        self._stopping = True
        log.warning("stopping after the chunk being replayed (Kapacitor cannot cancel a replay); Ctrl-C again to "
                    "leave now, it then runs to its end in Kapacitor")

    def _replay(self, chunk: chunking.Chunk) -> None:
        silent = udfcheck.silent_udfs(self.script)
        if silent:
            raise BackfillError(f"UDF {', '.join(silent)} does not answer: a replay of {self.task} now would make "
                                f"Kapacitor 1.8 panic; start it (tickml stack start) and run again to go on")
        script = history_script(self.script, chunk.start)
        if self.kapacitor.task(self.copy) is None:
            self.kapacitor.create(self.copy, script, self.vars)
        else:
            self.kapacitor._call("PATCH", f"/tasks/{self.copy}", {"script": script, "vars": self.vars})
        replay_id = f"{self.prefix}{chunk.start}-{chunk.end}"
        if self.kapacitor.replay(replay_id) is not None:
            self.kapacitor.delete_replay(replay_id)  # a failed one, replayed again
        query = self._source_query(chunk.start - self.read.window_ns, chunk.end)
        self.kapacitor.replay_query(self.copy, query, replay_id)
        result = self._wait(replay_id)
        if result.get("status") != "finished":
            raise BackfillError(f"replay {replay_id} of {self.task} over {_iso(chunk.start)}..{_iso(chunk.end)} "
                                f"{result.get('status')}: {result.get('error')}; run again to go on")

    def _wait(self, replay_id: str) -> dict:
        while True:
            result = self.kapacitor.replay(replay_id) or {"status": "failed", "error": "the replay disappeared"}
            if result.get("status") != "running":
                return result
            time.sleep(self.poll)

    def _finish(self) -> None:
        """Every chunk done: the copy and the replays' records go."""
        try:
            self.kapacitor.delete(self.copy)
        except RuntimeError as exc:
            if "HTTP 404" not in str(exc):
                raise
        for replay in self.kapacitor.replays(self.prefix + "*"):
            self.kapacitor.delete_replay(replay["id"])
