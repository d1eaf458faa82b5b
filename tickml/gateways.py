"""Gateways: accounts that speak for the devices behind them (``mosquitto/gateways.toml``).

A gateway declares the ids it may publish for, and how many connections it
may hold at once. The broker takes a client's user name as its client id on
the devices' listener (``use_username_as_clientid``), so a gateway that sends
from several processes has one login per process: ``<account>`` and
``<account>.1`` .. ``<account>.<logins-1>``, sharing the account's password.

Mosquitto enforces the declared ids through the ACL written from here
(:func:`acl_lines`): a list of ids becomes one ``topic write`` line each; ``*``
becomes ``devices/+/+`` (exactly a type and an id, no deeper topic) after a ``deny`` line for every reserved
id: every registered device (a device that logs in as itself is never spoken for by a gateway) and every id
another gateway declares.

Over HTTP and OTLP (gRPC) a gateway may have listeners of its own (``http``,
``otlp``: their ports), whose login is its own: basic auth with its HTTP
password, a client certificate naming it; over Kafka (``kafka = true``) a
topic of its own, ``device_messages.<account>``, which only its certificate
may write. Telegraf tags what each listener
takes with the gateway's account (``tickml_sender``), and the senders'
processor (``telegraf/senders.star``, with :func:`telegraf_constant`) refuses
a message naming an id outside the gateway's, as the broker's ACL does over
MQTT. The shipped listeners (HTTP ``/devices`` and ``/mapped`` with the
``tickml-sender`` login, OTLP with ``sender.crt``, Kafka ``device_messages``)
speak as :data:`SHARED_SENDER`, the simulator's gateway.
"""

from __future__ import annotations

import json
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

from tickml.paths import ROOT

GATEWAYS_FILE = ROOT / "mosquitto" / "gateways.toml"
ANY = "*"
MAX_LOGINS = 256
# The account the shipped HTTP, OTLP and Kafka inputs speak as (telegraf/telegraf.conf tags them with it).
SHARED_SENDER = "tickml-gateway"
LISTENERS = ("http", "otlp")
# A gateway's own Kafka topic: the device topic's name and its account.
KAFKA_TOPIC_PREFIX = "device_messages."
# An MQTT user name that is also a topic level in the ACL: no wildcard, separator or control character.
_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*")


class GatewayError(ValueError):
    """mosquitto/gateways.toml declares something that cannot be; the message names the gateway and the key."""


@dataclass(frozen=True)
class Gateway:
    account: str
    ids: tuple[str, ...]
    logins: int = 1
    http: int | None = None  # the port of its own HTTP listener (POST /devices)
    otlp: int | None = None  # the port of its own OpenTelemetry (gRPC) listener
    kafka: bool = False  # a Kafka topic of its own

    @property
    def kafka_topic(self) -> str | None:
        return KAFKA_TOPIC_PREFIX + self.account if self.kafka else None

    @property
    def certificate(self) -> bool:
        """Whether it has a client certificate of its own (its OTLP listener's and Kafka's login)."""
        return bool(self.otlp or self.kafka)

    @property
    def any_id(self) -> bool:
        return self.ids == (ANY,)

    def login_names(self) -> list[str]:
        """``account``, ``account.1``, ...: one a connection.

        >>> Gateway("gw", ("*",), 3).login_names()
        ['gw', 'gw.1', 'gw.2']
        """
        return [self.account] + [f"{self.account}.{k}" for k in range(1, self.logins)]

    def account_of(self, login: str) -> str | None:
        return self.account if login in self.login_names() else None


