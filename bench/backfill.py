"""Backfill rate through Kapacitor's replay and @train(), beside the same UDF on live data, in one run.

A fleet of power meters (one reading a second each, its own relation per
device) is written to InfluxDB in a measurement of its own. Then:

- **backfill**: ``tickml history backfill``'s machinery (``tickml.history.backfill``)
  runs the shipped ``power_train`` TICKscript (vars: that measurement, a model
  of the bench's own; windows of 60 s every 20 s as shipped) over it with
  Kapacitor's replay of a query, chunk by chunk, writing ``trained_models``;
- **live**: the same script as an enabled task, fed the same readings
  through Kapacitor's ``/write`` (as InfluxDB's subscription delivers them),
  until its train node has emitted as many windows as the backfill trained.

Printed: points/s and entity-windows/s of each, CPU seconds of kapacitord, of
the train UDF server and of influxd (the backfill queries it; the live run's
outputs are written to it as well), and the time a month of one reading a second for
1,000 devices (2.59 billion points) would take at the measured backfill rate:
an extrapolation from the measured run, not a measured month.

Run: ``python bench/backfill.py [--devices 1000] [--seconds 300]`` (stack running); ``--smoke``: 20 devices x
120 s, seconds (tests/integration/test_bench_backfill.py runs it, so that the bench cannot rot).
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np

import through_kapacitor
from tickml.kapacitor import Kapacitor
from tickml.stack.catalog import services
from tickml.history.backfill import HISTORY_SUFFIX, Backfill
from tickml.influx import Influx
from tickml.paths import ROOT

SECOND = 10**9
MONTH_POINTS = 1000 * 30 * 86400  # one reading a second for 1,000 devices


def readings(measurement: str, devices: int, seconds: int, start: int, seed: int = 0) -> list[str]:
    rng = np.random.default_rng(seed)
    slopes = rng.uniform(0.5, 3.0, size=(devices, 2))
    lines = []
    for s in range(seconds):
        v, i = rng.uniform(220, 240, devices), rng.uniform(5, 15, devices)
        p = slopes[:, 0] * v + slopes[:, 1] * i + rng.normal(0, 0.5, devices)
        t = start + s * SECOND
        lines += [f"{measurement},device_id=d{k} voltage={a!r},current={b!r},power={c!r} {t}"
                  for k, (a, b, c) in enumerate(zip(v.tolist(), i.tolist(), p.tolist()))]
    return lines


def main(argv: list[str] | None = None) -> dict:
    """Run; the figures printed, by row label: points/s and entity-windows/s."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--devices", type=int, default=1000)
    parser.add_argument("--seconds", type=int, default=300, help="seconds of readings per device")
    parser.add_argument("--chunk-points", type=int, default=100_000)
    parser.add_argument("--smoke", action="store_true", help="20 devices x 120 s: that it runs, not a figure")
    args = parser.parse_args(argv)
    if args.smoke:
        args.devices, args.seconds = 20, 120

    run = f"bench_backfill_{os.getpid()}"
    kapacitor, influx = Kapacitor(), Influx()
    script = (ROOT / "tick_scripts" / "power_train.tick").read_text()
    start = (time.time_ns() // (3600 * SECOND)) * 3600 * SECOND - 2 * 3600 * SECOND
    lines = readings(run, args.devices, args.seconds, start)
    for j in range(0, len(lines), 20_000):
        influx.write(lines[j:j + 20_000])
    by_name = {s.name: s for s in services()}
    kapacitor_pid, udf_pid, influx_pid = (by_name[n].pid() for n in ("kapacitor", "udf-train", "influxdb"))
    cpu = through_kapacitor.cpu_seconds

    def task_vars(model):
        return {"measurement": {"type": "string", "value": run}, "model": {"type": "string", "value": model}}

    task = f"{run}_train"
    kapacitor.create(task, script, task_vars(f"{run}-history"))
    try:
        k0, u0, i0, t0 = cpu(kapacitor_pid), cpu(udf_pid), cpu(influx_pid), time.perf_counter()
        summary = Backfill(kapacitor, influx, task, start, start + args.seconds * SECOND,
                           target_points=args.chunk_points, progress=False).run()
        backfill_s = time.perf_counter() - t0
        backfill_cpu = (cpu(kapacitor_pid) - k0, cpu(udf_pid) - u0, cpu(influx_pid) - i0)
    finally:
        for name in (task, task + HISTORY_SUFFIX):
            try:
                kapacitor.delete(name)
            except RuntimeError:
                pass
    windows = summary.windows
    i0 = cpu(influx_pid)
    live = through_kapacitor.run(script, lines, "train", windows, "udf-train", task_vars=task_vars(f"{run}-live"))
    live_influx = cpu(influx_pid) - i0

    rows = [("backfill (replay of a query, chunks)", len(lines), windows, backfill_s, *backfill_cpu),
            ("live (Kapacitor /write)", len(lines), windows, live.seconds, live.kapacitor_cpu, live.udf_cpu, live_influx)]
    print(f"\n{args.devices} devices x {args.seconds} s, one reading a second: {len(lines):,} points, "
          f"{windows:,} entity-windows (60 s every 20 s); backfill in {summary.chunks} chunks")
    print("| run | points/s | entity-windows/s | seconds | kapacitord CPU s | train UDF CPU s | influxd CPU s |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for label, points, w, seconds, kcpu, ucpu, icpu in rows:
        print(f"| {label} | {points / seconds:,.0f} | {w / seconds:,.0f} | {seconds:.1f} | {kcpu:.1f} | {ucpu:.1f} "
              f"| {icpu:.1f} |")
    print(f"\nof the backfill's {backfill_s:.1f} s, {summary.tally_seconds:.1f} s read back what it wrote (the summary)")
    rate = len(lines) / backfill_s
    print(f"\nbackfill/live rate: {live.seconds / backfill_s:.2f}")
    print(f"a month of one reading a second for 1,000 devices ({MONTH_POINTS / 1e9:.2f} billion points) at the "
          f"measured backfill rate: {MONTH_POINTS / rate / 3600:,.1f} h (extrapolated from this run, not measured)")
    influx.execute(f'DROP MEASUREMENT "{run}"')
    return {label: (points / seconds, w / seconds) for label, points, w, seconds, *_ in rows}


if __name__ == "__main__":
    main()
