"""How simulated devices reach Telegraf: MQTT, HTTP or Kafka, one interface.

Every transport takes ``Envelope`` lists in ``send_envelopes``, waits for the
receiving end in ``flush`` and counts what it sent in ``sent`` (and, for HTTP,
what the listener refused in ``refused``):

- ``MqttTransport``: QoS 1 to ``devices/<type>/<id>``, over TLS with a login
  (a gateway account for a fleet); flush waits for every PUBACK.
- ``DeviceMqttTransports``: each device on its own connection, logged in as
  itself, as real devices are.
- ``HttpTransport``: POST JSON arrays of up to ``batch_size`` messages to
  Telegraf's listener; a line that is not a JSON object (file replay) goes
  alone, so that the 400 it earns takes no valid message with it.
- ``KafkaTransport``: one record per message, keyed by device id (one
  device's messages stay in order in one partition, which is what shards
  split the fleet by), through confluent-kafka (librdkafka) with acks from
  the broker; flush waits for every delivery report. Keys are hashed with
  FNV-1a, as Telegraf's Kafka output (Sarama) hashes them, so a device lands
  in the same partition through the MQTT bridge (telegraf/mqtt_to_kafka.conf).
"""

from __future__ import annotations

import base64
import http.client
import logging
import ssl
import sys
import time
import urllib.parse
from typing import Iterable, NamedTuple

import paho.mqtt.client as mqtt

from devices.fleet import encode, topic, type_of_tag

log = logging.getLogger(__name__)


class Envelope(NamedTuple):
    """One message ready to send: routing (device type and id), the JSON bytes, and the message itself."""

    device_type: str
    device_id: str | None
    payload: bytes
    is_object: bool = True  # False: a raw line that is not a JSON object (file replay)
    message: dict | None = None  # for a transport that sends something other than JSON (OTLP)


def envelope(message: dict | bytes) -> Envelope:
    """Wrap a message dict (encoded compactly) or raw bytes (sent as they are).

    >>> envelope({"device_id": "b-1", "tag": "Barometer", "pressure": 1000.5})[:4]
    ('barometer', 'b-1', b'{"device_id":"b-1","tag":"Barometer","pressure":1000.5}', True)
    >>> envelope(b"not json").is_object
    False
    """
    if isinstance(message, bytes):
        return Envelope("unknown", None, message, False)
    device_id = message.get("device_id")
    return Envelope(type_of_tag(str(message.get("tag") or "")), None if device_id is None else str(device_id),
                    encode(message), True, message)


