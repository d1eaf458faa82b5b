"""Memory per active entity through the real stack: kapacitord and the UDF servers.

For ``--entities`` devices (10,000 and 100,000 by default), a few points each
are written to the running stack's Kapacitor, into two temporary tasks that
keep per-entity state: ``@moving_average()`` (the UDF keeps each entity's
last values) and a 10 s window into ``@preprocess()`` (Kapacitor keeps each
group's window; the UDF keeps nothing). Printed: the growth of kapacitord's
live Go heap (``HeapAlloc`` of /debug/vars right after a collection forced
through /debug/pprof/heap?gc=1) and of each UDF
server's resident memory, in total and per entity.

Then the same windowed task with ``|barrier().idle(5s).delete(TRUE)`` in front
of the window: Kapacitor drops a group's state once it has been silent for
5 s. Printed: its heap after the entities fell silent, beside the task
without the barrier: what bounding Kapacitor's per-group state gives back.

The forced collection needs Kapacitor's pprof endpoint
(``KAPACITOR_HTTP_PPROF_ENABLED=true tickml stack restart kapacitor``); without
it the heap is read as it is, garbage and all, and the run says so.

Run: ``python bench/entity_memory.py [--entities 10000 100000]`` (stack running); ``--smoke``: 200 entities and
a barrier idle for 1 s, seconds (tests/integration/test_bench_entity_memory.py runs it, so that the bench cannot
rot).
"""

from __future__ import annotations

import argparse
import time

from tickml.http import HttpError
from tickml.kapacitor import Kapacitor
from tickml.stack.supervision import supervised_process
from through_kapacitor import STREAM, node_emitted


WINDOWED = """
dbrp "telemetry"."autogen"
stream
    |from()
        .measurement('{m}')
        .groupBy('device_id')
{barrier}    |window()
        .period(10s)
        .every(10s)
    @preprocess()
        .fields('value')
        .types('avg')
    |httpOut('bench')
"""


def heap_mb(kapacitor: Kapacitor) -> float:
    """kapacitord's live Go heap, after a collection (the pprof endpoint's gc=1 forces one) when pprof is on."""
    try:
        kapacitor.fetch("/debug/pprof/heap?gc=1", timeout=60)
    except HttpError as exc:
        if exc.status != 404:
            raise
        if not _UNCOLLECTED:
            print("(kapacitord's pprof is off: its heap is read without a forced collection)", flush=True)
        _UNCOLLECTED.append(True)
    stats = kapacitor._call("GET", "/debug/vars")
    return stats["memstats"]["HeapAlloc"] / 2**20


_UNCOLLECTED: list[bool] = []  # not empty once the heap was read without a collection


def rss_mb(service: str) -> float:
    pid = supervised_process(service)["pid"]
    with open(f"/proc/{pid}/statm") as f:
        return int(f.read().split()[1]) * 4096 / 2**20


def write(lines: list[str]) -> None:
    kapacitor = Kapacitor()
    for i in range(0, len(lines), 50_000):
        kapacitor.write(lines[i:i + 50_000])


