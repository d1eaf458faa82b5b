#!/usr/bin/env python3
"""Simulate a fleet of devices, or replay a file, into Telegraf over MQTT, HTTP, Kafka or gRPC (OTLP).

    tickml devices simulate --devices 20 --interval 1 --duration 60
    tickml devices simulate --protocol kafka --devices 1000 --rate 5000 --messages 100000
    tickml devices simulate --protocol http --types power_meter --missing 0.05 --spikes 0.01 --seed 7
    tickml devices simulate --protocol otlp --devices 100000 --interval 10 --processes 4
    tickml devices replay readings.csv --speed 10 --restamp --protocol mqtt
    tickml devices simulate --protocol stdout --devices 3 --ticks 2 --start 2026-01-01T00:00:00Z

(``python -m devices.simulator`` is the same, with ``--file`` for a replay, where
only the ``devices`` package is installed: a gateway, a container; there it
knows no login of the stack's, give them as options.)

A fleet of ``--devices`` devices (1 to 100,000) of the ``--types`` given, each
sending one message per ``--interval`` seconds (or ``--rate`` messages per
second for the whole fleet), stamped by the simulated clock: ``--start`` plus
the tick's number times the interval. ``--speed`` runs that clock against the
wall clock: 1 is real time, 10 ten times faster, 0 as fast as the transport
goes. The same ``--seed`` gives the same devices, readings and faults.

Faults on request (devices/faults.py): ``--missing``, ``--spikes``,
``--drift``, ``--onoff``, ``--late``, and ``--incident`` on a chosen device.
``--file`` replays a CSV or JSON-lines file instead of a fleet
(devices/replay.py). The message schema is in devices/README.md. Under
``tickml devices`` the addresses and logins default to the native stack's,
read from its configuration files and secrets.
"""

from __future__ import annotations

import argparse
import functools
import logging
import re
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Iterator

from devices import faults as faultlib
from devices import options, pacing
from devices.options import MAX_DEVICES
from devices.parallel import ParallelTransport, WorkerError
from devices.fleet import Fleet, Sample
from devices.replay import parse_time, read_records, schedule

log = logging.getLogger("devices.simulator")

ROOT = Path(__file__).resolve().parent.parent


_RELATIVE = re.compile(r"^now(?:-(\d+(?:\.\d+)?)([smhd]))?$")


def parse_start(text: str, now_ns: int | None = None) -> int:
    """``now``, ``now-90s`` / ``now-15m`` / ``now-2h`` / ``now-1d``, RFC 3339 or epoch seconds, in ns.

    >>> parse_start("now-2m", now_ns=10**12) == 10**12 - 120 * 10**9
    True
    >>> parse_start("2026-01-01T00:00:00Z")
    1767225600000000000
    """
    now_ns = time.time_ns() if now_ns is None else now_ns
    match = _RELATIVE.match(text.strip())
    if match:
        if match.group(1) is None:
            return now_ns
        seconds = float(match.group(1)) * {"s": 1, "m": 60, "h": 3600, "d": 86400}[match.group(2)]
        return now_ns - int(seconds * 1e9)
    value = parse_time(text)
    if value is None:
        raise ValueError(f"--start wants now, now-<N>s|m|h|d, RFC 3339 or epoch seconds, got {text!r}")
    return value


def fleet_ticks(
    fleet: Fleet,
    chain: faultlib.FaultChain,
    start_ns: int,
    interval_ns: int,
    ticks: int | None = None,
    messages: int | None = None,
) -> Iterator[tuple[float, list[Sample]]]:
    """``(simulated seconds since the start, samples to send)`` per tick, faults applied.

    Stops after ``ticks`` ticks or ``messages`` messages (the last tick then
    has only the first devices), or never; held-back (late) messages are sent
    after the last tick.

    >>> fleet = Fleet.create(3, ["thermostat"], seed=0)
    >>> chain = faultlib.FaultChain.create(3)
    >>> [(t, [s.device_id for s in samples]) for t, samples in fleet_ticks(fleet, chain, 0, 10**9, messages=4)]
    [(0.0, ['thermostat-0', 'thermostat-1', 'thermostat-2']), (1.0, ['thermostat-0'])]
    """
    n = len(fleet.devices)
    tick = 0
    left = messages
    while (ticks is None or tick < ticks) and (left is None or left > 0):
        count = n if left is None else min(n, left)
        samples = fleet.samples(start_ns + tick * interval_ns, count)
        yield tick * interval_ns / 1e9, chain.apply(tick, samples)
        if left is not None:
            left -= count
        tick += 1
    held = chain.drain()
    if held:
        yield tick * interval_ns / 1e9, held


