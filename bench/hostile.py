"""The hostile suite: valid credentials used in bad faith against the running stack, with a fleet publishing.

Each trick runs while an honest fleet (``--fleet`` devices behind the
simulator's gateway login, a message each every 0.1 s) publishes over MQTT.
Afterwards the fleet's messages are counted back in InfluxDB, and what the
trick must not have produced is looked for:

- ``verdict``: ``refused`` (the broker, a listener or InfluxDB said no),
  ``confined`` (accepted, but only as the sender's own readings, where they
  belong), or ``FAILED`` with what got through;
- ``sent`` / ``landed`` / ``lost``: the fleet's readings during the trick;
- ``extra``: points the trick produced where it must not have (another
  device's readings, points in another database).

The attackers: a device registered for the run (``probe-a``, its own login,
its own topic), the simulator's gateway (``tickml-gateway``) with its MQTT,
HTTP, OTLP and Kafka credentials, a gateway with listeners of its own
(``edge-demo``, mosquitto/gateways.toml: its HTTP login and client
certificate), and a local process with no credentials. The victim is a
second registered device (``probe-b``).

Run: ``python bench/hostile.py`` (stack running: ``tickml stack start``);
``--tricks`` picks some by name, ``--seconds`` sets how long each floods.
``tests/integration/test_hostile_devices.py`` runs every trick at a smoke
size and asserts the table.
"""

from __future__ import annotations

import argparse
import json
import ssl
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import paho.mqtt.client as mqtt

ROOT = Path(__file__).resolve().parents[1]
for folder in (ROOT / "tests",):
    sys.path.insert(0, str(folder))

from devices import logins  # noqa: E402
from devices.transports import HttpTransport, MqttTransport, envelope  # noqa: E402
from stackutil import telegraf_log_size, telegraf_log_since  # noqa: E402
from tickml import secrets  # noqa: E402
from tickml.influx import Influx  # noqa: E402
from tickml.paths import STATE  # noqa: E402
from tickml import config  # noqa: E402

FLEET_EVERY = 0.1  # seconds between two messages of one fleet device
GATEWAY = "tickml-gateway"
EDGE = "edge-demo"  # the shipped gateway with HTTP and OTLP listeners of its own


@dataclass
class Outcome:
    trick: str
    verdict: str
    detail: str
    sent: int = 0
    landed: int = 0
    extra: int = 0

    @property
    def lost(self) -> int:
        return self.sent - self.landed


def _now() -> str:
    ns = time.time_ns()  # one reading of the clock: two could straddle a second and stamp a second early
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ns // 10**9)) + f".{ns % 10**9:09d}Z"


def _message(device: str, value: float, **extra) -> bytes:
    return json.dumps({"device_id": device, "timestamp": _now(), "tag": "Thermostat", "temperature": value,
                       **extra}).encode()


def _tls_url() -> str:
    host, port = config.mosquitto_tls_port()
    return f"mqtts://{host}:{port}"


def _gateway() -> MqttTransport:
    gateway = secrets.gateway(GATEWAY)
    return logins.gateway_transport(_tls_url(), gateway.account, gateway.logins, secrets.mqtt_login(GATEWAY)[1],
                                    str(secrets.ca_file()))