class MqttTransport:
    """Publish with QoS 1 and count the broker's acknowledgements as they come.

    paho is driven from the caller's thread, not from its network thread:
    ``publish`` writes each message at once, and the acknowledgements are read
    in bulk every ``read_every`` messages, while the run waits between ticks
    (``idle``) and in ``flush``, which returns once the broker has
    acknowledged every message. paho's own thread costs three times the CPU
    per message, in the hand-over between the two threads (measured over TLS:
    136 us per message with it, 41 us without).

    While the broker is away (a restart), messages wait in paho's queue and go
    out when the transport has reconnected, as a device that stores and
    forwards would. That needs a persistent session (``clean_session=False``):
    with a clean one, paho 2 drops what it queued while disconnected
    (measured: 7 of 15 messages of a 3 s broker restart lost; none with a
    persistent session).
    """

    read_every = 500  # messages between two reads of the acknowledgements
    max_backlog = 5000  # unacknowledged messages before send waits for the broker

    def __init__(self, url: str, client_id: str, max_inflight: int = 0, username: str | None = None,
                 password: str | None = None, ca_file: str | None = None):
        parsed = urllib.parse.urlparse(url)
        if parsed.scheme not in ("tcp", "mqtt", "ssl", "mqtts") or not parsed.port:
            raise ValueError(f"MQTT URL must look like mqtts://host:port (TLS) or tcp://host:port, got {url!r}")
        self._url = url
        self._client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=False)
        if parsed.scheme in ("ssl", "mqtts"):
            # The broker's certificate must chain to ca_file (the stack's CA) and name the host.
            self._client.tls_set(ca_certs=ca_file)
        if username is not None:
            self._client.username_pw_set(username, password)
        self._refused: str | None = None
        # 0: no limit of paho's; max_backlog bounds what is unacknowledged. paho walks its whole queue at
        # every acknowledgement when it has a limit (measured: 64 us of CPU per message with 1000, 44 without).
        self._client.max_inflight_messages_set(max_inflight)
        self._client.max_queued_messages_set(0)
        # Acknowledgements are counted from on_publish: a message queued while the broker was away
        # carries an error code in its MQTTMessageInfo even once it is delivered.
        self._published = 0
        self._acked = 0
        self._client.on_publish = self._on_publish
        self._client.on_connect = self._on_connect
        self._connected = False
        self._retry_at = 0.0
        self._delay = 0.5
        self.sent = 0
        self.refused = 0
        self._client.connect(parsed.hostname, parsed.port, keepalive=30)
        deadline = time.monotonic() + 10
        while not self._connected and self._refused is None:
            if time.monotonic() > deadline:
                raise ConnectionError(f"no CONNACK from the MQTT broker at {url} within 10 s")
            self._client.loop(0.1)
        if self._refused is not None:
            raise PermissionError(f"the MQTT broker at {url} refused {username or 'an anonymous client'}: "
                                  f"{self._refused}")

    def _on_connect(self, client, userdata, flags, reason_code, properties=None) -> None:
        if reason_code.is_failure:
            self._refused = str(reason_code)
        else:
            self._connected = True
            self._delay = 0.5

    def _on_publish(self, client, userdata, mid, reason_code=None, properties=None) -> None:
        self._acked += 1

    def _service(self, timeout: float) -> None:
        """Read what the broker sent, write what is queued, keep the connection alive; reconnect if it is lost."""
        if self._client.loop(timeout) == mqtt.MQTT_ERR_SUCCESS:
            return
        self._connected = False
        if time.monotonic() < self._retry_at:
            time.sleep(min(timeout, max(0.0, self._retry_at - time.monotonic())))
            return
        try:
            self._client.reconnect()  # paho sends the unacknowledged messages again once it is back
        except OSError as exc:
            log.warning("MQTT broker at %s unreachable (%s); retrying in %.1f s", self._url, exc, self._delay)
            self._retry_at = time.monotonic() + self._delay
            self._delay = min(self._delay * 2, 5.0)

    def send(self, topic: str, payload: bytes) -> None:
        info = self._client.publish(topic, payload, qos=1)
        # NO_CONN: the broker is away; paho keeps the QoS 1 message and sends it on reconnect.
        if info.rc not in (mqtt.MQTT_ERR_SUCCESS, mqtt.MQTT_ERR_NO_CONN):
            raise ConnectionError(f"MQTT publish to {topic} failed: {mqtt.error_string(info.rc)}")
        self._published += 1
        if self._published % self.read_every == 0:
            self._service(0)
            if self._published - self._acked >= self.max_backlog:
                self._wait_below(self.max_backlog // 2)

    def send_many(self, messages: Iterable[tuple[str, bytes]]) -> None:
        for where, payload in messages:
            self.send(where, payload)

    def send_envelopes(self, envelopes: Iterable[Envelope]) -> None:
        for e in envelopes:
            self.send(topic(e.device_type, e.device_id or "unknown"), e.payload)
            self.sent += 1

    def idle(self, seconds: float) -> None:
        """Wait, reading acknowledgements and answering keepalives meanwhile."""
        deadline = time.monotonic() + seconds
        while True:
            left = deadline - time.monotonic()
            self._service(max(0.0, min(left, 1.0)))
            if left <= 0:
                return

    def _wait_below(self, backlog: int, timeout: float = 60.0) -> None:
        """Until at most ``backlog`` messages are unacknowledged; TimeoutError after ``timeout`` s without progress."""
        last, progress_at = self._acked, time.monotonic()
        while self._published - self._acked > backlog:
            self._service(0.1)
            if self._acked != last:
                last, progress_at = self._acked, time.monotonic()
            elif time.monotonic() - progress_at > timeout:
                raise TimeoutError(f"{self._published - self._acked} MQTT messages unacknowledged for "
                                   f"{timeout:.0f} s")

    def flush(self, timeout: float = 60.0) -> None:
        """Wait until the broker acknowledged every message; TimeoutError after ``timeout`` seconds without progress."""
        self._wait_below(0, timeout)

    def close(self) -> None:
        try:
            self.flush()
        finally:
            self._client.disconnect()


class DeviceMqttTransports:
    """Each device on its own MQTT connection, logged in as itself (user name = device id).

    The broker's ACL lets a device publish only under its own topic, so a
    fleet that shows what real devices do opens one connection per device;
    ``password_of(device_id)`` gives each one's password. Fine for a demo or
    test fleet (a connection per device); a large
    simulated fleet publishes through one gateway account instead.
    """

    def __init__(self, url: str, password_of, ca_file: str | None = None):
        self._url, self._password_of, self._ca = url, password_of, ca_file
        self._devices: dict[str, MqttTransport] = {}
        self.refused = 0

    @property
    def sent(self) -> int:
        return sum(t.sent for t in self._devices.values())

    def send_envelopes(self, envelopes: Iterable[Envelope]) -> None:
        for e in envelopes:
            device = e.device_id or "unknown"
            transport = self._devices.get(device)
            if transport is None:
                transport = self._devices[device] = MqttTransport(
                    self._url, client_id=device, max_inflight=100, username=device,
                    password=self._password_of(device), ca_file=self._ca)
            transport.send_envelopes([e])

    def idle(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            for transport in self._devices.values():
                transport.idle(0)
            time.sleep(min(0.1, max(0.0, deadline - time.monotonic())))

    def flush(self, timeout: float = 60.0) -> None:
        for transport in self._devices.values():
            transport.flush(timeout)

    def close(self) -> None:
        for transport in self._devices.values():
            transport.close()


class HttpTransport:
    """POST JSON arrays to Telegraf's HTTP listener on one kept-alive connection."""

    def __init__(self, url: str, batch_size: int = 1000, timeout: float = 60.0, username: str | None = None,
                 password: str | None = None, ca_file: str | None = None):
        parsed = urllib.parse.urlparse(url)
        if parsed.scheme not in ("http", "https") or not parsed.hostname:
            raise ValueError(f"HTTP URL must look like https://host:port/path (or http://), got {url!r}")
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        self.url = url
        self._host, self._port, self._path = parsed.hostname, parsed.port or 80, parsed.path or "/"
        # HTTPS: the listener's certificate must chain to ca_file (the stack's CA) and name the host.
        self._tls = ssl.create_default_context(cafile=ca_file) if parsed.scheme == "https" else None
        self._headers = {"Content-Type": "application/json"}
        if username is not None:
            token = base64.b64encode(f"{username}:{password or ''}".encode()).decode()
            self._headers["Authorization"] = f"Basic {token}"
        self._timeout = timeout
        self.batch_size = batch_size
        self._batch: list[bytes] = []
        self._connection: http.client.HTTPConnection | None = None
        self.sent = 0
        self.refused = 0

    def _post(self, body: bytes) -> int:
        for attempt in (1, 2):  # a kept-alive connection the server closed is opened again once
            if self._connection is None:
                self._connection = (
                    http.client.HTTPSConnection(self._host, self._port, timeout=self._timeout, context=self._tls)
                    if self._tls else http.client.HTTPConnection(self._host, self._port, timeout=self._timeout))
            try:
                self._connection.request("POST", self._path, body, self._headers)
                response = self._connection.getresponse()
                detail = response.read()
                return response.status if response.status < 300 else _raise_or(response.status, detail)
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
                self._connection.close()
                self._connection = None
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def _post_batch(self) -> None:
        if not self._batch:
            return
        body = b"[" + b",".join(self._batch) + b"]"
        status = self._post(body)
        if status >= 300:
            raise ConnectionError(f"POST {self.url} of {len(self._batch)} messages: HTTP {status}")
        self.sent += len(self._batch)
        self._batch = []

    def send_envelopes(self, envelopes: Iterable[Envelope]) -> None:
        for e in envelopes:
            if not e.is_object:
                self._post_batch()
                if self._post(e.payload) >= 300:
                    self.refused += 1
                else:
                    self.sent += 1
                continue
            self._batch.append(e.payload)
            if len(self._batch) >= self.batch_size:
                self._post_batch()

    def flush(self) -> None:
        self._post_batch()

    def close(self) -> None:
        try:
            self.flush()
        finally:
            if self._connection is not None:
                self._connection.close()


def _raise_or(status: int, detail: bytes) -> int:
    """4xx: the listener refused the body (returned, the caller decides); 5xx: raised."""
    if 400 <= status < 500:
        return status
    raise ConnectionError(f"HTTP {status}: {detail[:200].decode(errors='replace')}")


class KafkaTransport:
    """Produce to a Kafka topic, keyed by device id, acknowledged by the broker."""

    def __init__(self, bootstrap: str, topic: str = "device_messages", client_id: str = "tickml-simulator"):
        from confluent_kafka import Producer  # imported here: MQTT and HTTP runs do not need it

        self.topic = topic
        self.sent = 0
        self.refused = 0
        self._errors: list[str] = []
        self._producer = Producer(
            {
                "bootstrap.servers": bootstrap,
                "client.id": client_id,
                # Wait for the broker's acknowledgement; retries never duplicate.
                "acks": "all",
                "enable.idempotence": True,
                "linger.ms": 5,
                "batch.num.messages": 10000,
                "queue.buffering.max.messages": 200000,
                # Sarama's default hash (FNV-1a; librdkafka's own default is CRC32): a device's
                # partition is the same whether it comes from here or through Telegraf's Kafka output.
                "partitioner": "fnv1a",
                "log_level": 3,
            }
        )
        # Fail early and clearly when the broker is not there.
        metadata = self._producer.list_topics(timeout=10)
        if topic not in metadata.topics:
            raise ConnectionError(f"Kafka at {bootstrap} has no topic {topic!r} (topics: {sorted(metadata.topics)})")

    def _delivered(self, err, msg) -> None:
        if err is not None:
            self._errors.append(str(err))
        else:
            self.sent += 1

    def send_envelopes(self, envelopes: Iterable[Envelope]) -> None:
        for e in envelopes:
            key = None if e.device_id is None else e.device_id.encode()
            while True:
                try:
                    self._producer.produce(self.topic, e.payload, key, on_delivery=self._delivered)
                    break
                except BufferError:  # the local queue is full: let deliveries drain
                    self._producer.poll(0.1)
            self._producer.poll(0)

    def flush(self, timeout: float = 60.0) -> None:
        left = self._producer.flush(timeout)
        if left:
            raise ConnectionError(f"{left} Kafka messages not delivered within {timeout:.0f} s")
        if self._errors:
            errors, self._errors = self._errors, []
            raise ConnectionError(f"{len(errors)} Kafka messages failed; first: {errors[0]}")

    def close(self) -> None:
        self.flush()


class StdoutTransport:
    """JSON lines on standard output: a preview, or a file for ``--file`` later."""

    def __init__(self, stream=None):
        self._out = stream or sys.stdout.buffer
        self.sent = 0
        self.refused = 0

    def send_envelopes(self, envelopes) -> None:
        for e in envelopes:
            self._out.write(e.payload + b"\n")
            self.sent += 1

    def flush(self) -> None:
        self._out.flush()

    def close(self) -> None:
        self.flush()
