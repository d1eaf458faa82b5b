"""The fault suite: a fleet publishing while a service of the running stack is killed, counted back.

Each case runs a fleet of ``--devices`` devices (one reading per message,
one message per second each, stamped as sent) over MQTT, or Kafka for the
broker case, for ``--seconds``; ``--fault-at`` seconds in, the fault happens.
Afterwards every message sent is looked up in InfluxDB by device and time:

- ``lost``: sent but not in InfluxDB; ``extra``: in InfluxDB but not sent
  (InfluxDB keeps one point per series and time, so a message written twice
  is one point: duplicates cannot be told from the data, only extra times);
- ``recovered``: seconds from the kill until the service is healthy again
  (another process, started by supervisord: the bench only kills) and every
  enabled task is executing; for a UDF server, until the task watcher has
  also re-enabled every task that calls it (Kapacitor never reconnects).

Cases: each service of the single node (``tickml stack status``'s, but its
supervisord) killed with SIGKILL, its whole process group (Kapacitor's
process UDFs with it), and the power model store made read-only for 30 s (a
bind mount; power meters publish in that case): the note says how many
windows were bad with ``store_unwritable``, how many predictions came out
meanwhile, and ``recovered`` is the time from the store being writable again
to the next deployed model.

Run: ``python bench/faults.py`` (stack running: ``tickml stack start``);
``--cases`` picks some by name. Takes about ``(seconds + 30) * cases``.
``--smoke``: 3 devices for 12 s, Kapacitor and Telegraf killed (that it runs, and the figures to
check; ``main`` returns the rows). Telegraf's kill is the one that lost messages (a tick of the
fleet, 3 runs in 4, while its processors dropped the messages' delivery tracking); a killed UDF
server's windows are checked whole by tests/integration/test_udf_recovery.py.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
for folder in (ROOT / "tests", ROOT / "tests" / "integration"):
    sys.path.insert(0, str(folder))

from tickml.kapacitor import Kapacitor
from tickml.paths import RUN
from tickml.stack.catalog import services
from tickml.stack.service import Service
from tickml.udfcheck import udfs_called
from devices.replay import parse_time  # noqa: E402
from devices.simulator import fleet_messages  # noqa: E402
from tickml.influx import Influx
from stackutil import wait_until  # noqa: E402

TYPES = ["thermostat", "barometer"]  # one reading per message
MODELS = ROOT / ".stack" / "data" / "models" / "power"
SMOKE_CASES = ["kapacitor killed (-9)", "telegraf killed (-9)"]
RECOVERY_TIMEOUT = 90.0


def _service(name: str) -> Service:
    return next(s for s in services() if s.name == name)


class Kill:
    """SIGKILL to a service's process group; nothing else (supervisord is what starts it again)."""

    def __init__(self, name: str):
        self.name = name
        self.old_pid: int | None = None

    def __call__(self) -> float:
        self.old_pid = _service(self.name).pid()
        if self.old_pid is None:
            raise SystemExit(f"{self.name} is not running; start the stack first (tickml stack start)")
        os.killpg(self.old_pid, signal.SIGKILL)  # supervisord makes each program the leader of its own group
        return time.monotonic()


def _read_only_store(seconds: float):
    def fault() -> float:
        MODELS.mkdir(parents=True, exist_ok=True)
        subprocess.run(["mount", "--bind", str(MODELS), str(MODELS)], check=True)
        try:
            subprocess.run(["mount", "-o", "remount,bind,ro", str(MODELS)], check=True)
            time.sleep(seconds)
        finally:
            subprocess.run(["umount", str(MODELS)], check=True)
        return time.monotonic()
    return fault


def cases() -> dict[str, tuple[str, object]]:
    """name -> (protocol, fault)."""
    found = {f"{s.name} killed (-9)": ("kafka" if s.name == "kafka" else "mqtt", Kill(s.name))
             for s in services() if s.supervised}
    found["model store read-only 30 s"] = ("mqtt", _read_only_store(30.0))
    return found


