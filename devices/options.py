"""The simulator's command-line options.

``tickml devices simulate|replay`` and ``python -m devices.simulator`` declare
their options here, once. What they default to comes from the caller
(:class:`Defaults`): ``tickml`` hands in the native stack's addresses and
logins (tickml/sender_defaults.py); alone, on a device or in a container,
the stack's usual ports and no login. This library reads nothing of the
stack's own.
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import os
import re
from pathlib import Path
from typing import Callable

from devices import faults as faultlib
from devices.fleet import DEVICE_TYPES

log = logging.getLogger("devices.simulator")

PROTOCOLS = ("mqtt", "http", "kafka", "otlp", "stdout")
MAX_DEVICES = 100_000
DEFAULT_PROCESSES = min(4, os.cpu_count() or 1)


def parse_processes(text: str) -> int:
    """``N`` sending processes, 1 to 64.

    >>> parse_processes("3")
    3
    """
    n = int(text)
    if not 1 <= n <= 64:
        raise ValueError(f"--processes must be between 1 and 64, got {n}")
    return n


# Where a sender goes when nothing says otherwise: the native stack's usual ports on this machine.
ADDRESSES = {"mqtt": "mqtts://127.0.0.1:18883", "http": "https://127.0.0.1:18180/devices", "kafka": "127.0.0.1:19094",
             "otlp": "https://127.0.0.1:18317"}
LOGINS = ("mqtt_user", "mqtt_password", "http_user", "http_password", "ca", "otlp_cert", "otlp_key", "kafka_cert",
          "kafka_key")


@dataclasses.dataclass
class Defaults:
    """What the options default to, handed in by the caller: the addresses, the logins, and how a device's
    password is had and devices are registered (``--per-device``). ``tickml devices`` hands in the stack's
    (tickml/sender_defaults.py); on a device or in a container nothing is known but the usual ports.
    """

    addresses: dict[str, str] = dataclasses.field(default_factory=lambda: dict(ADDRESSES))
    logins: dict[str, str | None] = dataclasses.field(default_factory=lambda: dict.fromkeys(LOGINS))
    mqtt_logins: int = 1
    device_password: Callable[[str], str] | None = None
    register: Callable[[list[str]], int] | None = None


def _arg(parser: argparse.ArgumentParser, parse):
    def convert(text: str):
        try:
            return parse(text)
        except ValueError as exc:  # argparse names the option itself
            raise argparse.ArgumentTypeError(re.sub(r"^--[\w-]+: ", "", str(exc))) from None

    convert.__name__ = parse.__name__.removeprefix("parse_")
    return convert


def add_arguments(p: argparse.ArgumentParser, replay: bool = False, defaults: Defaults | None = None) -> None:
    """The simulator's options on ``p``; ``replay``: a file given as the argument, no fleet; ``defaults``: what
    the caller knows of the stack (nothing: the usual ports)."""
    defaults = defaults or Defaults()
    addresses = defaults.addresses
    p.set_defaults(device_password=defaults.device_password, register=defaults.register)
    p.add_argument("--protocol", choices=PROTOCOLS, default="mqtt", help="how messages reach Telegraf (default mqtt)")
    if replay:
        p.add_argument("file", type=Path, help="a .csv or JSON-lines (.jsonl/.json/.ndjson) file")
        _add_replay(p)
    else:
        _add_fleet(p)
    p.add_argument("--speed", type=float, default=1.0, help="simulated seconds per wall second; 0: as fast as possible")
    p.add_argument("--processes", type=_arg(p, parse_processes), default=DEFAULT_PROCESSES, metavar="N",
                   help="processes that send, each with its own connection; 1: the simulator's own "
                   "(default: one per CPU, %(default)s)")
    p.add_argument("--duration", type=float, default=None, help="stop after this many wall seconds")
    p.add_argument("--seed", type=int, default=0, help="the same seed gives the same devices, readings, faults")
    where = p.add_argument_group("addresses (defaults: the native stack's configuration files)")
    login = defaults.logins
    where.add_argument("--ca", default=login["ca"], help="the CA the broker's and the listener's certificates "
                       "chain to (default: the stack's, .stack/secrets/ca.crt)")
    where.add_argument("--mqtt", default=addresses["mqtt"], help="broker URL, mqtts:// for TLS (%(default)s)")
    where.add_argument("--mqtt-user", default=login["mqtt_user"], help="MQTT account (default: the stack's "
                       "gateway account, tickml-gateway, which may publish for every unregistered device)")
    where.add_argument("--mqtt-logins", type=int, default=defaults.mqtt_logins, metavar="N",
                       help="logins the account has, ACCOUNT, ACCOUNT.1 .. ACCOUNT.<N-1> (mosquitto/gateways.toml "
                       "logins); each sending process claims a free one (default %(default)s)")
    where.add_argument("--mqtt-password", default=login["mqtt_password"], help="its password (default: from the "
                       "stack's secrets)")
    where.add_argument("--http-user", default=login["http_user"], help="the HTTP listener's user "
                       "(default: tickml-sender)")
    where.add_argument("--http-password", default=login["http_password"], help="its password (default: from the "
                       "stack's secrets)")
    where.add_argument("--per-device", action="store_true", help="each device on its own MQTT connection, "
                       "logged in as itself (registered with the broker first, as `tickml devices add` does)")
    where.add_argument("--http", default=addresses["http"], help="Telegraf's listener (%(default)s)")
    where.add_argument("--kafka", default=addresses["kafka"], help="Kafka bootstrap servers (%(default)s)")
    where.add_argument("--kafka-topic", default="device_messages", help="Kafka topic (%(default)s)")
    where.add_argument("--kafka-cert", default=login["kafka_cert"], help="the client certificate the Kafka "
                       "producer logs in with, over TLS trusting --ca (default: the stack's senders', "
                       ".stack/secrets/kafka-sender.crt; none: plaintext)")
    where.add_argument("--kafka-key", default=login["kafka_key"], help="its key (default: "
                       ".stack/secrets/kafka-sender.key)")
    where.add_argument("--otlp", default=addresses["otlp"], help="Telegraf's OpenTelemetry (gRPC) listener, "
                       "https:// for TLS (%(default)s)")
    where.add_argument("--otlp-cert", default=login["otlp_cert"], help="the client certificate the OTLP sender "
                       "logs in with (default: the stack's, .stack/secrets/sender.crt)")
    where.add_argument("--otlp-key", default=login["otlp_key"], help="its key (default: .stack/secrets/sender.key)")
    where.add_argument("--batch", type=int, default=1000, help="messages per HTTP POST or OTLP export (%(default)s)")
    p.add_argument("-q", "--quiet", action="store_true", help="log warnings only")


def _add_replay(p: argparse.ArgumentParser) -> None:
    replay = p.add_argument_group("file replay (devices/replay.py)")
    replay.add_argument("--id-key", default="device_id", help="the file's key or column of the device id")
    replay.add_argument("--time-key", default="timestamp", help="the file's key or column of the time")
    replay.add_argument("--restamp", action="store_true", help="shift the file's times so the first is now")


def _add_fleet(p: argparse.ArgumentParser) -> None:
    fleet = p.add_argument_group("the fleet")
    fleet.add_argument("--devices", type=int, default=12, help=f"number of devices, 1 to {MAX_DEVICES} (default 12)")
    fleet.add_argument(
        "--types",
        default="thermostat,barometer,hygrometer,heart_rate_meter",
        help=f"comma-separated device types, from {', '.join(DEVICE_TYPES)}; devices take them in turn",
    )
    fleet.add_argument("--prefix", default="", help="prefix for device ids (they are <prefix><type>-<n>)")
    pace = p.add_argument_group("time and rate")
    pace.add_argument("--interval", type=float, default=None, help="seconds between two messages of a device (1)")
    pace.add_argument("--rate", type=float, default=None, help="messages per second of the whole fleet (sets --interval)")
    pace.add_argument(
        "--start",
        default=None,
        help="time of the first message: now, now-15m, RFC 3339, epoch seconds (default now; with --speed 0 "
        "and a known count, so that the last message is stamped now)",
    )
    pace.add_argument("--ticks", type=int, default=None, help="stop after this many messages per device")
    pace.add_argument("--messages", type=int, default=None, help="stop after this many messages in all")
    bad = p.add_argument_group("faults (devices/faults.py)")
    bad.add_argument("--missing", type=_arg(p, faultlib.parse_missing), default=0.0, metavar="P",
                     help="a reading is missing (null) with probability P")  # fmt: skip
    bad.add_argument("--spikes", type=_arg(p, faultlib.parse_spikes), default=None, metavar="P[:SIZE]",
                     help="a reading jumps SIZE standard deviations (8) with probability P")  # fmt: skip
    bad.add_argument("--drift", type=_arg(p, faultlib.parse_drift), default=None, metavar="FRACTION[:RATE]",
                     help="a FRACTION of devices drift RATE standard deviations (0.05) per message")  # fmt: skip
    bad.add_argument("--onoff", type=_arg(p, faultlib.parse_onoff), default=None, metavar="FRACTION[:ON:OFF]",
                     help="a FRACTION of devices read 0 for OFF messages after every ON (30:10)")  # fmt: skip
    bad.add_argument("--late", type=_arg(p, faultlib.parse_late), default=None, metavar="P[:TICKS]",
                     help="a message is sent up to TICKS ticks (3) late, out of order, with probability P")  # fmt: skip
    bad.add_argument("--incident", type=_arg(p, faultlib.parse_incident), action="append", default=None,
                     metavar="KIND:DEVICE:TICK[:SIZE]",
                     help="device number DEVICE, from its message TICK on: spike (SIZE sd, 8), shift (SIZE "
                     "sd, 4), drift (SIZE sd a message, 0.05), stuck or silence; once per device")  # fmt: skip
    replay = p.add_argument_group("file replay (devices/replay.py), instead of a fleet")
    replay.add_argument("--file", type=Path, default=None, help="a .csv or JSON-lines (.jsonl/.json/.ndjson) file")
    _add_replay(p)