def run(entities: int, kapacitor: Kapacitor, idle: int = 5, timeout: float = 300, silent: float = 12,
        settle: float = 2) -> dict:
    """The figures printed: MB before and after by process (``growth``), and MB kapacitord's heap held after the
    groups fell silent, with and without the barrier (``held``)."""
    stamp = time.time_ns()
    figures: dict[str, dict] = {"growth": {}, "held": {}}
    names = {"moving": f"bench_mem_moving_{stamp}", "windowed": f"bench_mem_window_{stamp}",
             "barrier": f"bench_mem_barrier_{stamp}"}
    scripts = {"moving": STREAM.format(measurement=names["moving"], node="@moving_average().field('value').size(10)"),
               "windowed": WINDOWED.format(m=names["windowed"], barrier=""),
               "barrier": WINDOWED.format(m=names["barrier"], barrier=f"    |barrier()\n        .idle({idle}s)\n"
                                                                       "        .delete(TRUE)\n")}
    before = {"kapacitord heap": heap_mb(kapacitor), "udf-moving_average": rss_mb("udf-moving_average"),
              "udf-preprocess": rss_mb("udf-preprocess")}
    try:
        for key in ("moving", "windowed"):
            kapacitor._call("POST", "/tasks", {"id": names[key], "type": "stream", "status": "enabled",
                                               "script": scripts[key]})
        base = time.time_ns() - 3 * 10**9
        for key, node in (("moving", "moving_average"), ("windowed", None)):
            write([f"{names[key]},device_id=e{e} value={float(k)} {base + k * 10**9}"
                   for k in range(3) for e in range(entities)])
            if node:
                deadline = time.monotonic() + timeout
                while node_emitted(kapacitor, names[key], node) < 3 * entities:
                    if time.monotonic() > deadline:
                        raise TimeoutError(f"{node} emitted {node_emitted(kapacitor, names[key], node)} of "
                                           f"{3 * entities} in {timeout:.0f} s")
                    time.sleep(0.5)
        time.sleep(settle)
        after = {"kapacitord heap": heap_mb(kapacitor), "udf-moving_average": rss_mb("udf-moving_average"),
                 "udf-preprocess": rss_mb("udf-preprocess")}
        print(f"{entities:,} entities, 3 points each, two tasks (moving_average; a 10 s window into preprocess)")
        for name in before:
            grown = after[name] - before[name]
            print(f"  {name:<22} {before[name]:>9.1f} -> {after[name]:>9.1f} MB   {grown * 2**20 / entities:>8.0f} "
                  f"bytes per entity")
            figures["growth"][name] = (before[name], after[name])
        # Kapacitor's per-group state with and without a barrier dropping silent groups.
        kapacitor.delete(names["windowed"])
        kapacitor.delete(names["moving"])
        time.sleep(settle)
        for key, label in (("windowed", "no barrier"), ("barrier", f"barrier().idle({idle}s).delete(TRUE)")):
            kapacitor._call("POST", "/tasks", {"id": names[key] + "_b", "type": "stream", "status": "enabled",
                                               "script": scripts[key].replace(names[key], names[key] + "_b")})
            start = heap_mb(kapacitor)
            base = time.time_ns() - 3 * 10**9
            write([f"{names[key]}_b,device_id=e{e} value={float(k)} {base + k * 10**9}"
                   for k in range(3) for e in range(entities)])
            time.sleep(silent)  # silent for longer than the barrier's idle time
            write([f"{names[key]}_b,device_id=tick value=0 {time.time_ns()}"])  # the barrier's clock moves with data
            time.sleep(settle + 1)
            held = heap_mb(kapacitor) - start
            print(f"  kapacitord heap held {silent:.0f} s after {entities:,} groups fell silent, {label:<34} "
                  f"{held:>8.1f} MB ({held * 2**20 / entities:,.0f} bytes per group)")
            figures["held"][label] = held
            kapacitor.delete(names[key] + "_b")
            time.sleep(settle)
    finally:
        for name in list(names.values()) + [n + "_b" for n in names.values()]:
            try:
                kapacitor.delete(name)
            except RuntimeError:
                pass
    return figures


def main(argv: list[str] | None = None) -> dict[int, dict]:
    """Run; the figures printed, by number of entities (``run``'s)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--entities", type=int, nargs="*", default=[10_000, 100_000])
    parser.add_argument("--idle", type=int, default=5, help="seconds the barrier waits before it drops a group")
    parser.add_argument("--smoke", action="store_true", help="200 entities, idle 1 s: that it runs, not a figure")
    args = parser.parse_args(argv)
    timeout, silent, settle = 300.0, args.idle + 7.0, 2.0
    if args.smoke:
        args.entities, args.idle, timeout, silent, settle = [200], 1, 60.0, 3.0, 0.5
    kapacitor = Kapacitor()
    figures = {}
    for n in args.entities:
        figures[n] = run(n, kapacitor, args.idle, timeout, silent, settle)
        print()
    return figures


if __name__ == "__main__":
    main()