def _callers(kapacitor: Kapacitor, udf: str) -> set[str]:
    """The enabled tasks that call UDF function ``udf`` (its socket is named after it)."""
    return {t["id"] for t in kapacitor.tasks() if t["status"] == "enabled"
            and udf in udfs_called((kapacitor.task(t["id"]) or {}).get("script", ""))}


def _executing(kapacitor: Kapacitor) -> set[str]:
    return {t["id"] for t in kapacitor.tasks() if t["status"] == "enabled" and t["executing"]}


def _back(kill: Kill, kapacitor: Kapacitor, influx: Influx, killed_ns: int, executing: set[str],
          callers: set[str]) -> bool:
    """Another process of the service healthy, every task ``executing`` before the kill executing again (one
    that was not is no fault of this one), and each of ``callers`` re-enabled by the watcher since the kill."""
    service = _service(kill.name)
    if service.pid() in (None, kill.old_pid) or not service.healthy():
        return False
    # The watcher's health is a heartbeat of the last seconds: the killed one's still counts; the new one's must.
    if kill.name == "task-watcher" and (RUN / "task-watcher.heartbeat").stat().st_mtime_ns < killed_ns:
        return False
    try:
        if not executing <= _executing(kapacitor):
            return False
    except Exception:  # Kapacitor not answering yet
        return False
    if not callers:
        return True
    rows = influx.query(f'SELECT down_seconds, "task" FROM task_recoveries WHERE time >= {killed_ns}')
    return callers <= {r["task"] for r in rows}