def fleet_messages(**options) -> list[dict]:
    """Every message a fleet run would send, in order, without sending (for tests and previews).

    Takes the keyword arguments of ``build_fleet`` and ``fleet_ticks``.
    """
    fleet, chain, run = build_fleet(**options)
    return [s.message() for _, samples in fleet_ticks(fleet, chain, **run) for s in samples]


def build_fleet(
    devices: int,
    types: list[str],
    seed: int = 0,
    prefix: str = "",
    start_ns: int = 0,
    interval: float = 1.0,
    ticks: int | None = None,
    messages: int | None = None,
    missing: float = 0.0,
    spikes=None,
    drift=None,
    onoff=None,
    late=None,
    incidents=None,
) -> tuple[Fleet, faultlib.FaultChain, dict]:
    """The fleet, its fault chain, and the keyword arguments of ``fleet_ticks`` for one run."""
    if not 1 <= devices <= MAX_DEVICES:
        raise ValueError(f"devices must be between 1 and {MAX_DEVICES}, got {devices}")
    if interval <= 0:
        raise ValueError(f"interval must be positive, got {interval}")
    fleet = Fleet.create(devices, types, seed=seed, prefix=prefix)
    chain = faultlib.FaultChain.create(
        devices, seed=seed, missing=missing, spikes=spikes, drift=drift, onoff=onoff, late=late,
        incidents=incidents,
    )
    run = {"start_ns": start_ns, "interval_ns": int(round(interval * 1e9)), "ticks": ticks, "messages": messages}
    return fleet, chain, run


def make_transport(protocol: str, args: argparse.Namespace):
    from devices import transports

    if protocol == "mqtt" and args.per_device:
        return transports.DeviceMqttTransports(args.mqtt, args.device_password, ca_file=args.ca)
    if protocol == "mqtt":
        from devices import logins

        # A login of its own per sending process: the broker binds client ids to logins.
        return logins.gateway_transport(args.mqtt, args.mqtt_user, args.mqtt_logins, args.mqtt_password, args.ca)
    if protocol == "http":
        return transports.HttpTransport(args.http, batch_size=args.batch, username=args.http_user,
                                        password=args.http_password, ca_file=args.ca)
    if protocol == "kafka":
        # A client certificate means the stack's broker (TLS trusting --ca); none, a plaintext broker of your own.
        return transports.KafkaTransport(args.kafka, topic=args.kafka_topic,
                                         ca_file=args.ca if args.kafka_cert else None,
                                         client_cert=args.kafka_cert or None, client_key=args.kafka_key or None)
    if protocol == "otlp":
        from devices.otlp import OtlpTransport  # imported here: the OpenTelemetry SDK only for OTLP runs

        return OtlpTransport(args.otlp, ca_file=args.ca, client_cert=args.otlp_cert, client_key=args.otlp_key,
                             batch_size=args.batch)
    return transports.StdoutTransport()


def _interrupt(signum, frame) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def open_transport(protocol: str, args: argparse.Namespace, processes: int):
    """The protocol's transport in this process, or spread over ``processes`` sending processes."""
    if processes == 1:
        return make_transport(protocol, args)
    # The options travel to the sending processes, and how a device's password is had (--per-device: a
    # module's function, pickled by name); a caller's parser and its commands stay here.
    plain = argparse.Namespace(**{k: v for k, v in vars(args).items()
                                  if isinstance(v, (str, int, float, bool, Path, type(None))) and k != "device_password"},
                               device_password=getattr(args, "device_password", None))
    return ParallelTransport(functools.partial(make_transport, protocol, plain), processes,
                             with_message=protocol == "otlp")


def parser(prog: str = "python -m devices.simulator") -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=prog, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    options.add_arguments(p)
    return p


def main(argv: list[str] | None = None) -> int:
    p = parser()
    return run(p.parse_args(argv), p)


