"""How simulated devices reach Telegraf: MQTT, HTTP or Kafka, one interface.

Every transport takes ``Envelope`` lists in ``send_envelopes``, waits for the
receiving end in ``flush`` and counts what it sent in ``sent`` (and, for HTTP,
what the listener refused in ``refused``):

- ``MqttTransport``: QoS 1 to ``devices/<type>/<id>``, over TLS with a login
  (a gateway account for a fleet), through gmqtt (asyncio); flush waits for
  every PUBACK.
- ``DeviceMqttTransports``: each device on its own connection, logged in as
  itself, as real devices are; the connections share one event loop.
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

import asyncio
import base64
import contextlib
import http.client
import logging
import ssl
import sys
import time
import urllib.parse
from typing import Callable, Iterable, NamedTuple

import gmqtt
from gmqtt.storage import PersistentStorage

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


# How long an HTTP sender tries again while the listener refuses connections (Telegraf closes its listeners
# while it rereads its configuration, which it does when a device registers) before it gives up.
REFUSED_FOR = 30.0
# What Telegraf's HTTP listener answers, before it reads the body, to a request that comes while it stops.
CLOSING = 410

# MQTT 3.1.1's CONNACK return codes (section 3.2.2.3): why the broker refused a login.
CONNACK_REFUSALS = {1: "Unacceptable protocol version", 2: "Identifier rejected", 3: "Server unavailable",
                    4: "Bad user name or password", 5: "Not authorized"}

# gmqtt logs each connection made and lost at INFO, one line per device with --per-device; the
# transport reports what matters (a refusal, a lost broker) itself.
logging.getLogger("gmqtt").setLevel(logging.WARNING)


class _Unacknowledged(PersistentStorage):
    """gmqtt's store of the PUBLISH packets the broker has not acknowledged yet, kept across a lost session.

    gmqtt empties its store when a reconnect finds no session at the broker
    (a broker restarted without persistence, as the stack's): the messages in
    it would be lost. Here they stay, and the transport sends them again.
    """

    def __init__(self):
        super().__init__()
        self.session_lost = False

    def clear(self) -> None:
        self.session_lost = True

    @property
    def size(self) -> int:  # not __len__: gmqtt takes an empty store that has a length for none given
        return len(self._messages)


class _Gathered:
    """Stands in for the asyncio transport gmqtt writes a connection's packets to: while ``holding``, the
    packets gather and go out in one write (one TLS record and system call for many messages, not one each).

    A burst of messages costs half the CPU so (measured over TLS: 16 us per message, 8.5 us gathered).
    """

    def __init__(self, transport):
        self.transport = transport
        self.holding = False
        self._parts: list[bytes] = []

    def write(self, data) -> None:
        if self.holding:
            self._parts.append(data)
        else:
            self.transport.write(data)

    def release(self) -> None:
        self.holding = False
        if self._parts:
            data, self._parts = b"".join(self._parts), []
            self.transport.write(data)

    def __getattr__(self, name):  # is_closing, close, get_extra_info: the real transport's
        return getattr(self.transport, name)


class _MqttSession:
    """One gmqtt client on an event loop its owner runs: QoS 1 publishes, counted until acknowledged.

    ``publish`` needs no running loop: gmqtt writes the packet at once; the
    loop, run by the owner between bursts, reads the acknowledgements,
    answers keepalives and reconnects. While the connection is down, messages
    wait here in order and go out once it is back, after those gmqtt sends
    again from its store.
    """

    def __init__(self, url: str, client_id: str, username: str | None, password: str | None,
                 ca_file: str | None):
        parsed = urllib.parse.urlparse(url)
        if parsed.scheme not in ("tcp", "mqtt", "ssl", "mqtts") or not parsed.port:
            raise ValueError(f"MQTT URL must look like mqtts://host:port (TLS) or tcp://host:port, got {url!r}")
        self.url, self.username = url, username
        self._host, self._port = parsed.hostname, parsed.port
        # The broker's certificate must chain to ca_file (the stack's CA) and name the host.
        self._tls = ssl.create_default_context(cafile=ca_file) if parsed.scheme in ("ssl", "mqtts") else False
        self._client_id, self._password = client_id, password
        self._waiting: list[tuple[str, bytes]] = []  # published while disconnected, in order
        self.sent = 0

    async def open(self, timeout: float = 10.0) -> None:
        """Connect and log in; PermissionError if the broker refuses the login, ConnectionError if it does not answer."""
        self._store = _Unacknowledged()
        # A persistent session: the broker keeps what it has not delivered while a subscriber (Telegraf) is away.
        self._client = gmqtt.Client(self._client_id, clean_session=False, persistent_storage=self._store)
        self._client.set_config({"reconnect_delay": 1})
        if self.username is not None:
            self._client.set_auth_credentials(self.username, self._password)
        self._client.on_connect = self._on_connect
        try:
            await asyncio.wait_for(self._client.connect(self._host, self._port, ssl=self._tls, keepalive=30,
                                                        version=gmqtt.constants.MQTTv311), timeout)
        except gmqtt.MQTTConnectError as exc:
            code = exc.args[0] if exc.args and isinstance(exc.args[0], int) else None
            await self.abandon()
            raise PermissionError(f"the MQTT broker at {self.url} refused {self.username or 'an anonymous client'}"
                                  f": {CONNACK_REFUSALS.get(code, exc)}") from None
        except asyncio.TimeoutError:
            await self.abandon()
            raise ConnectionError(f"no CONNACK from the MQTT broker at {self.url} within {timeout:.0f} s") from None

    async def abandon(self) -> None:
        """Give up a connection that never logged in: no reconnects, nothing left running."""
        self._client.stop_reconnect()
        with contextlib.suppress(Exception):
            await self._client.disconnect()

    def _on_connect(self, client, session_present, result, properties) -> None:
        lost, self._store.session_lost = self._store.session_lost, False
        if lost and self._store.size:
            log.warning("the MQTT broker at %s lost the session of %s; sending its %d unacknowledged messages "
                        "again", self.url, self._client_id, self._store.size)
            # What gmqtt does when the broker kept the session: the stored packets, in order.
            asyncio.ensure_future(client._resend_qos_messages())
        if self._waiting:
            # After the stored packets (the task above runs first): the messages that waited meanwhile.
            asyncio.get_running_loop().call_soon(self._send_waiting)

    def _send_waiting(self) -> None:
        if self._client.is_connected:
            waiting, self._waiting = self._waiting, []
            self.publish(waiting)

    @property
    def unacknowledged(self) -> int:
        return self._store.size + len(self._waiting)

    def publish(self, messages: list[tuple[str, bytes]]) -> None:
        """Publish ``(topic, payload)`` pairs with QoS 1, written together."""
        client = self._client
        if not client.is_connected or self._waiting:
            self._waiting.extend(messages)
            return
        protocol = client._connection._protocol  # a new one at each reconnect
        gathered = protocol._transport
        if not isinstance(gathered, _Gathered):
            gathered = protocol._transport = _Gathered(gathered)
        gathered.holding = True
        try:
            for where, payload in messages:
                client.publish(where, payload, qos=1)
        finally:
            gathered.release()

    async def close(self) -> None:
        self._client.stop_reconnect()
        # What the broker sent last is read first: a TLS connection shut down with records still unread
        # fails (APPLICATION_DATA_AFTER_CLOSE_NOTIFY), after the broker has everything.
        await asyncio.sleep(0.05)
        try:
            await self._client.disconnect()
        except (ssl.SSLError, OSError) as exc:  # every message is acknowledged already
            log.debug("closing the MQTT connection of %s: %s", self._client_id, exc)


class _MqttLoop:
    """An asyncio event loop run in the caller's thread, only while a transport's call waits for the broker.

    No thread of its own: the sender hands messages over in its own thread
    and the loop reads the acknowledgements in bulk when it runs (a network
    thread would cost its hand-over per message, as paho's did: 136 us per
    message with it, 41 without).
    """

    def __init__(self):
        self.loop = asyncio.new_event_loop()
        self.serviced_at = time.monotonic()  # when the clients last read the broker

    def run(self, coroutine):
        return self.loop.run_until_complete(coroutine)

    def service(self, seconds: float) -> None:
        """Let the clients read, write, keep alive and reconnect for ``seconds`` (0: what is ready now)."""
        self.loop.run_until_complete(asyncio.sleep(seconds))
        self.serviced_at = time.monotonic()

    def wait_below(self, unacknowledged: Callable[[], int], backlog: int, url: str, timeout: float = 60.0) -> None:
        """Until at most ``backlog`` messages are unacknowledged; TimeoutError after ``timeout`` s without progress."""
        last, progress_at = unacknowledged(), time.monotonic()
        while last > backlog:
            self.service(0.01)
            now = unacknowledged()
            if now != last:
                last, progress_at = now, time.monotonic()
            elif time.monotonic() - progress_at > timeout:
                raise TimeoutError(f"{now} MQTT messages unacknowledged by {url} for {timeout:.0f} s")

    def close(self) -> None:
        for task in asyncio.all_tasks(self.loop):
            task.cancel()
        with contextlib.suppress(Exception):
            self.loop.run_until_complete(asyncio.sleep(0))
        self.loop.close()


class MqttTransport:
    """Publish with QoS 1 over one connection and count the broker's acknowledgements as they come.

    The client is gmqtt (asyncio), on an event loop of its own that runs in
    the caller's thread: ``send`` writes each message at once (a burst of
    ``send_envelopes`` in one write), the acknowledgements are read in bulk
    every ``read_every`` messages or ``read_within`` seconds, while the run waits between ticks
    (``idle``) and in ``flush``, which returns once the broker has
    acknowledged every message. Measured over TLS with the stack's broker,
    per message: paho 45 us of CPU, gmqtt 16 us, gmqtt with a burst written
    at once 8.5 us.

    While the broker is away (a restart), messages wait and go out when the
    transport has reconnected, as a device that stores and forwards would:
    those the broker had not acknowledged again (a persistent session, kept
    here even when the restarted broker lost it), then those sent meanwhile.
    """

    read_every = 500  # messages between two reads of the acknowledgements
    # Seconds between two reads at most, however few the messages: gmqtt closes a connection it has
    # read nothing from for two keepalives (60 s), and a slow paced fleet sent 500 in more than that.
    read_within = 1.0
    max_backlog = 5000  # unacknowledged messages before send waits for the broker

    def __init__(self, url: str, client_id: str, max_inflight: int = 0, username: str | None = None,
                 password: str | None = None, ca_file: str | None = None):
        # max_inflight: kept for callers; the backlog (max_backlog) bounds what is unacknowledged.
        self._session = _MqttSession(url, client_id, username, password, ca_file)
        self._loop = _MqttLoop()
        try:
            self._loop.run(self._session.open())
        except BaseException:
            self._loop.close()
            raise
        self._since_read = 0
        self.refused = 0

    @property
    def sent(self) -> int:
        return self._session.sent

    def send(self, topic: str, payload: bytes) -> None:
        self.send_many([(topic, payload)])

    def send_many(self, messages: Iterable[tuple[str, bytes]]) -> None:
        burst: list[tuple[str, bytes]] = []
        for message in messages:
            burst.append(message)
            if len(burst) >= self.read_every:
                self._publish(burst)
                burst = []
        if burst:
            self._publish(burst)

    def send_envelopes(self, envelopes: Iterable[Envelope]) -> None:
        self.send_many((topic(e.device_type, e.device_id or "unknown"), e.payload) for e in envelopes)

    def _publish(self, burst: list[tuple[str, bytes]]) -> None:
        self._session.publish(burst)
        self._session.sent += len(burst)
        self._since_read += len(burst)
        if self._since_read >= self.read_every or time.monotonic() - self._loop.serviced_at >= self.read_within:
            self._since_read = 0
            self._loop.service(0)
            if self._session.unacknowledged >= self.max_backlog:
                self._wait_below(self.max_backlog // 2)

    def idle(self, seconds: float) -> None:
        """Wait, reading acknowledgements and answering keepalives meanwhile."""
        self._loop.service(seconds)

    def _wait_below(self, backlog: int, timeout: float = 60.0) -> None:
        self._loop.wait_below(lambda: self._session.unacknowledged, backlog, self._session.url, timeout)

    def flush(self, timeout: float = 60.0) -> None:
        """Wait until the broker acknowledged every message; TimeoutError after ``timeout`` seconds without progress."""
        self._wait_below(0, timeout)

    def close(self) -> None:
        try:
            self.flush()
        finally:
            try:
                self._loop.run(self._session.close())
            finally:
                self._loop.close()


class DeviceMqttTransports:
    """Each device on its own MQTT connection, logged in as itself (user name = device id).

    The broker's ACL lets a device publish only under its own topic, so a
    fleet that shows what real devices do opens one connection per device;
    ``password_of(device_id)`` gives each one's password. The connections
    share one event loop in the caller's thread and a device's first message
    opens its connection, up to ``connect_at_once`` logins at a time. Fine
    for a demo or test fleet (a connection and a TLS session per device); a
    large simulated fleet publishes through one gateway account instead.
    """

    connect_at_once = 50
    max_backlog = MqttTransport.max_backlog

    def __init__(self, url: str, password_of, ca_file: str | None = None):
        self._url, self._password_of, self._ca = url, password_of, ca_file
        self._devices: dict[str, _MqttSession] = {}
        self._loop = _MqttLoop()
        self.refused = 0

    @property
    def sent(self) -> int:
        return sum(s.sent for s in self._devices.values())

    def _unacknowledged(self) -> int:
        return sum(s.unacknowledged for s in self._devices.values())

    def send_envelopes(self, envelopes: Iterable[Envelope]) -> None:
        by_device: dict[str, list[tuple[str, bytes]]] = {}
        for e in envelopes:
            device = e.device_id or "unknown"
            by_device.setdefault(device, []).append((topic(e.device_type, device), e.payload))
        new = [d for d in by_device if d not in self._devices]
        if new:
            self._loop.run(self._open(new))
        for device, messages in by_device.items():
            session = self._devices[device]
            session.publish(messages)
            session.sent += len(messages)
        self._loop.service(0)
        if self._unacknowledged() >= self.max_backlog:
            self._wait_below(self.max_backlog // 2)

    async def _open(self, devices: list[str]) -> None:
        gate = asyncio.Semaphore(self.connect_at_once)

        async def one(device: str) -> None:
            session = _MqttSession(self._url, client_id=device, username=device,
                                   password=self._password_of(device), ca_file=self._ca)
            async with gate:
                await session.open()
            self._devices[device] = session

        results = await asyncio.gather(*(one(d) for d in devices), return_exceptions=True)
        errors = [r for r in results if isinstance(r, BaseException)]
        if errors:
            raise errors[0]

    def idle(self, seconds: float) -> None:
        self._loop.service(seconds)

    def _wait_below(self, backlog: int, timeout: float = 60.0) -> None:
        self._loop.wait_below(self._unacknowledged, backlog, self._url, timeout)

    def flush(self, timeout: float = 60.0) -> None:
        self._wait_below(0, timeout)

    def close(self) -> None:
        try:
            self.flush()
        finally:
            try:
                self._loop.run(self._close_all())
            finally:
                self._loop.close()

    async def _close_all(self) -> None:
        await asyncio.gather(*(s.close() for s in self._devices.values()), return_exceptions=True)


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
        refused_until = time.monotonic() + REFUSED_FOR
        pause = 0.05
        reopened = False
        while True:
            if self._connection is None:
                self._connection = (
                    http.client.HTTPSConnection(self._host, self._port, timeout=self._timeout, context=self._tls)
                    if self._tls else http.client.HTTPConnection(self._host, self._port, timeout=self._timeout))
            try:
                self._connection.request("POST", self._path, body, self._headers)
                response = self._connection.getresponse()
                detail = response.read()
                if response.status != CLOSING or time.monotonic() + pause > refused_until:
                    return response.status if response.status < 300 else _raise_or(response.status, detail)
            except ConnectionRefusedError:
                if time.monotonic() + pause > refused_until:
                    raise
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
                # A kept-alive connection the server closed is opened again, once.
                self._connection.close()
                self._connection = None
                if reopened:
                    raise
                reopened = True
                continue
            # Refused, or answered "closing" before the body was read: nothing was taken, so sending again cannot
            # double it. The listener is closed for a moment (Telegraf rereads its configuration when a device
            # registers) or for good.
            self._connection.close()
            self._connection = None
            time.sleep(pause)
            pause = min(2 * pause, 1.0)

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

    def release(self) -> None:
        """Send the messages gathered so far now (a paced run's tick), not once the batch is full."""
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

    def __init__(self, bootstrap: str, topic: str = "device_messages", client_id: str = "tickml-simulator", *,
                 ca_file: str | None = None, client_cert: str | None = None, client_key: str | None = None):
        """``ca_file``: TLS, trusting that CA; ``client_cert`` and ``client_key``: the login the stack's broker
        wants (a client certificate of its CA: the senders', which may write the device topics only)."""
        from confluent_kafka import Producer  # imported here: MQTT and HTTP runs do not need it

        tls = {}
        if ca_file or client_cert:
            tls = {"security.protocol": "ssl", **({"ssl.ca.location": ca_file} if ca_file else {})}
        if client_cert:
            tls.update({"ssl.certificate.location": client_cert, "ssl.key.location": client_key or client_cert})
        self.topic = topic
        self._produced = 0
        self._failed = 0  # failures already raised by a flush
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
                "delivery.report.only.error": True,
                "on_delivery": self._delivered,
                **tls,
            }
        )
        # Fail early and clearly when the broker is not there.
        metadata = self._producer.list_topics(timeout=10)
        if topic not in metadata.topics:
            # A broker with ACLs lists only the topics this login may describe.
            raise ConnectionError(f"Kafka at {bootstrap} has no topic {topic!r} that this login may see (topics: "
                                  f"{sorted(metadata.topics)})")

    def _delivered(self, err, msg) -> None:
        # Failures only (delivery.report.only.error): a report per delivered message cost a Python call each.
        self._errors.append(str(err))

    @property
    def sent(self) -> int:
        """Messages the broker acknowledged: those produced less those failed and those not yet delivered."""
        return self._produced - len(self._errors) - self._failed - len(self._producer)

    def send_envelopes(self, envelopes: Iterable[Envelope]) -> None:
        produce, poll, where = self._producer.produce, self._producer.poll, self.topic
        for e in envelopes:
            key = None if e.device_id is None else e.device_id.encode()
            try:
                produce(where, e.payload, key)
            except BufferError:  # the local queue is full: let deliveries drain
                while True:
                    poll(0.1)
                    try:
                        produce(where, e.payload, key)
                        break
                    except BufferError:
                        continue
            self._produced += 1
        poll(0)  # failures reported so far

    def flush(self, timeout: float = 60.0) -> None:
        left = self._producer.flush(timeout)
        if left:
            raise ConnectionError(f"{left} Kafka messages not delivered within {timeout:.0f} s")
        if self._errors:
            errors, self._errors = self._errors, []
            self._failed += len(errors)
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
