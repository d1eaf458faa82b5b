"""Page load time and points fetched per page of the dashboard, with the demo fleet and with 10,000 devices.

For each page (the fleet, one device, the tasks and UDFs) a real Chromium
opens the page of a dashboard started for the run (``tickml dashboard`` on a
free port) and the clock stops when every panel has answered (drawn, empty
or in error); the page's points fetched are what its panels' notes say.
Each figure is the median of ``--loads`` loads after one that warms the
browser's cache.

Two fleets:

- demo: the stack's own database with the demo's fleet (18 devices of every
  type, one message a second each, as stack/demo.sh runs it) publishing for
  ``--demo-seconds`` first, through the whole stack; other devices that
  wrote in the range count too.
- 10,000: ``--devices`` simulated devices written directly to a database of
  their own as line protocol (the admin account): the last ``--minutes`` of
  readings every 10 s (power meters: voltage, current, power; the rest one
  sensor), their 10 s aggregates and window statistics, the power meters'
  predictions and training windows, rejects, the fleet's activity, Telegraf's
  input counters, UDF counters and Kapacitor statistics of the task list's
  tasks. The dashboard reads every panel from that one database
  (``--database``), over the range written (writing takes a minute or more).

References, side by side in the same run:

- "InfluxDB alone": the page's very queries, filled in for the same range,
  run one after another through tickml.influx.Influx as the dashboard's
  account: what the queries cost without Dash, Plotly and the browser.
- "a line per device": what the fleet page would fetch if it drew one series
  per device (the old Grafana panel "Readings per device": mean reading per
  device and sensor in each bucket); the points and time of that one query.

Usage (the stack must run: tickml stack start; the test extra for Playwright)::

    python bench/dashboard_load.py [--devices 10000] [--minutes 15] [--loads 3]
        [--demo-seconds 120] [--no-demo] [--no-fleet] [--keep] [--smoke]

``--smoke``: the synthetic fleet only, 12 devices (two of each type) over 2 minutes, one load of each page
after the warm-up, seconds (tests/integration/test_bench_dashboard_load.py runs it, so that the bench cannot
rot). The demo fleet is not in it: its power meters have predictions only minutes after they start.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import random
import socket
import statistics
import subprocess
import sys
import time
import urllib.parse
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
from tickml.dashboard import guard, influxql, settings  # noqa: E402
from tickml.dashboard.panels import page_panels  # noqa: E402
from tickml.dashboard.probe import ALL_ANSWERED_JS, launch, new_page, panel_states, points_fetched  # noqa: E402
from tickml.dashboard.source import Source  # noqa: E402
from tickml.dashboard.timerange import Range, bucket, parse_duration  # noqa: E402
from tickml.influx import Influx, line  # noqa: E402
from tickml.stack import probes  # noqa: E402
from tickml.tasks import load_tasks  # noqa: E402

BENCH_DB = "dashboard_bench"
DEMO_TYPES = "thermostat,barometer,hygrometer,heart_rate_meter,temp_sensor,power_meter"
SENSORS = {"thermostat": ["temperature"], "barometer": ["pressure"], "hygrometer": ["humidity"],
           "heart_rate_meter": ["heart_rate"], "temp_sensor": ["temperature"],
           "power_meter": ["voltage", "current", "power"]}
BATCH = 5000


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def dashboard(*args: str):
    """``tickml dashboard`` on a free port for the run; its URL."""
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "tickml", "dashboard", "--listen", f"127.0.0.1:{port}", *args],
                            cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)}, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while not probes.http_ok(url + "/", guard.authorization()):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"the dashboard did not start (exit {proc.poll()})")
            time.sleep(0.2)
        yield url
    finally:
        proc.terminate()
        proc.wait(15)


# ---------------------------------------------------------------------------- the synthetic fleet


def synthetic_fleet(influx: Influx, devices: int, minutes: int, seed: int = 7) -> tuple[int, str, Range]:
    """Write the fleet to BENCH_DB; returns the points written, a power meter's id and the range they cover."""
    rng = random.Random(seed)
    types = list(SENSORS)
    end = time.time_ns() // 10**10 * 10**10
    ticks = [end - i * 10 * 10**9 for i in range(minutes * 6, 0, -1)]
    written = 0
    pending: list[str] = []

    def put(lines) -> None:
        pending.extend(lines)
        if len(pending) >= BATCH:
            flush()

    def flush() -> None:
        nonlocal written
        if pending:
            influx.write(pending, database=BENCH_DB)
            written += len(pending)
            pending.clear()

    meter = ""
    for n in range(devices):
        kind = types[n % len(types)]
        device = f"bench-{kind}-{n}"
        meter = meter or (device if kind == "power_meter" else "")
        base = {s: rng.uniform(10, 1000) for s in SENSORS[kind]}
        for i, t in enumerate(ticks):
            for sensor, level in base.items():
                value = level * (1 + 0.01 * rng.gauss(0, 1))
                tags = {"device_id": device, "sensor": sensor}
                put([line("device_message", {**tags, "device_type": kind}, {"value": value}, t),
                     line("device_aggregates", tags, {"avg": value, "min": value * 0.99, "max": value * 1.01,
                                                      "count": 10}, t),
                     line("device_preprocessed", tags, {
                         "value_preprocessed_Avg": value, "value_preprocessed_Median": value,
                         "value_preprocessed_Variance": level * 0.01, "value_preprocessed_Count": 30.0,
                         "value_preprocessed_AnomProb": rng.uniform(0, 100), "Numberofmessages": 30,
                         "Skippedvalues": 0, "WindowStartUnixTime": t - 30 * 10**9,
                         "WindowEndUnixTime": t}, t)])
            if kind == "power_meter":
                power = base["power"]
                for model, answered in (("power", "entity"), ("failure_prob", "fleet")):
                    put([line("predictions", {"device_id": device, "model": model},
                              {"Hyperprediction": power * (1 + 0.02 * rng.gauss(0, 1)), "power": power,
                               "voltage": base["voltage"], "current": base["current"], "Answeredby": answered,
                               "Probability1": rng.random()}, t)])
                    if i % 2 == 0:
                        status = "deployed" if i == 0 else rng.choice(("kept", "kept", "bad"))
                        put([line("trained_models", {"device_id": device, "model": model},
                                  {"Numberofmessages": 120, "Status": status, "Deployed": int(status == "deployed"),
                                   "Forecastaccuracy": rng.uniform(0.9, 1), "Championaccuracy": rng.uniform(0.9, 1),
                                   "Modelversion": i, "MachineLearningAlgorithm": "Linear Regression",
                                   "Metric": "mape", "Metricvalue": rng.uniform(0, 0.1)}, t)])
        if n % 500 == 0:
            put([line("device_reject", {"device_id": device, "reason": "not_a_number"},
                      {"count": 1, "detail": "power is a string"}, ticks[-1])])
    task_names = [task.name for task in load_tasks()]
    for i, t in enumerate(ticks):
        put([line("fleet_activity", {}, {"devices": devices}, t)])
        put([line("internal_gather", {"input": name}, {"metrics_gathered": i * devices * 10 // 3}, t)
             for name in ("mqtt_consumer", "http_listener_v2", "kafka_consumer")])
        for task in task_names:
            node = f"{task}_udf2"
            counters = {"tickml_udf_points_in_total": float(i * 1000), "tickml_udf_points_out_total": float(i * 900),
                        "tickml_udf_handler_seconds_total": i * 0.02, "tickml_udf_keepalives_total": float(i),
                        "tickml_udf_keepalives_withheld_total": 0.0}
            put([line("udf_metrics", {"udf": "py_classifier", "task": task, "node": node}, counters, t),
                 line("udf_metrics", {"udf": "py_classifier", "task": task, "node": node, "kind": "handler_error"},
                      {"tickml_udf_errors_total": 0.0}, t),
                 line("udf_metrics", {"udf": "py_classifier", "task": task, "node": node,
                                      "reason": "field 'value' is a string, not a number"},
                      {"tickml_udf_bad_points_total": float(i)}, t),
                 line("edges", {"task": task, "parent": "stream", "child": "stream0", "type": "stream"},
                      {"collected": i * 1000, "emitted": i * 1000}, t),
                 line("nodes", {"task": task, "node": node, "kind": "py_classifier", "type": "stream"},
                      {"avg_exec_time_ns": 40_000, "errors": 0, "working_cardinality": devices}, t)])
        if i % 30 == 0:
            put([line("task_recoveries", {"task": task_names[i % len(task_names)]},
                      {"down_seconds": 1.5, "udfs": "py_classifier", "reason": "UDF py_classifier went away"}, t)])
    flush()
    # Writing takes a minute or more: the pages look at the range written, not at the last minutes.
    return written, meter, Range(end - minutes * 60 * 10**9, end)


# ---------------------------------------------------------------------------- measuring


def load_page(browser, url: str, loads: int) -> tuple[float, int, dict]:
    """Median seconds until every panel answered, over ``loads`` loads after a warm-up; points fetched."""
    page = new_page(browser, viewport={"width": 1400, "height": 1000})  # the stack's dashboard login
    seconds = []
    try:
        for n in range(loads + 1):
            started = time.perf_counter()
            page.goto(url)
            page.wait_for_function(ALL_ANSWERED_JS, timeout=120_000)
            if n:
                seconds.append(time.perf_counter() - started)
        states = panel_states(page)
    finally:
        page.context.close()
    return statistics.median(seconds), points_fetched(states), states


def influx_alone(source: Source, page: str, when: Range, variables: dict) -> tuple[float, int]:
    """The page's queries, one after another, straight through the InfluxDB client: seconds and points."""
    started = time.perf_counter()
    points = 0
    listed = [task.name for task in load_tasks()]
    for panel in page_panels(page):
        points += sum(r.points for r in source.panel(panel, when, variables, listed))
    return time.perf_counter() - started, points


def line_per_device(source: Source, when: Range, database: str) -> tuple[float, int]:
    seconds = bucket(when.seconds, source.settings.max_points, 10)
    query = influxql.render('SELECT mean("value") FROM "device_message" WHERE $timeFilter '
                            'GROUP BY time($__interval), "device_id", "sensor" fill(none)', when, seconds, {})
    started = time.perf_counter()
    series = source.influx.series(query.text, database=database, params=query.params)
    return time.perf_counter() - started, sum(len(s["values"]) for s in series)


def _iso(ns: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ns // 10**9))


def measure(browser, url: str, source: Source, device: str, loads: int, database: str, label: str,
            fixed: Range | None = None) -> list[tuple]:
    """Each page's load and points, and the references; over the last default-range, or the range ``fixed``."""
    rows = []
    window = parse_duration(source.settings.default_range) * 10**9

    def span() -> Range:
        now = time.time_ns()
        return fixed or Range(now - window, now)

    query = f"from={_iso(fixed.start)}&to={_iso(fixed.end)}&refresh=0" if fixed else "refresh=0"
    for page, path in (("fleet", "/"), ("device", f"/device/{urllib.parse.quote(device, safe='')}"),
                       ("tasks", "/tasks")):
        seconds, points, states = load_page(browser, f"{url}{path}?{query}", loads)
        alone_s, alone_points = influx_alone(source, page, span(),
                                             {"device": device, "sensor": "power", "stats": "Avg|Median"})
        drawn = sum(s["state"] == "ready" for s in states.values())
        rows.append((label, page, seconds, points, f"{drawn}/{len(states)}", alone_s, alone_points))
    seconds, points = line_per_device(source, span(), database)
    rows.append((label, "a line per device (reference)", None, None, "", seconds, points))
    return rows


def main(argv: list[str] | None = None) -> list[dict]:
    """Run; the rows printed: fleet, page, load seconds and points fetched (None for the reference), panels
    drawn ("n/m"), and the seconds and points of InfluxDB alone."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--devices", type=int, default=10_000)
    parser.add_argument("--minutes", type=int, default=15)
    parser.add_argument("--loads", type=int, default=3)
    parser.add_argument("--demo-seconds", type=int, default=120)
    parser.add_argument("--no-demo", action="store_true", help="skip the demo fleet")
    parser.add_argument("--no-fleet", action="store_true", help="skip the synthetic fleet")
    parser.add_argument("--keep", action="store_true", help=f"keep the database {BENCH_DB}")
    parser.add_argument("--smoke", action="store_true", help="12 synthetic devices, 2 minutes, one load, no demo "
                        "fleet: that it runs, not a figure")
    args = parser.parse_args(argv)
    if args.smoke:
        args.devices, args.minutes, args.loads, args.no_demo = 12, 2, 1, True

    from playwright.sync_api import sync_playwright

    conf = settings.load()
    admin = Influx()
    rows = []
    with sync_playwright() as p:
        browser = launch(p)
        if not args.no_demo:
            print(f"demo fleet: 18 devices of every type publishing for {args.demo_seconds} s ...", flush=True)
            demo = subprocess.run([sys.executable, "-m", "tickml", "devices", "simulate", "--devices", "18", "--types",
                                   DEMO_TYPES, "--per-device", "--prefix", "benchdemo-", "--duration",
                                   str(args.demo_seconds), "-q"], cwd=REPO, capture_output=True, text=True)
            if demo.returncode:
                raise SystemExit(f"the demo fleet failed: {demo.stderr[-2000:]}")
            source = Source(conf)
            meter = admin.query('SHOW TAG VALUES FROM "predictions" WITH KEY = "device_id" '
                                "WHERE \"device_id\" =~ /^benchdemo-power_meter/ LIMIT 1")[0]["value"]
            reporting = admin.query('SELECT count("n") FROM (SELECT count("avg") AS "n" FROM "device_aggregates" '
                                    'WHERE time > now() - 15m GROUP BY "device_id")')[0]["count"]
            with dashboard() as url:
                rows += measure(browser, url, source, meter, args.loads, conf.databases["telemetry"],
                                f"demo ({reporting} devices in the range)")
        if not args.no_fleet:
            admin.execute(f'CREATE DATABASE "{BENCH_DB}"')
            admin.execute(f'GRANT READ ON "{BENCH_DB}" TO "{conf.account}"')
            try:
                started = time.perf_counter()
                written, meter, written_range = synthetic_fleet(admin, args.devices, args.minutes)
                took = time.perf_counter() - started
                print(f"synthetic fleet: {written:,} points for {args.devices:,} devices written in {took:.0f} s",
                      flush=True)
                source = Source(conf.replace(databases={key: BENCH_DB for key in conf.databases}))
                with dashboard("--database", BENCH_DB) as url:
                    rows += measure(browser, url, source, meter, args.loads, BENCH_DB, f"{args.devices:,} devices",
                                    written_range)
            finally:
                if not args.keep:
                    admin.execute(f'DROP DATABASE "{BENCH_DB}"')
        browser.close()

    print(f"\nrange: the last {conf.default_range}; at most {conf.max_points} points per series, {conf.max_series} "
          f"series per panel; median of {args.loads} loads after a warm-up (machine: {os.cpu_count()} cores)\n")
    header = (f"{'fleet':<34}{'page':<31}{'load s':>8}{'points':>9}{'drawn':>7}"
              f"{'InfluxDB alone s':>18}{'points':>11}")
    print(header)
    print("-" * len(header))
    for label, page, seconds, points, drawn, alone_s, alone_points in rows:
        load = f"{seconds:.2f}" if seconds is not None else "-"
        fetched = f"{points:,}" if points is not None else "-"
        print(f"{label:<34}{page:<31}{load:>8}{fetched:>9}{drawn:>7}{alone_s:>18.2f}{alone_points:>11,}")
    return [dict(zip(("fleet", "page", "load_s", "points", "drawn", "influx_s", "influx_points"), row))
            for row in rows]


if __name__ == "__main__":
    main()
