"""Faults in, alerts out: a healthy fleet through the real stack, incidents planted on chosen devices, alerts counted.

A fleet of ``--devices`` simulated devices (``tickml devices simulate``, the default single-reading types,
one message per ``--interval`` seconds each, over MQTT behind the simulator's gateway login) publishes for
``--minutes``. Some devices get one incident each (devices/faults.py, ``--incident KIND:DEVICE:TICK:SIZE``),
the kinds in turn, ``--per-kind`` devices a kind; the others stay healthy to the end:

- ``spike``: the message at the incident's tick is off by SIZE sd (default 8), the rest as before;
- ``shift``: every message from the tick is off by SIZE sd (default 4);
- ``drift``: from the tick the readings move SIZE sd further every message (default 0.05);
- ``stuck``: from the tick the device repeats that message's readings;
- ``silence``: from the tick the device sends nothing.

An sd is the sensor's in devices/fleet.py's ``DEVICE_TYPES`` (the spread of levels between devices), five
times the readings' own noise. The incidents fall after the anomaly detector's 150 learning points per
series (the first at message 180, the others spread over the next 30 % of the run), so each one is scored.

The alerts are the shipped alert tasks' own, defined afresh for the run from tick_scripts/ with vars of the
run's own: ``device_anomaly.tick`` with its defaults (threshold 0.5, reset 0.3, calm_seconds 300) but its
scores and alerts in a database of the run's own (its ``database`` var), and ``device_silence.tick`` with a
shorter ``silence`` than the shipped 2 minutes (``--silence``: 30 s, 5 s at the smoke size; the fleet
sends every second or faster). Both publish to a topic of the run's own, whose events a log handler writes
to .stack/logs/bench-alerts-<run>.log. The tasks read all of ``device_message``; only the run's devices (a
prefix of its own) are counted. The shipped tasks also see the run's devices and write their own alerts of
them; the silence alerts of both land in ``telemetry``, where the run's are told from the shipped task's
by the topic's log (the same device, level and time).

The topic also has a copy of every shipped handler of device-alerts (kapacitor/alert_handlers.json: log to
.stack/logs/alerts.log, mqtt, kafka, webhook, email), and each has its real receiver for the run
(tests/alert_receivers.py, as tests/integration/test_alert_handlers.py runs them): the alerts' reader on
Mosquitto's alerts/#, a consumer of tickml-alerts, an HTTP server on the webhook's URL, an SMTP server on
[smtp]'s port, and alerts.log from its end. The shipped tasks' alerts of the run's devices reach the same
receivers with the same alert ids (``anomaly/<device>/<sensor>``, ``silence/<device>``) and, for the same
reading, the same message. What tells the run's apart:

- log, kafka, webhook: Kapacitor's alert JSON, whose ``details`` (the scripts set none: Kapacitor's default,
  the alert's template data) name the task (TaskName); an alert counts as arrived when one with the run's
  task, its id, level and time (to the nanosecond) did;
- email: the same details are the mail's body (its subject the message): counted the same way;
- mqtt: the payload is the message alone, on alerts/<device id> (percent-encoded twice, decoded here), so
  nothing in it names the task. An alert counts as arrived when its device's topic got its message at least
  as many times as the run's CRITICAL alerts (stamped before the fleet's end) plus the other tasks' alerts of
  that device with that message (as many as the most any of the four handlers above received) raised it.
  So an MQTT message is never credited to the run when the shipped task's copy explains it; a duplicate
  delivery (QoS 1) or an alert after the fleet's end with the same text (a second "is silent") would be.

The receivers are read once every CRITICAL alert of the run has arrived through every handler, or after
30 s more.

Read back from InfluxDB's ``alerts`` once the fleet has stopped and every reading has been scored, counting
alerts stamped before the fleet's last message only (every device falls silent after it):

- ``faulted``: devices with an incident of the kind;
- ``alerted``: of them, devices with a CRITICAL alert (of any alert task, any sensor) stamped at or after
  the incident; ``by``: how many of those by each alert;
- ``log`` ... ``email``: of the faulted devices, those whose first CRITICAL alert after the incident arrived
  through that handler, as alerted/faulted;
- ``seconds``: from the incident (the time stamped on its first faulted message, or for silence on the first
  message it did not send) to the device's first CRITICAL alert after it, each device's; an anomaly
  alert is stamped with the reading that raised it, a silence alert with the deadman's check;
- ``alerts per incident``: CRITICAL alerts at or after the incident, per faulted device;
- ``already CRITICAL``: faulted devices with an alert still CRITICAL (a false one) when the incident began:
  the alerts pass on changes of level only, so the incident brings no new alert from it;
- ``false alerts``: CRITICAL alerts on a device without an incident, or before its incident, each named;
  per device-hour of healthy sending (the devices without an incident for the whole run, the others until
  their incident; the learning points included, where the detector cannot alarm).

And per faulted device its incident, first alert, and the highest anomaly score of its readings after the
incident (from the task's ``anomaly`` measurement), which tells a detector that saw nothing from a pipeline
that lost the alert, and the handlers its first alert did not arrive through; then every CRITICAL alert of
the run (before the fleet's end) that did not arrive through a handler, with the handlers it missed. The
exit code is 1 unless every faulted device was alerted, its first alert after the incident through every
handler, and no false alert came.

Run: ``python bench/alerts.py [--minutes 10] [--devices 16] [--interval 0.5] [--per-kind 2]`` (stack running:
``tickml stack start``; the webhook's and [smtp]'s ports free: nothing else may receive them meanwhile);
``--smoke`` is 10 devices, one per kind, every 0.1 s, for 1 minute, a shift of
8 sd and a drift of 0.1 sd a message, the incidents within 15 % of the run (tests/integration/test_bench_alerts.py
runs it).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
for folder in (ROOT, ROOT / "tests"):
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))

from devices.faults import INCIDENT_KINDS, INCIDENT_SIZES, Incident  # noqa: E402
from devices.fleet import Fleet  # noqa: E402
from devices.replay import parse_time  # noqa: E402
from alert_receivers import AlertsConsumer, LogTail, MailServer, MqttReader, Webhook  # noqa: E402
from stackutil import flush_vars, wait_until  # noqa: E402
from tickml import secrets  # noqa: E402
from tickml.influx import Influx  # noqa: E402
from tickml.kapacitor import Kapacitor  # noqa: E402
from tickml.paths import LOGS  # noqa: E402
from tickml.tasks import load_handlers  # noqa: E402

TYPES = ["thermostat", "barometer", "hygrometer", "heart_rate_meter"]  # the simulator's default: a reading each
LEARNING = 150  # device_anomaly.tick's `learning`: points a series learns from before it is scored
SCRIPTS = ROOT / "tick_scripts"
READER = "tickml-alerts-reader"  # the MQTT login that reads alerts/#
SHIPPED_TOPIC = "device-alerts"  # whose shipped handlers the run's topic copies
EXACT = ("log", "kafka", "webhook", "email")  # the handlers whose payload names the task (see the docstring)


@dataclasses.dataclass
class Settings:
    minutes: float = 10.0
    devices: int = 16
    interval: float = 0.5
    per_kind: int = 2
    silence: float = 30.0  # seconds: device_silence.tick's `silence` for the run
    learned_after: int = LEARNING + 30  # the first incident's tick
    spread: float = 0.3  # the incidents' ticks spread over this share of the run after the first
    sizes: dict = dataclasses.field(default_factory=lambda: dict(INCIDENT_SIZES))
    seed: int = 0

    @property
    def ticks(self) -> int:
        return int(round(self.minutes * 60 / self.interval))

    def incidents(self) -> list[Incident]:
        """The kinds in turn over the first devices (so each kind falls on more than one device type)."""
        count = len(INCIDENT_KINDS) * self.per_kind
        if count >= self.devices:
            raise ValueError(f"{count} incidents want more than {count} devices (some stay healthy), "
                             f"got {self.devices}")
        last = self.learned_after + int(self.spread * self.ticks)
        if last >= self.ticks - 2 * self.silence / self.interval:
            raise ValueError(f"the run of {self.ticks} ticks is too short for incidents up to tick {last} "
                             f"and a silence of {self.silence:g} s after them")
        step = (last - self.learned_after) / max(count - 1, 1)
        return [Incident(INCIDENT_KINDS[i % len(INCIDENT_KINDS)], i, self.learned_after + int(i * step),
                         self.sizes[INCIDENT_KINDS[i % len(INCIDENT_KINDS)]]) for i in range(count)]


SMOKE = Settings(minutes=1.0, devices=10, interval=0.1, per_kind=1, silence=5.0, spread=0.15,
                 sizes={**INCIDENT_SIZES, "shift": 8.0, "drift": 0.1})


@dataclasses.dataclass
class Result:
    settings: Settings
    prefix: str
    start_ns: int
    end_ns: int
    incidents: dict[str, tuple[Incident, int]]  # device -> (incident, its time ns)
    healthy: list[str]
    alerts: list[dict]  # CRITICAL and OK alerts of the run's tasks on the run's devices, before end_ns
    max_scores: dict[str, float | None]  # faulted device -> highest anomaly score after its incident
    logged: int  # the run's alert events (before end_ns) in the topic's log handler
    simulator: str  # the simulator's last log line
    tasks: dict[str, str] = dataclasses.field(default_factory=dict)  # alert ("anomaly", "silence") -> run's task
    # handler id -> what its receiver got, each {"id", "level", "time" (ns), "message", "task", "device"}; an
    # mqtt message has only device and message (the others None)
    received: dict[str, list[dict]] = dataclasses.field(default_factory=dict)

    def critical(self) -> list[dict]:
        return [a for a in self.alerts if a["level"] == "CRITICAL"]

    def after(self, device: str) -> list[dict]:
        incident = self.incidents.get(device)
        return [a for a in self.critical() if a["device_id"] == device and incident and a["time"] >= incident[1]]

    def false_alerts(self) -> list[dict]:
        return [a for a in self.critical() if a["device_id"] not in self.incidents
                or a["time"] < self.incidents[a["device_id"]][1]]

    def healthy_hours(self) -> float:
        whole = (self.end_ns - self.start_ns) * len(self.healthy)
        before = sum(t - self.start_ns for _, t in self.incidents.values())
        return (whole + before) / 3600e9

    def open_at(self, device: str) -> list[str]:
        """The device's alerts (alert and sensor) that were CRITICAL when its incident began: a new CRITICAL
        cannot come from them (state changes only) until they are OK again."""
        incident = self.incidents.get(device)
        last: dict[tuple[str, str], str] = {}
        for a in self.alerts:
            if a["device_id"] == device and incident and a["time"] < incident[1]:
                last[(a["alert"], a["sensor"])] = a["level"]
        return [f"{alert} {sensor}".strip() for (alert, sensor), level in last.items() if level == "CRITICAL"]

    def missed(self) -> list[str]:
        return [d for d in self.incidents if not self.after(d)]

    @property
    def handlers(self) -> list[str]:
        return list(self.received)

    def reached(self, alert: dict, handler: str) -> bool:
        """Whether the run's ``alert`` (a row of ``alerts``) arrived through ``handler`` (the docstring says how
        each is told)."""
        got = self.received[handler]
        device = alert["device_id"]
        if handler != "mqtt":
            return any(r["task"] == self.tasks.get(alert["alert"]) and r["id"] == _alert_id(alert)
                       and r["level"] == alert["level"] and r["time"] == alert["time"] for r in got)
        key = (device, alert["message"])
        ours = sum((a["device_id"], a["message"]) == key for a in self.alerts)
        others = max([len({(r["id"], r["time"]) for r in self.received.get(h, [])
                           if r["task"] not in self.tasks.values() and (r["device"], r["message"]) == key})
                      for h in EXACT if h in self.received] or [0])
        return sum((r["device"], r["message"]) == key for r in got) >= ours + others

    def not_reached(self, alert: dict) -> list[str]:
        return [h for h in self.handlers if not self.reached(alert, h)]

    def through(self, handler: str) -> list[str]:
        """The faulted devices whose first CRITICAL alert after the incident arrived through ``handler``."""
        return [d for d in self.incidents if self.after(d) and self.reached(self.after(d)[0], handler)]

    def unreached(self) -> list[str]:
        """The faulted devices alerted whose first alert after the incident missed a handler."""
        return [d for d in self.incidents if self.after(d) and self.not_reached(self.after(d)[0])]


def _alert_id(alert: dict) -> str:
    """Kapacitor's id of an alert row: the scripts' ``.id()``."""
    if alert["alert"] == "anomaly":
        return f"anomaly/{alert['device_id']}/{alert['sensor']}"
    return f"silence/{alert['device_id']}"


def _received(receivers: dict) -> dict[str, list[dict]]:
    """Each receiver's alerts now, in one shape (see ``Result.received``)."""
    out = {}
    for handler, receiver in receivers.items():
        if handler == "mqtt":
            out[handler] = [{"id": None, "level": None, "time": None, "message": message, "task": None,
                             "device": device} for device, message in receiver.alerts()]
            continue
        rows = []
        for a in receiver.alerts():
            if not a.get("id"):
                continue  # no alert's template data (a mail of something else)
            rows.append({"id": a["id"], "level": a["level"], "time": parse_time(a["time"]), "message": a["message"],
                         "task": a["task"], "device": a["id"].split("/")[1] if "/" in a["id"] else None})
        out[handler] = rows
    return out