def run_case(name: str, protocol: str, fault, devices: int, seconds: float, fault_at: float, influx: Influx,
             kapacitor: Kapacitor) -> dict:
    prefix = f"flt{int(time.time()) % 100000}-"
    start = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 2))
    ticks = int(seconds)
    store_case = name.startswith("model store")
    types = ["power_meter"] if store_case else TYPES
    # tickml's command, not devices.simulator's: it hands in the stack's addresses and logins.
    proc = subprocess.Popen([sys.executable, "-m", "tickml", "devices", "simulate", "--protocol", protocol, "--devices",
                             str(devices), "--types", ",".join(types), "--ticks", str(ticks), "--prefix", prefix,
                             "--start", start, "--speed", "1", "-q"], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    messages = fleet_messages(devices=devices, types=types, prefix=prefix, ticks=ticks,
                              start_ns=parse_time(start), interval=1.0)
    expected = _points(messages)
    kill = fault if isinstance(fault, Kill) else None
    callers = _callers(kapacitor, kill.name.removeprefix("udf-")) if kill and kill.name.startswith("udf-") else set()
    time.sleep(2 + fault_at)
    executing = _executing(kapacitor)
    not_executing = sorted({t["id"] for t in kapacitor.tasks() if t["status"] == "enabled"} - executing)
    callers &= executing  # a task already down is re-enabled on the watcher's schedule, not the kill's
    fault_started = time.monotonic()
    fault_started_ns = time.time_ns()
    recovered_from = fault()
    fault_seconds = recovered_from - fault_started
    note, pids = "", (None, None)
    if kill is not None:
        wait_until(lambda: _back(kill, kapacitor, influx, fault_started_ns, executing, callers),
                   timeout=RECOVERY_TIMEOUT, interval=0.2, what=f"{kill.name} back and every task executing")
        recovery = time.monotonic() - fault_started
        pids = (kill.old_pid, _service(kill.name).pid())
        note = f"pid {pids[0]} -> {pids[1]}" + (f"; {len(callers)} tasks re-enabled" if callers else "")
        if not_executing:
            note += f"; not executing before the kill: {', '.join(not_executing)}"
    else:
        writable_ns = time.time_ns()

        def deployed():
            rows = influx.query(f"SELECT count(Deployed) FROM trained_models WHERE model = 'power' AND "
                                f"device_id =~ /^{prefix}/ AND Status = 'deployed' AND time >= {writable_ns}")
            return rows and rows[0]["count"] > 0

        wait_until(deployed, timeout=90, interval=0.5, what="a model deployed after the store is writable again")
        recovery = time.monotonic() - recovered_from
        bad = influx.query(f"SELECT count(Numberofmessages) FROM trained_models WHERE model = 'power' AND "
                           f"device_id =~ /^{prefix}/ AND Reason = 'store_unwritable'")
        served = influx.query(f"SELECT count(Hyperprediction) FROM predictions WHERE model = 'power' AND "
                              f"device_id =~ /^{prefix}/ AND time >= {fault_started_ns} AND time < {writable_ns}")
        note = (f"{bad[0]['count'] if bad else 0} windows store_unwritable, "
                f"{served[0]['count'] if served else 0} predictions meanwhile")
    _, err = proc.communicate(timeout=seconds + 180)
    try:
        wait_until(lambda: len(_landed(influx, prefix)) >= len(expected), timeout=60, interval=1.0,
                   what="every message to land")
    except AssertionError:
        pass  # what did not land is counted lost below
    time.sleep(2)
    got = _landed(influx, prefix)
    last = (err.strip().splitlines() or [""])[-1][:60]
    sender = "" if proc.returncode == 0 else f"sender exit {proc.returncode}: {last}"
    return {"case": name, "fault s": fault_seconds, "sent": len(expected), "landed": len(got & expected.keys()),
            "lost": len(expected.keys() - got), "extra": len(got - expected.keys()),
            "recovered s": recovery, "pid before": pids[0], "pid after": pids[1], "tasks executing": len(executing),
            "tasks not executing before": not_executing,
            "note": "; ".join(x for x in (note, sender) if x)}


def _points(messages: list[dict]) -> dict[tuple[str, int, str], float]:
    """(device_id, time, sensor) -> value of every reading the messages carry."""
    skip = ("device_id", "timestamp", "tag")
    return {(m["device_id"], parse_time(m["timestamp"]), k): v for m in messages for k, v in m.items() if k not in skip}


def _landed(influx: Influx, prefix: str) -> set[tuple[str, int, str]]:
    rows = influx.query(f"SELECT value, device_id, sensor FROM device_message WHERE device_id =~ /^{prefix}/")
    return {(r["device_id"], r["time"], r["sensor"]) for r in rows}


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--devices", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=60.0, help="how long each fleet sends")
    parser.add_argument("--fault-at", type=float, default=15.0)
    parser.add_argument("--cases", nargs="*", help="case names (default: all)")
    parser.add_argument("--smoke", action="store_true", help=f"3 devices x 12 s, fault at 4 s: {SMOKE_CASES}")
    args = parser.parse_args(argv)
    if args.smoke:
        args.devices, args.seconds, args.fault_at, args.cases = 3, 12.0, 4.0, args.cases or SMOKE_CASES
    influx, kapacitor = Influx(), Kapacitor()
    known = cases()
    unknown = sorted(set(args.cases or []) - known.keys())
    if unknown:
        parser.error(f"no case {unknown}; the cases are {list(known)}")
    chosen = {k: v for k, v in known.items() if not args.cases or k in args.cases}
    print(f"{args.devices} devices, one message per second each over MQTT (Kafka for the broker case), "
          f"{args.seconds:.0f} s per case, fault at {args.fault_at:.0f} s\n")
    header = f"{'fault':<34}{'fault s':>8}{'sent':>7}{'landed':>8}{'lost':>6}{'extra':>6}{'recovered s':>12}  note"
    print(header)
    rows = []
    for name, (protocol, fault) in chosen.items():
        r = run_case(name, protocol, fault, args.devices, args.seconds, args.fault_at, influx, kapacitor)
        print(f"{r['case']:<34}{r['fault s']:>8.1f}{r['sent']:>7}{r['landed']:>8}{r['lost']:>6}{r['extra']:>6}"
              f"{r['recovered s']:>12.1f}  {r['note']}", flush=True)
        rows.append(r)
    return rows


if __name__ == "__main__":
    main()