def parse(doc: dict, where: str = "gateways.toml") -> dict[str, Gateway]:
    """The gateways a parsed file declares, checked; every problem in one message.

    >>> parse({"gateways": {"edge-1": {"ids": ["pump-1", "pump-2"]}}})["edge-1"].logins
    1
    >>> parse({"gateways": {"edge-1": {"ids": "pump-1"}}})
    Traceback (most recent call last):
    ...
    tickml.gateways.GatewayError: gateways.toml: [gateways.edge-1] ids must be a list of device ids or ["*"], got 'pump-1'
    """
    problems, out = [], {}
    tables = doc.get("gateways", {})
    if not isinstance(tables, dict):
        raise GatewayError(f"{where}: [gateways] must be a table of [gateways.<account>] tables")
    for account, spec in tables.items():
        head = f"[gateways.{account}]"
        if not _NAME.fullmatch(account):
            problems.append(f"{head} is not a user name (letters, digits, _ . -; no wildcard or '/')")
            continue
        if not isinstance(spec, dict):
            problems.append(f"{head} must be a table")
            continue
        unknown = sorted(set(spec) - {"ids", "logins", "kafka", *LISTENERS})
        if unknown:
            problems.append(f"{head} has unknown keys {unknown}; the keys are ids, logins, http, otlp and kafka")
        kafka = spec.get("kafka", False)
        if not isinstance(kafka, bool):
            problems.append(f"{head} kafka must be true or false, got {kafka!r}")
            kafka = False
        ports = {key: spec.get(key) for key in LISTENERS}
        for key, port in ports.items():
            if port is not None and (isinstance(port, bool) or not isinstance(port, int) or not 1024 <= port <= 65535):
                problems.append(f"{head} {key} must be a port number from 1024 to 65535, got {port!r}")
                ports[key] = None
        ids, logins = spec.get("ids"), spec.get("logins", 1)
        if not isinstance(ids, list) or not ids or not all(isinstance(i, str) for i in ids):
            problems.append(f"{head} ids must be a list of device ids or [\"*\"], got {ids!r}")
            continue
        if ANY in ids and ids != [ANY]:
            problems.append(f"{head} ids: \"*\" stands alone (any unregistered id), got {ids!r}")
        bad = [i for i in ids if i != ANY and not valid_device_id(i)]
        if bad:
            problems.append(f"{head} ids {bad[:5]} are not device ids (no '/', '+', '#', ':', newline or NUL)")
        if isinstance(logins, bool) or not isinstance(logins, int) or not 1 <= logins <= MAX_LOGINS:
            problems.append(f"{head} logins must be an integer from 1 to {MAX_LOGINS}, got {logins!r}")
            continue
        out[account] = Gateway(account, tuple(ids), logins, **ports, kafka=kafka)
    used: dict[int, str] = {}
    for g in out.values():
        for key in LISTENERS:
            port = getattr(g, key)
            if port is not None and used.setdefault(port, f"[gateways.{g.account}] {key}") != f"[gateways.{g.account}] {key}":
                problems.append(f"[gateways.{g.account}] {key} port {port} is also {used[port]}'s")
    listed = {}
    for g in out.values():
        for device in () if g.any_id else g.ids:
            if listed.setdefault(device, g.account) != g.account:
                problems.append(f"[gateways.{g.account}] and [gateways.{listed[device]}] both declare id {device!r}")
    if problems:
        raise GatewayError(f"{where}: " + "; ".join(problems))
    return out


def load(path: Path | None = None) -> dict[str, Gateway]:
    path = path or GATEWAYS_FILE  # read when called, so that tests may point it elsewhere
    try:
        with path.open("rb") as fh:
            doc = tomllib.load(fh)
    except FileNotFoundError:
        return {}
    except tomllib.TOMLDecodeError as exc:
        raise GatewayError(f"{path}: {exc}") from None
    return parse(doc, str(path))


def valid_device_id(device_id: str) -> bool:
    """An id that can be an MQTT user name and one topic level.

    >>> valid_device_id("pump-7"), valid_device_id("a/b"), valid_device_id("")
    (True, False, False)
    """
    return bool(device_id) and not any(c in device_id for c in "/+#:\n\x00")


def reserved(declared: dict[str, Gateway], registered: list[str]) -> list[str]:
    """The ids no ``*`` gateway may speak for: the registered devices' and those a gateway lists.

    >>> reserved({"e": Gateway("e", ("p-1", "p-2"))}, ["pm-1"])
    ['p-1', 'p-2', 'pm-1']
    """
    return sorted({*registered, *(d for g in declared.values() if not g.any_id for d in g.ids)})


def telegraf_constant(declared: dict[str, Gateway], registered: list[str]) -> str:
    """What the senders' processor (telegraf/senders.star) checks by, as one line of JSON: each sending
    account's ids (``["*"]``: any but the reserved), and the reserved ids.

    >>> telegraf_constant({"e": Gateway("e", ("p-1",))}, ["pm-1"])
    '{"senders": {"e": ["p-1"]}, "reserved": ["p-1", "pm-1"]}'
    """
    return json.dumps({"senders": {g.account: list(g.ids) for g in declared.values()},
                       "reserved": reserved(declared, registered)})


def acl_lines(gateway: Gateway, registered: list[str]) -> list[str]:
    """The ACL lines of every login of ``gateway``: what it may publish, and the reserved ids it may not
    (``registered``: the reserved ids, :func:`reserved`).

    >>> acl_lines(Gateway("gw", ("*",), 2), ["pm-1"])
    ['user gw', 'topic deny devices/+/pm-1', 'topic write devices/+/+', '', 'user gw.1', 'topic deny devices/+/pm-1', 'topic write devices/+/+', '']
    >>> acl_lines(Gateway("edge", ("p-1",)), ["p-1"])
    ['user edge', 'topic write devices/+/p-1', '']
    """
    if gateway.any_id:
        # A matching deny line wins over any write line (Mosquitto 2.0), wherever it stands.
        rules = [f"topic deny devices/+/{device}" for device in registered] + ["topic write devices/+/+"]
    else:
        rules = [f"topic write devices/+/{device}" for device in gateway.ids]
    out = []
    for login in gateway.login_names():
        out += [f"user {login}", *rules, ""]
    return out