class RawClient:
    """A paho client logged in as ``user``, for what a well-behaved transport would never send."""

    def __init__(self, user: str, password: str | None, client_id: str, tls: bool = True):
        host, port = config.mosquitto_tls_port() if tls else config.mosquitto_port()
        self.disconnected = threading.Event()
        self.connected = threading.Event()
        self.answered = threading.Event()  # the broker's CONNACK, yes or no, or the connection's end
        self.reason = None
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id)
        if tls:
            self.client.tls_set(ca_certs=str(secrets.ca_file()))
        if user is not None:
            self.client.username_pw_set(user, password)
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.connect(host, port)
        self.client.loop_start()
        self.answered.wait(10)  # a refusal is an answer: no waiting out the timeout for a CONNACK that said no

    def _on_connect(self, client, userdata, flags, reason, properties=None):
        self.reason = str(reason)
        if not reason.is_failure:
            self.connected.set()
        else:
            self.disconnected.set()
        self.answered.set()

    def _on_disconnect(self, client, userdata, flags, reason, properties=None):
        self.disconnected.set()
        self.answered.set()

    def publish(self, topic: str, payload: bytes, timeout: float = 5.0) -> bool:
        """True once the broker acknowledged it (QoS 1); an ACL denial is acknowledged too (MQTT 3.1.1)."""
        info = self.client.publish(topic, payload, qos=1)
        try:
            info.wait_for_publish(timeout)
        except (RuntimeError, ValueError):
            return False
        return info.is_published()

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


