"""The fault suite: a fleet publishing through each fault of the running stack, counted back.

Each case runs a fleet of ``--devices`` devices (one reading per message,
one message per second each, stamped as sent) over MQTT, or Kafka for the
broker case, for ``--seconds``; ``--fault-at`` seconds in, the fault happens.
Afterwards every message sent is looked up in InfluxDB by device and time:

- ``lost``: sent but not in InfluxDB; ``extra``: in InfluxDB but not sent
  (InfluxDB keeps one point per series and time, so a message written twice
  is one point: duplicates cannot be told from the data, only extra times);
- ``recovered``: seconds from the end of the fault (service back) until every
  message sent before it had landed, or, for the Kapacitor and UDF cases,
  until every task was executing again (UDF cases: as the task watcher
  recorded it).

Cases: InfluxDB stopped for 60 s (Telegraf buffers), Mosquitto restarted,
the Kafka broker restarted, Telegraf restarted, kapacitord killed (-9) and
started again, each socket UDF server killed (-9), and the power model store
made read-only for 30 s (a bind mount; power meters publish in that case):
the note says how many windows were bad with ``store_unwritable``, how many
predictions came out meanwhile, and ``recovered`` is the time from the store
being writable again to the next deployed model.

Run: ``python bench/faults.py`` (stack running: ``tickml stack start``);
``--cases`` picks some by name. Takes about ``(seconds + 60) * cases``.
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
from tickml.stack import process, supervision
from tickml.stack.catalog import services
from tickml.stack.service import Service
from tickml.stack import probes
from tickml.config import udf_sockets
from devices.replay import parse_time  # noqa: E402
from devices.simulator import fleet_messages  # noqa: E402
from tickml.influx import Influx
from stackutil import wait_until  # noqa: E402

TYPES = ["thermostat", "barometer"]  # one reading per message
MODELS = ROOT / ".stack" / "data" / "models" / "power"


def _service(name: str) -> Service:
    return next(s for s in services() if s.name == name)


def _restart(name: str, down: float):
    def fault() -> float:
        process.stop_service(_service(name))
        time.sleep(down)
        process.start_service(_service(name))  # InfluxDB's users and databases are its after_start
        return time.monotonic()
    return fault


def _kill_kapacitor() -> float:
    service = _service("kapacitor")
    os.killpg(service.pid(), signal.SIGKILL)
    wait_until(lambda: service.pid() is None and not any(probes.port_in_use(h, p) for h, p in service.ports),
               timeout=30, what="kapacitord gone and its port free")
    process.start_service(service)
    return time.monotonic()


def _kill_udf(module: str):
    def fault() -> float:
        os.kill(supervision.supervised_process(f"udf-{module}")["pid"], signal.SIGKILL)
        return time.monotonic()
    return fault


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


def _tasks_back(kapacitor: Kapacitor, since: float, timeout: float = 60) -> float:
    wait_until(lambda: all(t["executing"] for t in kapacitor.tasks() if t["status"] == "enabled"), timeout=timeout,
               interval=0.2, what="every enabled task executing")
    return time.monotonic() - since


def cases() -> dict[str, tuple[str, float, object]]:
    """name -> (protocol, fault duration as planned, fault)."""
    found = {
        "influxdb stopped 60 s": ("mqtt", 60.0, _restart("influxdb", 60.0)),
        "mosquitto restarted": ("mqtt", 5.0, _restart("mosquitto", 5.0)),
        "kafka broker restarted": ("kafka", 5.0, _restart("kafka", 5.0)),
        "telegraf restarted": ("mqtt", 5.0, _restart("telegraf", 5.0)),
        "kapacitord killed (-9)": ("mqtt", 0.0, _kill_kapacitor),
    }
    for module in sorted(udf_sockets()):
        found[f"udf {module} killed (-9)"] = ("mqtt", 0.0, _kill_udf(module))
    found["model store read-only 30 s"] = ("mqtt", 30.0, _read_only_store(30.0))
    return found


def run_case(name: str, protocol: str, fault, devices: int, seconds: float, fault_at: float, influx: Influx,
             kapacitor: Kapacitor) -> dict:
    prefix = f"flt{int(time.time()) % 100000}-"
    start = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 2))
    ticks = int(seconds)
    store_case = name.startswith("model store")
    types = ["power_meter"] if store_case else TYPES
    proc = subprocess.Popen([sys.executable, "-m", "devices.simulator", "--protocol", protocol, "--devices",
                             str(devices), "--types", ",".join(types), "--ticks", str(ticks), "--prefix", prefix,
                             "--start", start, "--speed", "1", "-q"], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    messages = fleet_messages(devices=devices, types=types, prefix=prefix, ticks=ticks,
                              start_ns=parse_time(start), interval=1.0)
    expected = _points(messages)
    time.sleep(2 + fault_at)
    fault_started = time.monotonic()
    fault_started_ns = time.time_ns()
    recovered_from = fault()
    fault_seconds = recovered_from - fault_started
    sent_before = {k for k in expected if k[1] <= time.time_ns() - 10**9}
    note = ""
    if name.startswith("udf"):
        killed_ns = time.time_ns() - int((time.monotonic() - fault_started) * 1e9)

        def recorded():
            rows = influx.query(f"SELECT down_seconds FROM task_recoveries WHERE time >= {killed_ns}")
            return rows and all(t["executing"] for t in kapacitor.tasks() if t["status"] == "enabled")

        wait_until(recorded, timeout=60, interval=0.2, what="the watcher's recovery")
        recovery = time.monotonic() - recovered_from
    elif name.startswith("kapacitord"):
        recovery = _tasks_back(kapacitor, recovered_from)
    elif store_case:
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
    else:
        def caught_up():
            return sent_before <= _landed(influx, prefix)
        wait_until(caught_up, timeout=180, interval=0.5, what="everything sent before the fault to land")
        recovery = time.monotonic() - recovered_from
    _, err = proc.communicate(timeout=seconds + 180)
    if proc.returncode == 0:
        wait_until(lambda: len(_landed(influx, prefix)) >= len(expected), timeout=60, interval=1.0,
                   what="every message to land")
    time.sleep(2)
    got = _landed(influx, prefix)
    sender = "" if proc.returncode == 0 else f"sender exit {proc.returncode}: {err.strip().splitlines()[-1][:60]}"
    return {"case": name, "fault s": fault_seconds, "sent": len(expected), "landed": len(got & expected.keys()),
            "lost": len(expected.keys() - got), "extra": len(got - expected.keys()),
            "recovered s": recovery, "note": "; ".join(x for x in (note, sender) if x)}


def _points(messages: list[dict]) -> dict[tuple[str, int, str], float]:
    """(device_id, time, sensor) -> value of every reading the messages carry."""
    skip = ("device_id", "timestamp", "tag")
    return {(m["device_id"], parse_time(m["timestamp"]), k): v for m in messages for k, v in m.items() if k not in skip}


def _landed(influx: Influx, prefix: str) -> set[tuple[str, int, str]]:
    rows = influx.query(f"SELECT value, device_id, sensor FROM device_message WHERE device_id =~ /^{prefix}/")
    return {(r["device_id"], r["time"], r["sensor"]) for r in rows}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--devices", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=90.0, help="how long each fleet sends")
    parser.add_argument("--fault-at", type=float, default=15.0)
    parser.add_argument("--cases", nargs="*", help="case names (default: all)")
    args = parser.parse_args()
    influx, kapacitor = Influx(), Kapacitor()
    chosen = {k: v for k, v in cases().items() if not args.cases or k in args.cases}
    print(f"{args.devices} devices, one message per second each over MQTT (Kafka for the broker case), "
          f"{args.seconds:.0f} s per case, fault at {args.fault_at:.0f} s\n")
    header = f"{'fault':<34}{'fault s':>8}{'sent':>7}{'landed':>8}{'lost':>6}{'extra':>6}{'recovered s':>12}  note"
    print(header)
    for name, (protocol, _, fault) in chosen.items():
        r = run_case(name, protocol, fault, args.devices, args.seconds, args.fault_at, influx, kapacitor)
        print(f"{r['case']:<34}{r['fault s']:>8.1f}{r['sent']:>7}{r['landed']:>8}{r['lost']:>6}{r['extra']:>6}"
              f"{r['recovered s']:>12.1f}  {r['note']}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
