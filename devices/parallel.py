"""Sending from several processes: one transport per worker process, each device's messages to one worker.

The simulator builds its messages in one process: the fleet, its faults and
a replay's schedule draw from one seeded sequence, so what is sent stays
exactly what ``fleet_messages`` says, whatever the transport. The sending,
which costs the most per message (a client library's work in Python), is
spread over worker processes, each with its own transport and connection, so
that the sender uses every core it is given. A device's messages always go
to the same worker, in order, so one device's messages keep their order on
the wire (one MQTT topic, one Kafka partition).

Messages travel to a worker in chunks (at most ``CHUNK``; a paced run's tick
at once) through a bounded queue: a worker that cannot keep up makes the
simulator wait instead of piling messages up in memory. ``flush`` returns once every worker's transport has flushed (the
broker or listener acknowledged everything so far); the workers' counts and
CPU seconds come back with it.
"""

from __future__ import annotations

import multiprocessing
import queue
import signal
import time
from typing import Callable, Iterable

from devices.transports import Envelope

CHUNK = 1000  # messages per hand-over to a worker
QUEUED_CHUNKS = 8  # chunks waiting per worker before the simulator waits
IDLE_EVERY = 1.0  # seconds a worker waits for a chunk before it lets its transport service its connection


class WorkerError(RuntimeError):
    """A worker process could not open its transport or failed while sending; the message says why."""


def _work(make_transport: Callable, inbox, outbox, index: int) -> None:
    """A worker's life: open the transport, send the chunks it gets, flush and report when asked."""
    # Ctrl-C reaches every process of the terminal's group: the simulator decides (it closes the workers,
    # which send what they hold), as it does with a transport of its own.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        transport = make_transport()
    except BaseException as exc:  # reported to the simulator, which names the worker and the cause
        outbox.put((index, "error", f"cannot open the transport: {type(exc).__name__}: {exc}"))
        return
    outbox.put((index, "ready"))
    cpu_before = time.process_time()  # the sending's CPU, not the imports' and the connection's
    # Between a paced run's ticks a transport with connections to keep alive (MQTT) reads and answers
    # the broker (acknowledgements, keepalives, a reconnect), as it does in the simulator's own process.
    idle = getattr(transport, "idle", None)
    release = getattr(transport, "release", None)
    try:
        while True:
            try:
                item = inbox.get(timeout=IDLE_EVERY if idle else None)
            except queue.Empty:
                idle(0)
                continue
            if isinstance(item, list):
                transport.send_envelopes([Envelope(*fields) for fields in item])
                continue
            if item == "release":
                if release is not None:
                    release()
                continue
            if item == "close":
                transport.close()
            else:
                transport.flush()
            outbox.put((index, item, transport.sent, transport.refused, time.process_time() - cpu_before,
                        getattr(transport, "refusals", {})))
            if item == "close":
                return
    except BaseException as exc:
        outbox.put((index, "error", f"{type(exc).__name__}: {exc}", transport.sent, transport.refused,
                    time.process_time() - cpu_before, getattr(transport, "refusals", {})))