class Arena:
    """The run's devices, the fleet that publishes during each trick, and the counts."""

    def __init__(self, influx: Influx, seconds: float = 3.0, fleet: int = 4, run: str | None = None,
                 lead_in: float | None = None):
        self.influx, self.seconds, self.fleet_size = influx, seconds, fleet
        # Seconds the fleet publishes before each trick, once its first messages are acknowledged.
        self.lead_in = min(1.0, seconds) if lead_in is None else lead_in
        self.run = run or f"h{uuid.uuid4().hex[:6]}-"
        self.attacker, self.victim = f"{self.run}probe-a", f"{self.run}probe-b"
        secrets.register_devices([self.attacker, self.victim])

    # -- the fleet ---------------------------------------------------------------

    def with_fleet(self, name: str, trick: Callable[[], tuple[str, str, int]]) -> Outcome:
        """Run ``trick`` while the fleet publishes (from before it starts to after it ends); the trick returns
        (verdict, detail, extra)."""
        prefix = f"{self.run}{name}-fleet-"
        devices = [f"{prefix}thermostat-{i}" for i in range(self.fleet_size)]
        stop, flowing = threading.Event(), threading.Event()
        sent, rounds = [0], [0]

        def publish() -> None:
            try:
                transport = _gateway()
                try:
                    while not stop.is_set():
                        k = rounds[0]
                        transport.send_many((f"devices/thermostat/{d}", _message(d, 20.0 + k)) for d in devices)
                        sent[0] += len(devices)
                        if not k:
                            transport.flush()  # the broker took the first round: the fleet is flowing
                            flowing.set()
                        rounds[0] = k + 1
                        stop.wait(FLEET_EVERY)
                    transport.flush()
                finally:
                    transport.close()
            finally:
                flowing.set()  # a fleet that failed has sent nothing, which the counts then say

        sender = threading.Thread(target=publish, name=f"fleet-{name}")
        sender.start()
        try:
            flowing.wait(30)
            time.sleep(self.lead_in)
            verdict, detail, extra = trick()
            # A round begun after the trick ended: the fleet published across the whole of it.
            after = rounds[0] + 2
            while rounds[0] < after and sender.is_alive():
                time.sleep(FLEET_EVERY / 4)
        finally:
            stop.set()
            sender.join(60)
        landed = self._landed(prefix, sent[0])
        return Outcome(name, verdict, detail, sent[0], landed, extra)

    def _landed(self, prefix: str, sent: int, timeout: float = 30.0) -> int:
        def count() -> int:
            rows = self.influx.query(f"SELECT count(value) AS n FROM device_message WHERE device_id =~ /^{prefix}/")
            return int(rows[0]["n"]) if rows else 0

        deadline = time.monotonic() + timeout
        n = count()
        while n < sent and time.monotonic() < deadline:
            time.sleep(0.1)
            n = count()
        return n

    def count(self, where: str, database: str = "telemetry", measurement: str = "device_message") -> int:
        rows = self.influx.query(f'SELECT count(*) FROM "{measurement}" WHERE {where}', database=database)
        counts = (int(v) for r in rows for k, v in r.items() if k.startswith("count") and v is not None)
        return max(counts, default=0)

    def readings(self, device: str, since: int) -> int:
        """``device``'s readings in telemetry stamped from ``since`` on (each test message holds one)."""
        return self.count(f"device_id = '{device}' AND sensor = 'temperature' AND time >= {since}")

    def landed_after(self, device: str, send: Callable[[str, bytes], object]) -> bool:
        """Send a reading of ``device`` by a way known to land, after a trick's messages, and wait for it: once it
        is in InfluxDB, Telegraf has handled what the broker took before it (one broker, one consumer, one
        output, in order), so what the trick sent would be in by now had it landed."""
        since = time.time_ns()
        send(f"devices/thermostat/{device}", _message(device, 0.5))
        return _eventually(lambda: self.readings(device, since) >= 1)

    def flood_seconds(self) -> float:
        return max(self.seconds - 1.0, 1.0)

    # -- the tricks --------------------------------------------------------------

    def forged_id(self) -> tuple[str, str, int]:
        """probe-a, on its own topic, names probe-b in the body."""
        since = time.time_ns()
        client = RawClient(self.attacker, secrets.device_password(self.attacker), self.attacker)
        client.publish(f"devices/thermostat/{self.attacker}", _message(self.victim, 99.0))
        client.close()
        rejected = _eventually(lambda: self.count(f"device_id = '{self.attacker}' AND reason = 'id_mismatch' "
                                                  f"AND time >= {since}", measurement="device_reject") >= 1)
        extra = self.count(f"device_id = '{self.victim}'")
        return ("refused" if rejected and not extra else "FAILED",
                "Telegraf rejects it: id_mismatch (the topic's id is the login's)", extra)

    def other_topic(self) -> tuple[str, str, int]:
        """probe-a publishes under probe-b's topic."""
        client = RawClient(self.attacker, secrets.device_password(self.attacker), self.attacker)
        client.publish(f"devices/thermostat/{self.victim}", _message(self.victim, 98.0))
        passed = self.landed_after(self.attacker, client.publish)  # its own topic, once the broker acknowledged it
        client.close()
        extra = self.count(f"device_id = '{self.victim}'")
        return ("refused" if passed and not extra else "FAILED",
                "the broker's ACL drops it" + ("" if passed else "; probe-a's own reading after it never landed"),
                extra)

    def gateway_for_registered(self) -> tuple[str, str, int]:
        """The simulator's gateway speaks for a registered device, also one topic level deeper."""
        transport = _gateway()

        def send(topic: str, payload: bytes) -> None:
            transport.send(topic, payload)
            transport.flush()

        try:
            send(f"devices/thermostat/{self.victim}", _message(self.victim, 97.0))
            send(f"devices/thermostat/{self.victim}/x", _message(self.victim, 96.0))
            passed = self.landed_after(f"{self.run}gateway-marker", send)  # a device of the gateway's own
        finally:
            transport.close()
        extra = self.count(f"device_id = '{self.victim}'")
        return ("refused" if passed and not extra else "FAILED", "the ACL denies a registered device's topics to "
                "gateways" + ("" if passed else "; a device of its own after them never landed"), extra)

    def route_database(self) -> tuple[str, str, int]:
        """probe-a's messages name databases: Telegraf's own, and ones that do not exist, 3 a second."""
        since = time.time_ns()
        client = RawClient(self.attacker, secrets.device_password(self.attacker), self.attacker)
        names = ["telegraf", "nope1", "nope2", "nope3"]
        deadline, k = time.monotonic() + self.flood_seconds(), 0
        while time.monotonic() < deadline:
            client.publish(f"devices/thermostat/{self.attacker}",
                           _message(self.attacker, 50.0 + k, tickml_database=names[k % len(names)]))
            k += 1
            time.sleep(1 / 3)
        client.close()
        # Telegraf's telemetry output takes only what has no database tag: once every message is there, none
        # went to the output that routes by it, nor will.
        landed = _eventually(lambda: self.readings(self.attacker, since) >= k)
        extra = self.count(f"device_id = '{self.attacker}'", database="telegraf")
        return ("confined" if landed and not extra else "FAILED",
                f"{k} messages: the key is not a tag; each lands as probe-a's own reading in telemetry"
                + ("" if landed else f" (landed: {self.readings(self.attacker, since)})"), extra)

    def route_database_http(self) -> tuple[str, str, int]:
        """The HTTP sender's login posts messages naming databases; and tries the sessions listener."""
        host, port = config.telegraf_http_address()
        user, password = secrets.http_login()
        device = f"{self.run}http-probe"
        since = time.time_ns()
        http = HttpTransport(f"https://{host}:{port}/devices", batch_size=10, username=user, password=password,
                             ca_file=str(secrets.ca_file()))
        deadline, k = time.monotonic() + self.flood_seconds(), 0
        while time.monotonic() < deadline:
            http.send_envelopes([envelope(json.loads(_message(device, 1.0 + k, tickml_database=db)))
                                 for db in ("telegraf", "nope1")])
            http.release()
            k += 2
            time.sleep(1 / 3)
        http.close()
        s_host, s_port = config.telegraf_sessions_address()
        status = _post(f"https://{s_host}:{s_port}/sessions", _message(device, 2.0, tickml_database="nope2"),
                       user, password)
        # As over MQTT: every message in telemetry, through the output that takes none with a database tag.
        landed = _eventually(lambda: self.readings(device, since) >= k)
        extra = self.count(f"device_id = '{device}'", database="telegraf")
        ok = landed and not extra and status == 401
        return ("confined" if ok else "FAILED",
                f"{k} messages land in telemetry; the sessions listener answers the sender's login {status}"
                + ("" if landed else f" (landed: {self.readings(device, since)})"), extra)

    def http_forged(self) -> tuple[str, str, int]:
        """The shared HTTP login names probe-b; the edge gateway names an id it does not declare on its own
        listener, and logs in on the shared one."""
        since = time.time_ns()
        host, port = config.telegraf_http_address()
        outsider = f"{self.run}edge-outsider"
        edge = secrets.http_login(EDGE)
        statuses = [
            _post(f"https://{host}:{port}/devices", _message(self.victim, 94.0), *secrets.http_login()),
            _post(f"https://{host}:{secrets.gateway(EDGE).http}/devices", _message(outsider, 93.0), *edge),
            _post(f"https://{host}:{port}/devices", _message(outsider, 92.0), *edge),
        ]
        refused = _eventually(lambda: self._not_its_device(since) >= 2)
        extra = self.count(f"device_id = '{self.victim}'") + self.count(f"device_id = '{outsider}'")
        ok = refused and statuses == [204, 204, 401] and not extra
        return ("refused" if ok else "FAILED",
                f"not_its_device twice; the edge gateway's login on the shared listener: {statuses[2]}", extra)

    def otlp_forged(self) -> tuple[str, str, int]:
        """Over OTLP: the senders' certificate names probe-b; the edge gateway's names an id it does not
        declare on its own listener; each certificate on the other's listener."""
        from devices.otlp import OtlpTransport

        since = time.time_ns()
        host, port = config.telegraf_otlp_address()
        outsider = f"{self.run}edge-otlp-outsider"
        shared, own = f"https://{host}:{port}", f"https://{host}:{secrets.gateway(EDGE).otlp}"
        sender, gateway = secrets.client_certificate(), secrets.client_certificate(secrets.GATEWAY_CERT_PREFIX + EDGE)

        def export(url: str, cert: tuple[Path, Path], device: str) -> bool:
            # 2 s: the exporter tries a refused one twice (a second apart), one taken in milliseconds.
            transport = OtlpTransport(url, str(secrets.ca_file()), str(cert[0]), str(cert[1]), timeout=2)
            try:
                transport.send_envelopes([envelope(json.loads(_message(device, 91.0)))])
                transport.close()
                return True
            except ConnectionError:
                return False

        # At once: each waits out the exporter's retries apart.
        attempts = [(shared, sender, self.victim), (own, gateway, outsider), (shared, gateway, outsider),
                    (own, sender, outsider)]
        answered: list[bool | None] = [None] * len(attempts)

        def attempt(i: int) -> None:
            answered[i] = export(*attempts[i])

        threads = [threading.Thread(target=attempt, args=(i,), name=f"otlp-{i}") for i in range(len(attempts))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        refused = _eventually(lambda: self._not_its_device(since) >= 2)
        extra = self.count(f"device_id = '{self.victim}'") + self.count(f"device_id = '{outsider}'")
        ok = refused and answered == [True, True, False, False] and not extra
        return ("refused" if ok else "FAILED",
                "not_its_device twice; each certificate is refused on the other's listener"
                + ("" if answered[2:] == [False, False] else f" (taken: {answered})"), extra)

    def kafka_gateway_forged(self) -> tuple[str, str, int]:
        """Over Kafka: the edge gateway's certificate names an id it does not declare on its own topic, and
        produces to the shared device topic and to another's; the senders' certificate writes the edge
        gateway's topic."""
        from tickml.stack import kafka

        since = time.time_ns()  # before the messages' timestamps: the reject is stamped with them
        outsider = f"{self.run}edge-kafka-outsider"
        own = secrets.gateway(EDGE).kafka_topic
        edge = kafka.client_config(secrets.GATEWAY_CERT_PREFIX + EDGE)
        named = _produce(edge, own, outsider, _message(outsider, 90.0))
        refused = {"the shared topic": _produce(edge, "device_messages", self.victim, _message(self.victim, 89.0)),
                   "the senders' certificate on the edge topic": _produce(kafka.client_config(kafka.SENDER), own,
                                                                          self.victim, _message(self.victim, 88.0))}
        rejected = named == 1 and _eventually(lambda: self._not_its_device(since) >= 1)
        taken = [what for what, n in refused.items() if n]
        extra = self.count(f"device_id = '{self.victim}'") + self.count(f"device_id = '{outsider}'") + len(taken)
        return ("refused" if rejected and not extra else "FAILED",
                "not_its_device on its own topic; the broker refuses it the shared topic and others its topic"
                + (f"; taken: {taken}" if taken else ""), extra)

    def _not_its_device(self, since: int) -> int:
        return self.count(f"reason = 'not_its_device' AND time >= {since}", measurement="device_reject")

    def take_telegrafs_client_id(self) -> tuple[str, str, int]:
        """probe-a connects again and again with Telegraf's client id."""
        offset = telegraf_log_size()
        deadline, k = time.monotonic() + self.flood_seconds(), 0
        while time.monotonic() < deadline:
            client = RawClient(self.attacker, secrets.device_password(self.attacker), "tickml-telegraf")
            client.close()
            k += 1
            time.sleep(0.3)
        # Telegraf's consumer has read past the connections (a kicked one logs that as it happens), or, kicked,
        # reconnected to read its session's message.
        client = RawClient(self.attacker, secrets.device_password(self.attacker), self.attacker)
        try:
            passed = self.landed_after(self.attacker, client.publish)
        finally:
            client.close()
        lost = [line for line in telegraf_log_since(offset).splitlines()
                if "mqtt_consumer" in line and ("lost" in line.lower() or "disconnect" in line.lower())]
        return ("refused" if passed and not lost else "FAILED",
                f"{k} connections; the broker takes the login as the client id" + (f"; Telegraf: {lost[0]}" if lost
                                                                                    else "")
                + ("" if passed else "; probe-a's reading after them never landed"), len(lost))

    def oversized_packet(self) -> tuple[str, str, int]:
        """probe-a sends a 1 MiB message."""
        client = RawClient(self.attacker, secrets.device_password(self.attacker), self.attacker)
        payload = json.dumps({"device_id": self.attacker, "tag": "Thermostat", "temperature": 1.0,
                              "pad": "x" * (1 << 20)}).encode()
        info = client.client.publish(f"devices/thermostat/{self.attacker}", payload, qos=1)
        dropped = client.disconnected.wait(5)
        # Read once the connection is gone: an acknowledgement comes before the broker hangs up, or never.
        acknowledged = info.is_published()
        client.close()
        return ("refused" if dropped and not acknowledged else "FAILED",
                "the broker disconnects it (max_packet_size 256 KiB)", int(acknowledged))

    def no_credentials(self) -> tuple[str, str, int]:
        """A local process without a login, on both listeners."""
        answers = []
        for tls in (True, False):
            client = RawClient(None, None, f"{self.run}anon", tls=tls)
            answers.append(client.connected.is_set())
            client.close()
        return ("refused" if not any(answers) else "FAILED", "no anonymous client on either listener",
                sum(answers))

    def influx_debug(self) -> tuple[str, str, int]:
        """InfluxDB's debug endpoints, without a login and with the dashboard's (not an admin)."""
        base = config.influxdb_url()
        dashboard = secrets.influxdb_login("tickml-dashboard")
        statuses = {f"{path} {who}": _get(base + path, login)
                    for path in ("/debug/vars", "/debug/pprof/", "/debug/requests")
                    for who, login in (("no login", None), ("dashboard", dashboard))}
        opened = [k for k, s in statuses.items() if s == 200]
        return ("refused" if not opened else "FAILED",
                "401 without a login, 403 for a user who is not an admin" + (f"; open: {opened}" if opened else ""),
                len(opened))

    def state_folder(self) -> tuple[str, str, int]:
        """Another local user reading the stack's secrets, data or logs."""
        readable = [str(p) for p in (STATE, STATE / "secrets", STATE / "logs", STATE / "data")
                    if p.exists() and p.stat().st_mode & 0o077]
        return ("refused" if not readable else "FAILED", ".stack/ is 0700" + (f"; open: {readable}" if readable
                                                                              else ""), len(readable))

    def kafka_forged(self) -> tuple[str, str, int]:
        """A local process produces a message naming probe-b to device_messages without a certificate (plaintext,
        and TLS); with the senders' certificate, a fleet model to a model topic, which senders may not write, and
        a message naming probe-b to device_messages, which Telegraf refuses (not_its_device)."""
        from tickml.stack import kafka

        since = time.time_ns()  # before the message's timestamp: the reject is stamped with it
        ca, _, _ = kafka.tls_files(kafka.SENDER)
        forged = _message(self.victim, 95.0)
        model = f"{self.run}forged-models.power"  # the shards' prefix is theirs: a topic the senders were never given
        kafka.create_topics([(model, 1, {})])
        attempts = {
            "plaintext": ({"bootstrap.servers": kafka.kafka_bootstrap()}, "device_messages"),
            "TLS without a certificate": ({"bootstrap.servers": kafka.kafka_bootstrap(), "security.protocol": "ssl",
                                           "ssl.ca.location": ca}, "device_messages"),
            "the senders' certificate, a model topic": (kafka.client_config(kafka.SENDER), model),
        }
        try:
            delivered = {what: _produce(settings, topic, self.victim, forged)
                         for what, (settings, topic) in attempts.items()}
            named = _produce(kafka.client_config(kafka.SENDER), "device_messages", self.victim, forged)
        finally:
            kafka.delete_topics([model])
        refused = named == 1 and _eventually(lambda: self._not_its_device(since) >= 1)
        taken = [what for what, n in delivered.items() if n]
        extra = self.count(f"device_id = '{self.victim}'") + len(taken)
        return ("refused" if refused and not extra else "FAILED",
                "the broker wants a certificate of the stack's CA, and senders may write device topics only; "
                "Telegraf refuses a sender's message naming a registered device" + (f"; taken: {taken}" if taken
                                                                                      else ""), extra)

    def all(self) -> dict[str, Callable[[], tuple[str, str, int]]]:
        return {"forged_id": self.forged_id, "other_topic": self.other_topic, "kafka_forged": self.kafka_forged,
                "gateway_for_registered": self.gateway_for_registered, "route_database": self.route_database,
                "route_database_http": self.route_database_http, "http_forged": self.http_forged,
                "otlp_forged": self.otlp_forged, "kafka_gateway_forged": self.kafka_gateway_forged,
                "take_telegrafs_client_id": self.take_telegrafs_client_id,
                "oversized_packet": self.oversized_packet, "no_credentials": self.no_credentials,
                "influx_debug": self.influx_debug, "state_folder": self.state_folder}

    def run_tricks(self, names: list[str] | None = None) -> list[Outcome]:
        tricks = self.all()
        return [self.with_fleet(name, tricks[name]) for name in (names or list(tricks))]


def _produce(settings: dict, topic: str, key: str, value: bytes, timeout: float = 5.0) -> int:
    """Records the broker took (0 or 1) of one produced with these librdkafka settings: the delivery report, or
    the broker hanging up on the client (no certificate, plaintext on its TLS listener), whichever comes first."""
    from confluent_kafka import KafkaError, Producer

    taken: list[bool] = []
    refused = threading.Event()

    def on_error(err) -> None:
        # The one broker dropped the connection (``_ALL_BROKERS_DOWN``) or refused the login: the record cannot
        # be taken, and librdkafka would only retry until the message times out.
        if err.code() in (KafkaError._ALL_BROKERS_DOWN, KafkaError._AUTHENTICATION):
            refused.set()

    producer = Producer({**settings, "message.timeout.ms": int(timeout * 1000), "log_level": 0,
                         "error_cb": on_error})
    producer.produce(topic, value, key.encode(), on_delivery=lambda err, msg: taken.append(err is None))
    deadline = time.monotonic() + timeout + 5
    while producer.flush(0.05) and not refused.is_set() and time.monotonic() < deadline:
        pass
    producer.purge()
    producer.flush(1)  # the purged record's report, a failure
    return sum(taken)


def _eventually(predicate, timeout: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


def _context() -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(secrets.ca_file()))


def _auth(login) -> dict[str, str]:
    return {} if login is None else {"Authorization": secrets.basic_auth(*login)}


def _get(url: str, login) -> int:
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=_auth(login)), timeout=10,
                                    context=_context()) as answer:
            return answer.status
    except urllib.error.HTTPError as exc:
        return exc.code


