#!/usr/bin/env python3
"""Simulate a fleet of devices publishing their readings.

    python -m devices.simulator --devices 20 --interval 1 --duration 60
    python -m devices.simulator --types thermostat,temp_sensor --seed 7

Each device sends one message per ``--interval`` seconds (the device-data seed's
generator sends every second), stamped with the current time, over MQTT to the
native stack's broker (mosquitto/mosquitto.conf) with QoS 1. The run is
reproducible: the same seed gives the same devices and readings.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time

from devices.fleet import DEVICE_TYPES, Fleet, encode
from devices.transports import MqttTransport

log = logging.getLogger("devices.simulator")


def run(fleet: Fleet, transport, interval: float, duration: float | None, ticks: int | None) -> int:
    """Publish ticks until ``duration`` seconds or ``ticks`` ticks have passed; returns messages sent."""
    sent = 0
    start = time.monotonic()
    n = 0
    while (ticks is None or n < ticks) and (duration is None or time.monotonic() - start < duration):
        now_ns = time.time_ns()
        transport.send_many((t, encode(m)) for t, m in fleet.tick(now_ns))
        sent += len(fleet.devices)
        n += 1
        next_at = start + n * interval
        time.sleep(max(0.0, next_at - time.monotonic()))
    transport.flush()
    return sent


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--devices", type=int, default=12, help="number of devices (1 to 100000)")
    parser.add_argument(
        "--types",
        default="thermostat,barometer,hygrometer,heart_rate_meter",
        help=f"comma-separated device types, from {', '.join(DEVICE_TYPES)}",
    )
    parser.add_argument("--interval", type=float, default=1.0, help="seconds between two messages of a device")
    parser.add_argument("--duration", type=float, default=None, help="stop after this many seconds")
    parser.add_argument("--ticks", type=int, default=None, help="stop after this many messages per device")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--prefix", default="", help="prefix for device ids")
    parser.add_argument("--mqtt", default="tcp://127.0.0.1:18830", help="broker URL")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if not 1 <= args.devices <= 100_000:
        parser.error(f"--devices must be between 1 and 100000, got {args.devices}")
    if args.interval <= 0:
        parser.error(f"--interval must be positive, got {args.interval}")
    fleet = Fleet.create(args.devices, args.types.split(","), seed=args.seed, prefix=args.prefix)
    transport = MqttTransport(args.mqtt, client_id=f"tickml-simulator-{args.seed}")
    log.info("%d devices publishing every %.3g s to %s", args.devices, args.interval, args.mqtt)
    try:
        sent = run(fleet, transport, args.interval, args.duration, args.ticks)
    except KeyboardInterrupt:
        sent = -1
    finally:
        transport.close()
    log.info("done: %s messages", sent if sent >= 0 else "interrupted,")
    return 0


if __name__ == "__main__":
    sys.exit(main())