def _log_events(path: Path, prefix: str) -> set[tuple[str, str, int]]:
    """(alert id, level, time ns) of every event of the run's devices the topic's log handler wrote."""
    out = set()
    if not path.exists():
        return out
    for text in path.read_text().splitlines():
        event = json.loads(text)
        if event["id"].split("/")[1].startswith(prefix):
            out.add((event["id"], event["level"], parse_time(event["time"])))
    return out


def run(settings: Settings, protocol: str = "mqtt", out=print) -> Result:
    """One run against the running stack; ``out`` gets progress lines."""
    incidents = settings.incidents()
    stamp = f"{time.time_ns() // 10**6 % 10**9}"
    prefix, topic = f"alr{stamp}-", f"bench-alerts-{stamp}"
    database, log_path = f"tickml_alerts_{stamp}", LOGS / f"bench-alerts-{stamp}.log"
    tasks = {"anomaly": f"bench_alerts_{stamp}_anomaly", "silence": f"bench_alerts_{stamp}_silence"}
    kapacitor, influx = Kapacitor(), Influx()
    fleet = Fleet.create(settings.devices, TYPES, seed=settings.seed, prefix=prefix)
    ids = [d for d, _ in fleet.devices]
    shipped = [h for h in load_handlers() if h.topic == SHIPPED_TOPIC]
    handler = "bench-log"
    receivers = {}
    influx.execute(f'CREATE DATABASE "{database}"')
    try:
        # Started before anything alerts, each from now: the kafka consumer and the log from their ends.
        for h in shipped:
            receivers[h.id] = {"log": lambda: LogTail(Path(h.options.get("path", LOGS / "alerts.log"))),
                               "mqtt": lambda: MqttReader(*secrets.mqtt_login(READER)),
                               "kafka": lambda: AlertsConsumer(f"bench-alerts-{stamp}"),
                               "post": lambda: Webhook(h.options["endpoint"]),
                               "smtp": MailServer}[h.kind]().start()
        kapacitor.define_handler(topic, handler, "log", {"path": str(log_path)})
        for h in shipped:
            kapacitor.define_handler(topic, h.id, h.kind, h.options)
        string = lambda v: {"type": "string", "value": v}  # noqa: E731
        kapacitor.create(tasks["anomaly"], (SCRIPTS / "device_anomaly.tick").read_text(),
                         flush_vars(database=string(database), topic=string(topic)))
        kapacitor.create(tasks["silence"], (SCRIPTS / "device_silence.tick").read_text(),
                         flush_vars(topic=string(topic),
                                    silence={"type": "duration", "value": int(settings.silence * 1e9)}))
        for name in tasks.values():
            kapacitor.enable(name)
        start_ns = (time.time_ns() // 10**9 + 2) * 10**9  # a whole second, just ahead: the simulator's start-up
        interval_ns = int(round(settings.interval * 1e9))
        command = [sys.executable, "-m", "tickml", "devices", "simulate", "--protocol", protocol,
                   "--devices", str(settings.devices), "--types", ",".join(TYPES), "--prefix", prefix,
                   "--interval", str(settings.interval), "--ticks", str(settings.ticks), "--seed", str(settings.seed),
                   "--start", str(start_ns // 10**9), "--processes", "1"]
        for incident in incidents:
            command += ["--incident", incident.spec()]
        out(" ".join(command[2:]))
        sent = subprocess.run(command, cwd=ROOT, capture_output=True, text=True,
                              timeout=settings.minutes * 60 + 120)
        if sent.returncode != 0:
            raise RuntimeError(f"the simulator exited with {sent.returncode}: {sent.stderr[-2000:]}")
        end_ns = start_ns + settings.ticks * interval_ns
        # Drained: every reading of a device that sent to the end scored (the task flushes every second).
        last = ids[-1]
        wait_until(lambda: (r := influx.query(f"SELECT count(anomaly_score) FROM anomaly WHERE device_id = '{last}'",
                                              database)) and r[0]["count"] >= settings.ticks,
                   timeout=120, interval=1.0, what=f"every reading of {last} scored")
        time.sleep(3)  # the alerts' own flush
        logged = {e for e in _log_events(log_path, prefix) if e[2] < end_ns}
        where = f"device_id =~ /^{prefix}/ AND time < {end_ns}"
        anomaly = influx.query(f"SELECT level, message, anomaly_score, device_id, sensor FROM alerts WHERE {where}",
                               database)
        silence = influx.query(f"SELECT level, message, device_id FROM alerts WHERE alert = 'silence' AND {where}")
        rows = ([dict(a, alert="anomaly") for a in anomaly]
                + [dict(a, alert="silence", sensor="") for a in silence
                   if (f"silence/{a['device_id']}", a["level"], a["time"]) in logged])
        rows.sort(key=lambda a: a["time"])
        planted = {ids[i.device]: (i, start_ns + i.tick * interval_ns) for i in incidents}
        partial = Result(settings, prefix, start_ns, end_ns, planted, [], rows, {}, 0, "", tasks)

        def arrived():
            partial.received = _received(receivers)
            return all(not partial.not_reached(a) for a in partial.critical())

        try:
            wait_until(arrived, timeout=30, interval=1.0, what="every CRITICAL alert through every handler")
        except AssertionError:
            pass  # the table names what did not arrive
        max_scores = {}
        for device, (_, at) in planted.items():
            got = influx.query(f"SELECT max(anomaly_score) FROM anomaly WHERE device_id = '{device}' AND time >= {at}",
                               database)
            max_scores[device] = got[0]["max"] if got else None
        summary = [line for line in sent.stderr.splitlines() if "sent " in line]
        return Result(settings, prefix, start_ns, end_ns, planted, [d for d in ids if d not in planted], rows,
                      max_scores, len(logged), summary[-1] if summary else "", tasks, partial.received)
    finally:
        for receiver in receivers.values():
            receiver.stop()
        for name in tasks.values():
            if kapacitor.task(name) is not None:
                kapacitor.delete(name)
        for path in [f"/alerts/topics/{topic}/handlers/{h}" for h in [handler] + [h.id for h in shipped]] + [
                f"/alerts/topics/{topic}"]:
            try:
                kapacitor.fetch(path, "DELETE")
            except Exception:  # noqa: BLE001 - a topic that never got an event does not exist
                pass
        influx.execute(f'DROP DATABASE "{database}"')
        log_path.unlink(missing_ok=True)


def _seconds(ns: int) -> str:
    return f"{ns / 1e9:.1f}"


def table(result: Result) -> str:
    """The fault table, the faulted devices one by one, and the false alerts, named."""
    s = result.settings
    handlers = result.handlers
    lines = [f"{s.devices} devices every {s.interval:g} s for {s.minutes:g} min; {len(result.incidents)} incidents, "
             f"{len(result.healthy)} devices healthy throughout; silence alert after {s.silence:g} s; "
             f"{result.simulator.split(': ', 1)[-1]}", "",
             "| fault | size | faulted | alerted | by | seconds to the first alert | alerts per incident "
             "| already CRITICAL |" + "".join(f" {h} |" for h in handlers),
             "|---|---:|---:|---:|---|---|---:|---:|" + "---:|" * len(handlers)]
    through = {h: result.through(h) for h in handlers}
    for kind in INCIDENT_KINDS:
        devices = [d for d, (i, _) in result.incidents.items() if i.kind == kind]
        if not devices:
            continue
        size = result.incidents[devices[0]][0].size
        alerted = [d for d in devices if result.after(d)]
        by = Counter(result.after(d)[0]["alert"] for d in alerted)
        delays = [_seconds(result.after(d)[0]["time"] - result.incidents[d][1]) for d in alerted]
        per = sum(len(result.after(d)) for d in devices) / len(devices)
        unit = {"spike": "sd", "shift": "sd", "drift": "sd/msg"}.get(kind)
        lines.append(f"| {kind} | {f'{size:g} {unit}' if unit else '-'} | "
                     f"{len(devices)} | {len(alerted)} | {', '.join(f'{k} {n}' for k, n in by.items()) or '-'} | "
                     f"{', '.join(delays) or '-'} | {per:.1f} | {sum(bool(result.open_at(d)) for d in devices)} |"
                     + "".join(f" {sum(d in through[h] for d in devices)}/{len(devices)} |" for h in handlers))
    false = result.false_alerts()
    hours = result.healthy_hours()
    lines += ["", f"false alerts: {len(false)} in {hours:.2f} healthy device-hours = {len(false) / hours:.1f} "
                  f"per device-hour" if hours else "false alerts: no healthy time"]
    for a in false:
        incident = result.incidents.get(a["device_id"])
        why = f"{_seconds(incident[1] - a['time'])} s before its {incident[0].kind}" if incident else "healthy"
        score = f" score {a['anomaly_score']:.2f}" if a.get("anomaly_score") is not None else ""
        at = _seconds(a["time"] - result.start_ns)
        lines.append(f"  {a['device_id']} {a['sensor']} {a['alert']}{score} at {at} s ({why})")
    lines += ["", "| device | incident | at s | CRITICAL at the incident | first alert after | alerts after "
                  "| highest anomaly score after | its first alert missed |", "|---|---|---:|---|---|---:|---:|---|"]
    for device, (incident, at) in result.incidents.items():
        after = result.after(device)
        first = (f"{after[0]['alert']} {after[0]['sensor']} +{_seconds(after[0]['time'] - at)} s".replace("  ", " ")
                 if after else "none")
        top = result.max_scores.get(device)
        lines.append(f"| {device} | {incident.spec()} | {_seconds(at - result.start_ns)} | "
                     f"{', '.join(result.open_at(device)) or '-'} | {first} | {len(after)} | "
                     f"{'-' if top is None else f'{top:.4f}'} | "
                     f"{(', '.join(result.not_reached(after[0])) or '-') if after else '-'} |")
    lost = [(a, result.not_reached(a)) for a in result.critical()]
    lost = [(a, missed) for a, missed in lost if missed]
    lines += ["", f"CRITICAL alerts of the run (InfluxDB) that did not arrive through a handler: {len(lost)} of "
                  f"{len(result.critical())}"]
    for a, missed in lost:
        name = " ".join(x for x in (a["device_id"], a["sensor"], a["alert"]) if x)
        lines.append(f"  {name} at {_seconds(a['time'] - result.start_ns)} s: not by {', '.join(missed)}")
    lines.append(f"\n{len(result.alerts)} alerts of the run's tasks in InfluxDB (CRITICAL and OK); "
                 f"{result.logged} events of the run's devices reached the topic's log handler")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--smoke", action="store_true", help="10 devices, one incident of each kind, 0.1 s, 1 minute")
    p.add_argument("--minutes", type=float)
    p.add_argument("--devices", type=int)
    p.add_argument("--interval", type=float)
    p.add_argument("--per-kind", type=int)
    p.add_argument("--silence", type=float, help="seconds without a message that device_silence calls silence")
    p.add_argument("--seed", type=int)
    p.add_argument("--protocol", default="mqtt")
    args = p.parse_args(argv)
    settings = dataclasses.replace(SMOKE if args.smoke else Settings(),
                                   **{k: v for k, v in vars(args).items()
                                      if v is not None and k in Settings.__dataclass_fields__})
    try:
        settings.incidents()
    except ValueError as exc:
        p.error(str(exc))
    result = run(settings, args.protocol, out=lambda text: print(text, flush=True))
    print(table(result))
    return 0 if not result.missed() and not result.unreached() and not result.false_alerts() else 1


if __name__ == "__main__":
    sys.exit(main())