def _post(url: str, body: bytes, user: str, password: str) -> int:
    request = urllib.request.Request(url, data=body, method="POST",
                                     headers={**_auth((user, password)), "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=10, context=_context()) as answer:
            return answer.status
    except urllib.error.HTTPError as exc:
        return exc.code


def table(outcomes: list[Outcome]) -> str:
    head = f"{'trick':26s} {'verdict':9s} {'sent':>6s} {'landed':>6s} {'lost':>5s} {'extra':>5s}  detail"
    rows = [f"{o.trick:26s} {o.verdict:9s} {o.sent:6d} {o.landed:6d} {o.lost:5d} {o.extra:5d}  {o.detail}"
            for o in outcomes]
    return "\n".join([head, *rows])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tricks", nargs="+", help="only these (default: all)")
    parser.add_argument("--seconds", type=float, default=20.0, help="how long each trick floods (%(default)s)")
    parser.add_argument("--fleet", type=int, default=18, help="honest devices publishing meanwhile (%(default)s)")
    args = parser.parse_args(argv)
    arena = Arena(Influx(), seconds=args.seconds, fleet=args.fleet)
    outcomes = arena.run_tricks(args.tricks)
    print(table(outcomes))
    failed = [o.trick for o in outcomes if o.verdict == "FAILED" or o.lost]
    print(f"\n{len(outcomes) - len(failed)} of {len(outcomes)} tricks refused or confined with no fleet message lost"
          + (f"; FAILED: {', '.join(failed)}" if failed else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