class ParallelTransport:
    """The transport interface (``send_envelopes``, ``flush``, ``close``, ``sent``, ``refused``) over
    ``workers`` processes, each running ``make_transport()`` (a picklable callable).

    ``with_message``: the workers' transport reads the message itself (OTLP), not its JSON.
    ``cpu_seconds``: the workers' CPU time, as of the last flush or close.
    """

    def __init__(self, make_transport: Callable, workers: int, with_message: bool = False):
        if workers < 1:
            raise ValueError(f"workers must be at least 1, got {workers}")
        # spawn, not fork: the simulator may have started threads (a client library's) before.
        context = multiprocessing.get_context("spawn")
        self._inboxes = [context.Queue(QUEUED_CHUNKS) for _ in range(workers)]
        self._outbox = context.Queue()
        self._processes = [context.Process(target=_work, args=(make_transport, inbox, self._outbox, i),
                                           name=f"sender-{i}", daemon=True)
                           for i, inbox in enumerate(self._inboxes)]
        self._with_message = with_message
        self._chunks: list[list[tuple]] = [[] for _ in range(workers)]
        self._reports: dict[int, tuple] = {}  # worker -> (sent, refused, CPU seconds, refusals by reason)
        self._done: set[tuple[int, str]] = set()  # (worker, what it answered: ready, flush, close)
        self._failed: set[int] = set()
        for process in self._processes:
            process.start()
        errors = self._wait_for("ready", set(range(workers)), timeout=60)
        if errors:
            self._terminate()
            raise errors[0]

    @property
    def workers(self) -> int:
        return len(self._processes)

    @property
    def sent(self) -> int:
        return sum(report[0] for report in self._reports.values())

    @property
    def refused(self) -> int:
        return sum(report[1] for report in self._reports.values())

    @property
    def cpu_seconds(self) -> float:
        return sum(report[2] for report in self._reports.values())

    @property
    def refusals(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for report in self._reports.values():
            for why, count in report[3].items():
                out[why] = out.get(why, 0) + count
        return out

    def send_envelopes(self, envelopes: Iterable[Envelope]) -> None:
        n = len(self._chunks)
        for e in envelopes:
            worker = hash(e.device_id) % n  # str hashes differ between processes, not within this one
            chunk = self._chunks[worker]
            # Plain tuples pickle three times faster than the named tuple. A transport that reads the message
            # (OTLP) gets it instead of its JSON, unless there is no message (a raw line).
            if self._with_message and e.message is not None:
                chunk.append((e.device_type, e.device_id, None, e.is_object, e.message))
            else:
                chunk.append((e.device_type, e.device_id, e.payload, e.is_object, None))
            if len(chunk) >= CHUNK:
                self._put(worker, chunk)
                self._chunks[worker] = []
        # What is due now goes now: a paced run hands each tick over whole, not once a chunk is full.
        for worker, chunk in enumerate(self._chunks):
            if chunk:
                self._put(worker, chunk)
                self._chunks[worker] = []

    def _put(self, worker: int, item) -> None:
        while True:
            try:
                self._inboxes[worker].put(item, timeout=1.0)
                return
            except queue.Full:  # the worker is busy, or gone: a failure is reported, a death is seen
                for error in self._take_reports():
                    raise error
                if not self._processes[worker].is_alive():
                    raise WorkerError(f"sender process {worker} died (exit code {self._processes[worker].exitcode})")

    def _take_reports(self, timeout: float | None = None) -> list[WorkerError]:
        """Read the workers' reports (waiting up to ``timeout`` for one); the errors among them."""
        errors = []
        try:
            report = self._outbox.get(timeout=timeout) if timeout else self._outbox.get_nowait()
            while True:
                errors += self._handle(report)
                report = self._outbox.get_nowait()
        except queue.Empty:
            return errors

    def _handle(self, report: tuple) -> list[WorkerError]:
        index, kind = report[:2]
        if kind == "error":
            if len(report) > 3:  # what it had sent before it failed
                self._reports[index] = report[3:7]
            self._failed.add(index)
            return [WorkerError(f"sender process {index}: {report[2]}")]
        if kind in ("flush", "close"):
            self._reports[index] = report[2:6]
        self._done.add((index, kind))
        return []

    def _wait_for(self, kind: str, workers: set[int], timeout: float | None = None) -> list[WorkerError]:
        """Until each of ``workers`` reported ``kind``, failed or died; the errors."""
        errors = []
        deadline = None if timeout is None else time.monotonic() + timeout
        while waiting := {i for i in workers if (i, kind) not in self._done and i not in self._failed}:
            errors += self._take_reports(timeout=1.0)
            for i in waiting:
                if not self._processes[i].is_alive() and i not in self._failed and (i, kind) not in self._done:
                    errors += self._take_reports()  # its last words, if it said any
                    if i not in self._failed:
                        self._failed.add(i)
                        errors.append(WorkerError(f"sender process {i} died (exit code "
                                                  f"{self._processes[i].exitcode})"))
            if deadline is not None and time.monotonic() > deadline:
                errors.append(WorkerError(f"sender processes {sorted(waiting)} did not report {kind!r} within "
                                          f"{timeout:.0f} s"))
                break
        return errors

    def _push(self, command: str) -> None:
        """Send what is pending and ``command`` to every worker still working; each one's answer, or its error.

        A worker's failure does not stop the others: each reports what it sent, then the errors are raised.
        """
        errors, asked = [], set()
        self._done = {done for done in self._done if done[1] != command}
        for worker, chunk in enumerate(self._chunks):
            if worker in self._failed:
                continue
            try:
                if chunk:
                    self._put(worker, chunk)
                    self._chunks[worker] = []
                self._put(worker, command)
                asked.add(worker)
            except WorkerError as exc:
                errors.append(exc)
        errors += self._wait_for(command, asked)
        if errors:
            raise errors[0] if len(errors) == 1 else WorkerError("; ".join(str(e) for e in errors))

    def release(self) -> None:
        """Each worker sends what its transport gathered so far (a paced run waits for its next tick); no
        answer is awaited."""
        for worker in range(len(self._processes)):
            if worker not in self._failed:
                self._put(worker, "release")

    def flush(self) -> None:
        self._push("flush")

    def close(self) -> None:
        try:
            self._push("close")
            for process in self._processes:
                process.join(30)
        finally:
            self._terminate()

    def _terminate(self) -> None:
        for process in self._processes:
            if process.is_alive():
                process.terminate()
                process.join(5)
        for inbox in self._inboxes:
            # What a dead worker never took must not keep this process from exiting (the queue's feeder
            # thread would wait for it forever).
            inbox.cancel_join_thread()
            inbox.close()
