"""The shipped ``@anomaly()`` task on the NAB development split, through the running stack, beside NAB's published results.

Each NAB series is one entity (``device_id`` = its file name). Its rows are written to Kapacitor's ``/write``
as Telegraf's subscription would deliver them, time-stamped as in the file, into a task defined from the shipped
``tick_scripts/device_anomaly.tick`` (its defaults; only the measurement, database, alert topic and flush
interval are the run's own). The task's ``@anomaly()`` scores every point and ``influxDBOut`` writes the scores
to InfluxDB; the bench reads every ``anomaly_score`` back from InfluxDB and scores the set with NAB's scorer
(``bench/nabscore.py``) on its three profiles, beside numenta (HTM) and windowedGaussian rescored from their
published per-point scores and ARTime's published 68.8. The same series through the detector in this process
(``bench/nab_inprocess.py``'s replay) must give the same scores: the bench prints the largest difference.

It also counts what a user would see: the task's anomaly alerts (CRITICAL events of the ``alerts`` measurement)
and how many of them fall inside a NAB anomaly window.

A file that repeats a timestamp (four files do, 25 rows in all) would have its earlier row overwritten in
InfluxDB; each repeat is written 1 ns after the row it repeats instead, so every row keeps its score.

``--smoke`` runs two short series (the integration tests run it). Needs the stack: ``tickml stack start``.

Run: ``python bench/nab.py [--smoke] [--data NAB_DEV]``.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "bench"), str(ROOT / "tests")]

import nab_inprocess  # noqa: E402
import nabscore  # noqa: E402
from nabscore import PROFILES, PUBLISHED  # noqa: E402

SCRIPT = ROOT / "tick_scripts" / "device_anomaly.tick"
CHUNK = 20_000  # lines per /write


def stamps(times: list) -> list[int]:
    """The file's times in ns, a repeated time moved 1 ns past the row it repeats (see the module's docstring)."""
    out, seen = [], set()
    for t in times:
        ns = nab_inprocess.time_ns(t)
        while ns in seen:
            ns += 1
        seen.add(ns)
        out.append(ns)
    return out


def through_stack(data: dict, timeout: float = 900.0) -> tuple[dict[str, dict[int, float]], list[dict], float]:
    """Every series through the shipped task: ``({series: {time ns: score}}, alert rows, seconds)``."""
    from stackutil import wait_until
    from tickml.influx import Influx, line
    from tickml.kapacitor import Kapacitor

    run = f"{time.time_ns() // 10**6 % 10**9}"
    task, database, measurement, topic = f"nab_{run}", f"tickml_nab_{run}", f"nab_{run}", f"nab-{run}"
    kapacitor, influx = Kapacitor(), Influx()
    influx.execute(f'CREATE DATABASE "{database}"')
    task_vars = {"measurement": {"type": "string", "value": measurement},
                 "database": {"type": "string", "value": database},
                 "topic": {"type": "string", "value": topic},
                 "flush_interval": {"type": "duration", "value": 10**9}}
    expected = {name: len(values) for name, (_, values) in data.items()}
    try:
        kapacitor.create(task, SCRIPT.read_text(), task_vars, status="enabled")
        lines = [line(measurement, {"device_id": name, "sensor": "value"}, {"value": v}, t)
                 for name, (times, values) in data.items() for t, v in zip(stamps(times), values)]
        start = time.perf_counter()
        for i in range(0, len(lines), CHUNK):
            kapacitor.write(lines[i:i + CHUNK])

        def landed() -> bool:
            rows = influx.query('SELECT count("anomaly_score") FROM "anomaly" GROUP BY "device_id"', database)
            counts = {r["device_id"]: r["count"] for r in rows}
            return all(counts.get(name, 0) >= n for name, n in expected.items())

        wait_until(landed, timeout=timeout, interval=0.5, what=f"{sum(expected.values())} scores in {database}")
        seconds = time.perf_counter() - start
        scores: dict[str, dict[int, float]] = {name: {} for name in data}
        for name in data:
            for row in influx.query(f"SELECT \"anomaly_score\" FROM \"anomaly\" WHERE \"device_id\" = '{name}'",
                                    database):
                scores[name][row["time"]] = row["anomaly_score"]
        alerts = influx.query('SELECT "level", "anomaly_score" FROM "alerts" GROUP BY "device_id"', database)
        return scores, alerts, seconds
    finally:
        kapacitor.delete(task)
        try:
            kapacitor._call("DELETE", f"/alerts/topics/{topic}")
        except Exception:  # noqa: BLE001 - a topic that never got an event does not exist
            pass
        influx.execute(f'DROP DATABASE "{database}"')


def alert_table(alerts: list[dict], windows: dict, data: dict) -> tuple[int, int, int, int]:
    """(CRITICAL alerts, of them inside a window, windows with one, windows) of the series given."""
    inside, caught = 0, set()
    critical = [a for a in alerts if a["level"] == "CRITICAL" and a["device_id"] in data]
    for a in critical:
        spans = windows.get(a["device_id"], [])
        at = nab_inprocess.time_ns
        for k, (lo, hi) in enumerate(spans):
            if at(lo) <= a["time"] <= at(hi):
                inside += 1
                caught.add((a["device_id"], k))
                break
    return len(critical), inside, len(caught), sum(len(windows.get(n, [])) for n in data)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--smoke", action="store_true", help="two short series: about a minute")
    ap.add_argument("--data", type=Path, default=nabscore.nab_dev_folder(), help="the NAB development split")
    ap.add_argument("--workers", type=int, default=2, help="processes for the in-process replay")
    args = ap.parse_args(argv)
    folder = args.data
    if not (folder / "combined_windows.json").exists():
        print(f"no NAB development split at {folder}: give --data, or set TICKML_NAB_DEV", file=sys.stderr)
        return 2
    data = nab_inprocess.load(folder, list(nab_inprocess.SMOKE_FILES) if args.smoke else None)
    windows = nabscore.load_windows(folder)
    points = sum(len(v) for _, v in data.values())

    stacked, alerts, seconds = through_stack(data)
    ours = {}
    for name, (times, _) in data.items():
        by_time = stacked[name]
        ours[name] = (times, [by_time.get(t, 0.0) for t in stamps(times)])
    missing = sum(t not in stacked[n] for n, (times, _) in data.items() for t in stamps(times))
    local = nab_inprocess.run_grid(data, [{}], 1 if args.smoke else args.workers)[0]
    diff = max((abs(a - b) for n in data for a, b in zip(ours[n][1], local[n][1])), default=0.0)

    n_windows = sum(len(windows.get(n, [])) for n in data)
    print(f"NAB development split through the stack: {len(data)} series, {points} points, {n_windows} windows"
          f"{' (--smoke)' if args.smoke else ''}")
    print("Kapacitor /write -> tick_scripts/device_anomaly.tick (@anomaly(), its defaults) -> InfluxDB, read back")
    print()
    print(f"{'detector':34s}" + "".join(f"{name:>20s}" for name in PROFILES))
    rows = [("tickml @anomaly (through the stack)", ours), ("tickml udfs.detect (in process)", local)]
    for detector in ("numenta", "windowedGaussian"):
        base = folder / "published_scores" / detector
        rows.append((f"{detector} (rescored)", {n: nabscore.read_scores(base / n, "anomaly_score") for n in data}))
    for label, series in rows:
        print(f"{label:34s}" + "".join(f"{nabscore.score_set(series, windows, pr)['score']:20.1f}"
                                       for pr in PROFILES.values()))
    print(f"{'ARTime (published)':34s}{PUBLISHED['ARTime']:20.1f}{'-':>20s}{'-':>20s}")
    if args.smoke:
        print("(--smoke: two series only; the published figures are for the whole split)")
    print()
    print(f"scores read back: {points - missing} of {points}; largest difference from the in-process replay: {diff:.3g}")
    raised, inside, caught, total = alert_table(alerts, windows, data)
    print(f"anomaly alerts (device_anomaly's alert node, CRITICAL): {raised} raised, {inside} inside a NAB window; "
          f"{caught} of {total} windows alerted")
    print(f"written to scores in InfluxDB: {seconds:.1f} s, {points / seconds:,.0f} points/s "
          "(Kapacitor, the UDF, influxDBOut and InfluxDB together)")
    return 0 if missing == 0 and diff < 1e-9 else 1


if __name__ == "__main__":
    sys.exit(main())