def run(args: argparse.Namespace, p: argparse.ArgumentParser) -> int:
    """Send what ``args`` asks for; ``p`` reports bad combinations of options."""
    logging.basicConfig(
        level=logging.WARNING if args.quiet else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    if args.speed < 0:
        p.error(f"--speed must be 0 or positive, got {args.speed}")
    if args.batch < 1:
        p.error(f"--batch must be at least 1, got {args.batch}")
    for name in ("ticks", "messages"):
        if getattr(args, name, None) is not None and getattr(args, name) < 1:
            p.error(f"--{name} must be at least 1, got {getattr(args, name)}")
    now_ns = time.time_ns()

    if getattr(args, "file", None) is not None:
        try:
            records = list(read_records(args.file, args.id_key, args.time_key))
        except (OSError, ValueError) as exc:
            p.error(str(exc))
        planned = schedule(records, args.speed, restamp_at_ns=now_ns if args.restamp else None)
        # Keys every message of the file gets (a session's name: tickml/history/sessions.py).
        extra = getattr(args, "extra_keys", None) or {}
        batches = pacing.group_due((due, {**r.message, **extra} if r.message is not None else r.raw)
                                   for due, r in planned)
        speed = 1.0 if args.speed > 0 else 0.0  # the schedule is in wall seconds already
        what = f"{len(records)} records of {args.file}"
    else:
        if args.rate is not None and args.interval is not None:
            p.error("give --rate or --interval, not both")
        if args.rate is not None and args.rate <= 0:
            p.error(f"--rate must be positive, got {args.rate}")
        interval = args.devices / args.rate if args.rate else (args.interval or 1.0)
        types = [t.strip() for t in args.types.split(",") if t.strip()]
        count_ticks = args.ticks or (-(-args.messages // args.devices) if args.messages else None)
        if args.start is not None:
            try:
                start_ns = parse_start(args.start, now_ns)
            except ValueError as exc:
                p.error(str(exc))
        elif args.speed == 0 and count_ticks:
            start_ns = now_ns - int((count_ticks - 1) * interval * 1e9)
        else:
            start_ns = now_ns
        try:
            fleet, chain, run = build_fleet(
                args.devices, types, seed=args.seed, prefix=args.prefix, start_ns=start_ns, interval=interval,
                ticks=args.ticks, messages=args.messages, missing=args.missing, spikes=args.spikes,
                drift=args.drift, onoff=args.onoff, late=args.late, incidents=args.incident,
            )  # fmt: skip
        except ValueError as exc:
            p.error(str(exc))
        batches = ((due, [s.message() for s in samples]) for due, samples in fleet_ticks(fleet, chain, **run))
        speed = args.speed
        what = f"{args.devices} devices ({', '.join(types)}), one message each per {interval:.6g} s"

    if args.protocol == "mqtt" and getattr(args, "per_device", False):
        if args.register is None or args.device_password is None:
            p.error("--per-device logs each device in with its own password, which only the stack's tools know: "
                    "run it as tickml devices simulate --per-device")
        ids = ([d for d, _ in fleet.devices] if getattr(args, "file", None) is None
               else sorted({r.message.get("device_id") for r in records
                            if isinstance(r.message, dict) and r.message.get("device_id")}))
        log.info("%d devices registered with the broker", args.register(ids))
    processes = 1 if args.protocol == "stdout" else args.processes
    try:
        transport = open_transport(args.protocol, args, processes)
    except (OSError, ValueError, ImportError, WorkerError) as exc:
        log.error("cannot open the %s transport: %s", args.protocol, exc)
        return 2
    log.info("%s over %s from %d sending process%s, speed %s", what, args.protocol, processes,
             "" if processes == 1 else "es", args.speed or "as fast as possible")  # fmt: skip
    seconds = 0.0
    interrupted = False
    failure = None
    cpu_before, started = time.process_time(), time.monotonic()
    # A service manager's stop (supervisord, systemd, docker stop) ends a run as Ctrl-C does: what
    # was handed to the transport is flushed, and the counts are logged.
    in_main = threading.current_thread() is threading.main_thread()  # only there can a handler be set
    previous_term = signal.signal(signal.SIGTERM, _interrupt) if in_main else None
    try:
        seconds = pacing.send_scheduled(pacing.stop_after(batches, args.duration), transport, speed)
    except KeyboardInterrupt:
        interrupted = True
    except (ConnectionError, TimeoutError, WorkerError) as exc:
        failure = exc
    finally:
        try:
            transport.close()
        except (ConnectionError, TimeoutError, WorkerError) as exc:
            failure = failure or exc
        finally:
            if in_main:
                signal.signal(signal.SIGTERM, previous_term)
    seconds = seconds or time.monotonic() - started
    # The simulator's own CPU (building the messages, and sending them when in one process) and its
    # sending processes'.
    cpu = time.process_time() - cpu_before + getattr(transport, "cpu_seconds", 0.0)
    rate = transport.sent / seconds if seconds > 0 else 0.0
    args.sent = transport.sent  # for a caller that reports on the run (a session's state)
    log.info(
        "%s: sent %d messages, %d refused, in %.2f s (%.0f messages/s; %.1f us of CPU per message in %d "
        "process%s)", "interrupted" if interrupted else "failed" if failure else "done", transport.sent,
        transport.refused, seconds, rate, cpu / max(transport.sent, 1) * 1e6, processes + (processes > 1),
        "" if processes == 1 else "es",
    )  # fmt: skip
    for why, count in getattr(transport, "refusals", {}).items():
        log.warning("%d messages not sent: %s", count, why)
    if failure is not None:
        log.error("sending failed: %s", failure)
        return 1
    return 130 if interrupted else 0


if __name__ == "__main__":
    sys.exit(main())
