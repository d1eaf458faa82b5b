"""A fleet left running, minute by minute: does every device keep landing, every window keep coming, memory stay flat?

Runs the simulator as a user runs it (``tickml devices simulate``, the demo's
fleet by default: 18 devices of every type, one message a second each, over
MQTT) for ``--minutes`` against the running stack, with a prefix of its own,
then reads back from InfluxDB, for every whole minute:

- ``raw``: readings in ``device_message``, per device and sensor, beside what
  the fleet sent (one per message: 60 / interval a minute);
- ``windows``: ``device_preprocessed`` windows per device and sensor (the
  ``device_preprocess`` task closes one every 10 s: 6 a minute);
- ``silent``: device and sensor pairs with nothing in that minute, named.

And, at the start and the end, kapacitord's live heap and the resident memory
of the UDF servers, so a leak shows as growth over the run. A device that
falls silent for good (a sender's lost connection, a stalled partition) shows
as a falling ``raw`` from the minute it happened; the exit code is 1 if any
pair was silent for a whole minute.

Run: ``python bench/soak.py [--minutes 10] [--devices 18] [--interval 1]
[--per-device | --processes N] [--protocol mqtt|http|kafka|otlp] [--bucket 60]``
(stack running: ``tickml stack start`` and ``tickml tasks define``). ``--bucket``
makes the rows of the table shorter than a minute (a multiple of the 10 s
windows); ``--minutes`` then counts buckets. ``--smoke``: the demo's fleet for
2 buckets of 10 s, the one whole bucket read back, about 25 s. No test runs it yet: beside the other tests
its windows did not land within its wait (0 of 27 in one run), so it needs a wait that follows the stack's load
first.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

from devices.fleet import DEVICE_TYPES, Fleet  # noqa: E402
from entity_memory import heap_mb, rss_mb  # noqa: E402
from tickml.kapacitor import Kapacitor
from tickml.influx import Influx  # noqa: E402

SECOND = 10**9
WINDOW = 10  # seconds: device_preprocess closes a window every 10 s
TYPES = ",".join(DEVICE_TYPES)  # every device type, as the demo runs
WATCHED = ("udf-preprocess", "udf-train", "udf-predict", "udf-moving_average")


def memory(kapacitor: Kapacitor) -> dict[str, float]:
    """MiB: kapacitord's live heap and each watched UDF server's resident memory."""
    out = {"kapacitord heap": heap_mb(kapacitor)}
    for service in WATCHED:
        try:
            out[service] = rss_mb(service)
        except (TypeError, KeyError, OSError):  # not running here
            continue
    return out


def per_minute(influx: Influx, query: str) -> dict[int, dict[tuple[str, str], int]]:
    """bucket start -> (device, sensor) -> count, from a GROUP BY time(bucket), device_id, sensor query."""
    out: dict[int, dict[tuple[str, str], int]] = defaultdict(dict)
    for row in influx.query(query):
        count = next(v for k, v in row.items() if k.startswith("count"))
        out[row["time"]][(row["device_id"], row["sensor"])] = count or 0
    return out


def main(argv: list[str] | None = None) -> dict:
    """Run; the figures printed: ``rows`` (per whole bucket: raw landed, sent, fewest raw of a pair, windows,
    expected, fewest windows, the silent pairs), ``memory`` (MiB at start and end by process), ``simulator`` (its
    exit code) and ``failed`` (the exit code's reason to be 1: a silent pair or the simulator failing)."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--minutes", type=int, default=10)
    p.add_argument("--devices", type=int, default=18)
    p.add_argument("--interval", type=float, default=1.0)
    p.add_argument("--protocol", default="mqtt")
    p.add_argument("--per-device", action="store_true", help="each device on its own MQTT connection (the demo's)")
    p.add_argument("--processes", type=int, help="sending processes (the simulator's default: one per CPU)")
    p.add_argument("--bucket", type=int, default=60, help="seconds per row, a multiple of 10 (%(default)s)")
    p.add_argument("--smoke", action="store_true", help="2 buckets of 10 s: that it runs, not a figure")
    args = p.parse_args(argv)
    if args.smoke:
        args.minutes, args.bucket = 2, 10
    if args.bucket <= 0 or args.bucket % WINDOW:
        p.error(f"--bucket must be a positive multiple of {WINDOW} s (the windows'), not {args.bucket}")
    bucket = args.bucket * SECOND

    kapacitor, influx = Kapacitor(), Influx()
    prefix = f"soak{int(time.time()) % 100000}-"
    # tickml's command, not devices.simulator's: it hands in the stack's addresses and logins (the bare simulator
    # knows none, so that a second sending process found no MQTT login free).
    command = [sys.executable, "-m", "tickml", "devices", "simulate", "--protocol", args.protocol, "--devices",
               str(args.devices), "--interval", str(args.interval), "--types", TYPES, "--prefix", prefix,
               "--duration", str(args.minutes * args.bucket + 5)]
    if args.per_device:
        command.append("--per-device")
    if args.processes:
        command += ["--processes", str(args.processes)]
    before = memory(kapacitor)
    started = time.time_ns()
    print(f"{' '.join(command[2:])}\n", flush=True)
    run = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    summary = [line for line in run.stderr.splitlines() if "sent " in line]
    print(summary[-1] if summary else run.stderr[-2000:])
    first = (started // bucket + 1) * bucket  # whole buckets only
    last = first + (args.minutes - 1) * bucket
    where = f"device_id =~ /^{prefix}/ AND time >= {first} AND time < {last}"
    # Every pair the fleet sends, landed or not (the simulator builds the same fleet from the same arguments).
    fleet = Fleet.create(args.devices, TYPES.split(","), prefix=prefix)
    pairs = sorted((device, sensor) for device, kind in fleet.devices for sensor in DEVICE_TYPES[kind].sensors)
    windows_query = (f"SELECT count(value_preprocessed_Count) FROM device_preprocessed WHERE {where} "
                     f"GROUP BY time({args.bucket}s), device_id, sensor fill(0)")
    # Telegraf's flush, the last windows, influxDBOut's buffer (10 s as shipped): until the last bucket's windows
    # of every pair are in, for at most 15 s.
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        last_bucket = per_minute(influx, windows_query).get(last - bucket, {})
        if all(last_bucket.get(pair, 0) >= args.bucket // WINDOW for pair in pairs):
            break
        time.sleep(0.5)
    after = memory(kapacitor)

    raw = per_minute(influx, f"SELECT count(value) FROM device_message WHERE {where} "
                             f"GROUP BY time({args.bucket}s), device_id, sensor fill(0)")
    windows = per_minute(influx, windows_query)
    per_pair = round(args.bucket / args.interval)
    per_window = args.bucket // WINDOW
    unit = "minute" if args.bucket == 60 else f"{args.bucket} s"
    print(f"\n{len(pairs)} device-sensor pairs; per pair and {unit}, sent {per_pair} readings and "
          f"device_preprocess closes {per_window} windows\n")
    print(f"| {unit} | raw landed / sent | fewest raw of a pair | windows / expected | fewest windows | silent pairs |")
    print("|---:|---:|---:|---:|---:|---|")
    rows = []
    for i, minute in enumerate(range(first, last, bucket)):
        got = [raw.get(minute, {}).get(pair, 0) for pair in pairs]
        won = [windows.get(minute, {}).get(pair, 0) for pair in pairs]
        silent = [f"{d} {s}" for (d, s), n in zip(pairs, got) if n == 0]
        rows.append({"raw": sum(got), "sent": per_pair * len(pairs), "fewest_raw": min(got, default=0),
                     "windows": sum(won), "expected": per_window * len(pairs), "fewest_windows": min(won, default=0),
                     "silent": silent})
        print(f"| {i + 1} | {sum(got):,} / {per_pair * len(pairs):,} | {min(got, default=0)} | "
              f"{sum(won):,} / {per_window * len(pairs):,} | {min(won, default=0)} | "
              f"{', '.join(silent[:4]) + (' ...' if len(silent) > 4 else '') or '-'} |")
    print("\n| memory (MiB) | start | end | growth |")
    print("|---|---:|---:|---:|")
    for name, mib in before.items():
        if name in after:
            print(f"| {name} | {mib:.1f} | {after[name]:.1f} | {after[name] - mib:+.1f} |")
    if run.returncode != 0:
        print(f"\nthe simulator exited with {run.returncode}:\n{run.stderr[-2000:]}")
    return {"rows": rows, "memory": {name: (mib, after[name]) for name, mib in before.items() if name in after},
            "simulator": run.returncode, "failed": run.returncode != 0 or any(row["silent"] for row in rows)}


if __name__ == "__main__":
    sys.exit(1 if main()["failed"] else 0)
