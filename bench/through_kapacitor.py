"""Run a workload through the real Kapacitor of the native stack and time it.

Used by the benchmarks that report a figure "through real Kapacitor": a
temporary stream task is defined over a measurement of its own, line
protocol is written to Kapacitor's ``/write`` endpoint (as Telegraf or an
InfluxDB subscription would deliver it), and the run ends when the task's
UDF node has emitted everything expected. CPU seconds of kapacitord and of
the UDF server over the run say where the time went. The measured node
needs a child (``|httpOut('bench')`` will do): Kapacitor counts a node's
``emitted`` only towards children.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import re
import time
from pathlib import Path

from tickml.kapacitor import Kapacitor
from tickml.stack.catalog import services


# Task scripts of the benchmarks: one entity per device_id, the measured node in
# ``{node}`` (a UDF call or a Kapacitor node), and a child so that it counts
# what it emits.
STREAM = """
dbrp "telemetry"."autogen"
stream
    |from()
        .measurement('{measurement}')
        .groupBy('device_id')
    {node}
    |httpOut('bench')
"""

WINDOWED = """
dbrp "telemetry"."autogen"
stream
    |from()
        .measurement('{measurement}')
        .groupBy('device_id')
    |window()
        .period({period}s)
        .every({period}s)
        .align()
    {node}
    |httpOut('bench')
"""


@dataclasses.dataclass
class Run:
    seconds: float
    kapacitor_cpu: float
    udf_cpu: float | None
    profiles: object | None = None  # bench/profiles.Profiles when the run was profiled


def cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as fh:
        fields = fh.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def node_emitted(kapacitor: Kapacitor, task: str, node: str) -> int:
    """What ``node`` of ``task`` emitted. ``node`` is a node's id (``train4``) or its kind without the number
    (``train``, when the task has one node of that kind): Kapacitor numbers nodes by their place in the script,
    which moves when a node is added before it."""
    stats = kapacitor._call("GET", f"/tasks/{task}")["stats"]["node-stats"]
    if node not in stats:
        kind = [n for n in stats if re.fullmatch(rf"{re.escape(node)}\d+", n)]
        if len(kind) > 1:
            raise ValueError(f"task {task} has {len(kind)} nodes {node}N ({', '.join(sorted(kind))}): name one")
        node = kind[0] if kind else node
    return int(stats.get(node, {}).get("emitted", 0))


def run(script: str, lines: list[str], node: str, expected: int, udf_service: str | None,
        chunk: int = 20_000, timeout: float = 600.0, profile: tuple[Path, str] | None = None,
        task_vars: dict | None = None, kapacitor: Kapacitor | None = None, kapacitor_pid: int | None = None) -> Run:
    """Define ``script`` (with ``task_vars``) as a task, write ``lines``, wait until ``node`` emitted ``expected``;
    delete the task.

    ``profile``: (folder, label) to profile the UDF server and kapacitord during the run (``profiles.py``).
    ``kapacitor`` and ``kapacitor_pid``: another kapacitord than the stack's (``private_kapacitor.py``).
    """
    kapacitor = kapacitor or Kapacitor()
    task = f"bench_{os.getpid()}_{int(time.time())}"
    kapacitor._call("POST", "/tasks", {"id": task, "type": "stream", "status": "enabled", "script": script,
                                       "vars": task_vars or {}})
    by_name = {s.name: s for s in services()}
    kapacitor_pid = kapacitor_pid or by_name["kapacitor"].pid()
    udf_pid = by_name[udf_service].pid() if udf_service else None
    payloads = ["\n".join(lines[i:i + chunk]) for i in range(0, len(lines), chunk)]
    profiles = None
    if profile is not None:
        from profiles import Profiles

        profiles = Profiles(profile[0], profile[1], udf_pid, kapacitor)
    try:
        with profiles or contextlib.nullcontext():
            k0 = cpu_seconds(kapacitor_pid)
            u0 = cpu_seconds(udf_pid) if udf_pid else 0.0
            start = time.perf_counter()
            for body in payloads:
                kapacitor.write(body)
            deadline = time.monotonic() + timeout
            while node_emitted(kapacitor, task, node) < expected:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"{node} emitted {node_emitted(kapacitor, task, node)} of {expected}")
                time.sleep(0.05)
            seconds = time.perf_counter() - start
            k1, u1 = cpu_seconds(kapacitor_pid), cpu_seconds(udf_pid) if udf_pid else 0.0
        return Run(seconds, k1 - k0, (u1 - u0) if udf_pid else None, profiles)
    finally:
        kapacitor.delete(task)
