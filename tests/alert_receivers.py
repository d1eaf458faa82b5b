"""Real receivers of the shipped alert handlers (kapacitor/alert_handlers.json through kapacitor/kapacitor.conf),
for the tests and the benches: an MQTT subscriber, a Kafka consumer of tickml-alerts, an SMTP server (aiosmtpd)
and an HTTP server on the ports kapacitor.conf names, and a tail of a log handler's file. Each has ``start()``
and ``stop()`` (and is a context manager) and keeps what it received in arrival order.

Kapacitor's alert JSON (post, kafka, log) has id, message, details, time, duration, level, data, previousLevel,
recoverable; no task name, but the default details (a task that sets no ``.details()``) are the alert's template
data as HTML-escaped JSON, whose TaskName names the task that raised it: :func:`alert_of` reads both. The email's
subject is the message, its body the details; MQTT carries the message alone, on a topic of the device id.
"""

from __future__ import annotations

import html
import http.server
import json
import threading
from email import message_from_bytes
from pathlib import Path
from urllib.parse import unquote_plus, urlsplit

from tickml import config, secrets


def alert_of(data: dict) -> dict:
    """Kapacitor's alert JSON with ``task``: the details' TaskName (None when a task's own ``.details()`` made
    them something else)."""
    return {**data, "task": task_of(data.get("details", ""))}


def task_of(details: str) -> str | None:
    try:
        return json.loads(html.unescape(details)).get("TaskName")
    except (ValueError, AttributeError):
        return None


def mqtt_device(topic: str, prefix: str = "alerts/") -> str | None:
    """The device id of an alerts/<id> topic (the handler's template percent-encodes it twice); None for
    another topic (alerts/stack/<task>)."""
    if not topic.startswith(prefix) or "/" in topic[len(prefix):]:
        return None
    return unquote_plus(unquote_plus(topic[len(prefix):]))


def _conf() -> dict:
    return config.read_toml(config.KAPACITOR_CONF)


class _Receiver:
    def __enter__(self):
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


class MqttReader(_Receiver):
    """An MQTT client subscribed to ``topic_filter`` on the devices' TLS listener, collecting what it is sent,
    and the broker's answer to the subscription (its reason codes)."""

    def __init__(self, user: str, password: str, topic_filter: str = "alerts/#"):
        import paho.mqtt.client as mqtt

        self.user = user
        self.topic_filter = topic_filter
        self.messages: list[tuple[str, bytes]] = []
        self.granted: list[str] = []
        self._subscribed = threading.Event()
        # The broker takes the login as client id (use_username_as_clientid).
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=user)
        self.client.tls_set(ca_certs=str(secrets.ca_file()))
        self.client.username_pw_set(user, password)
        self.client.on_message = lambda c, u, m: self.messages.append((m.topic, m.payload))
        self.client.on_subscribe = self._on_subscribe
        self.client.on_connect = lambda c, u, f, reason, p=None: c.subscribe(topic_filter, qos=1)

    def start(self) -> MqttReader:
        host, port = config.mosquitto_tls_port()
        self.client.connect(host, port)
        self.client.loop_start()
        assert self._subscribed.wait(10), f"{self.user}: no answer to the subscription"
        return self

    def _on_subscribe(self, client, userdata, mid, reason_codes, properties=None):
        self.granted = [str(code) for code in reason_codes]
        self._subscribed.set()

    def publish(self, topic: str, payload: bytes) -> bool:
        """True once the broker acknowledged it (QoS 1; MQTT 3.1.1 acknowledges a publish its ACL drops too)."""
        info = self.client.publish(topic, payload, qos=1)
        info.wait_for_publish(5)
        return info.is_published()

    def stop(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()

    close = stop

    def alerts(self) -> list[tuple[str, str]]:
        """(device id, message) of every message on alerts/<device id>."""
        out = []
        for topic, payload in list(self.messages):
            device = mqtt_device(topic)
            if device is not None:
                out.append((device, payload.decode(errors="replace")))
        return out


class Webhook(_Receiver):
    """A real HTTP server on kapacitor.conf's [[httppost]] ``endpoint`` URL, collecting (path, content type, body)."""

    def __init__(self, endpoint: str = "webhook"):
        (found,) = [e for e in _conf()["httppost"] if e["endpoint"] == endpoint]
        self.url = urlsplit(found["url"])
        self.path = self.url.path
        self.received: list[tuple[str, str, bytes]] = []
        self._server = None

    def start(self) -> Webhook:
        received = self.received

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                received.append((self.path, self.headers.get("Content-Type", ""), body))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args):
                pass

        self._server = http.server.ThreadingHTTPServer((self.url.hostname, self.url.port), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def alerts(self) -> list[dict]:
        """Kapacitor's alert JSON of every post to the endpoint's path (:func:`alert_of`)."""
        return [alert_of(json.loads(body)) for path, _, body in list(self.received) if path == self.path]


class MailServer(_Receiver):
    """A real SMTP server (aiosmtpd) on kapacitor.conf's [smtp] host and port, collecting the envelopes."""

    def __init__(self):
        self.smtp = _conf()["smtp"]
        self.received: list = []
        self._controller = None

    def start(self) -> MailServer:
        from aiosmtpd.controller import Controller

        received = self.received

        class Handler:
            async def handle_DATA(self, server, session, envelope):
                received.append(envelope)
                return "250 OK"

        self._controller = Controller(Handler(), hostname=self.smtp["host"], port=self.smtp["port"])
        self._controller.start()
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def alerts(self) -> list[dict]:
        """Per mail: its subject (the alert's message) as ``message``, and the alert's id, level and time and
        the ``task`` from its body (the alert's details); those None when the body is no alert's template data."""
        out = []
        for envelope in list(self.received):
            mail = message_from_bytes(envelope.content)
            part = next((p for p in mail.walk() if not p.is_multipart()), mail)
            body = (part.get_payload(decode=True) or b"").decode(errors="replace")
            try:
                details = json.loads(html.unescape(body))
            except ValueError:
                details = {}
            out.append({"message": mail["Subject"], "id": details.get("ID"), "level": details.get("Level"),
                        "time": details.get("Time"), "task": details.get("TaskName")})
        return out


class AlertsConsumer(_Receiver):
    """A consumer of tickml-alerts (as the admin: no other principal reads it) from its end at ``start()``."""

    def __init__(self, group: str):
        self.group = group
        self.records: list = []
        self._consumer = None

    def start(self) -> AlertsConsumer:
        from confluent_kafka import Consumer, TopicPartition

        from tickml.stack import kafka

        self._consumer = Consumer(kafka.client_config(kafka.ADMIN, **{"group.id": self.group, "log_level": 0,
                                                                      "enable.auto.commit": False}))
        _, end = self._consumer.get_watermark_offsets(TopicPartition(kafka.ALERTS_TOPIC, 0), timeout=10)
        self._consumer.assign([TopicPartition(kafka.ALERTS_TOPIC, 0, end)])
        return self

    def poll(self) -> list:
        """Every record so far: those already read and whatever the broker has now."""
        while (record := self._consumer.poll(0.2)) is not None:
            assert record.error() is None, record.error()
            self.records.append(record)
        return self.records

    def stop(self) -> None:
        if self._consumer is not None:
            self._consumer.close()
            self._consumer = None

    def alerts(self) -> list[dict]:
        """Kapacitor's alert JSON of every record (:func:`alert_of`), polled now."""
        return [alert_of(json.loads(r.value())) for r in self.poll()]


class LogTail(_Receiver):
    """A log handler's file from its end at ``start()``: the JSON lines written after."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self._offset = 0

    def start(self) -> LogTail:
        self._offset = self.path.stat().st_size if self.path.exists() else 0
        return self

    def stop(self) -> None:
        pass

    def alerts(self) -> list[dict]:
        """Kapacitor's alert JSON of every complete line since ``start()`` (:func:`alert_of`)."""
        if not self.path.exists():
            return []
        with self.path.open("rb") as f:
            f.seek(self._offset)
            text = f.read().decode(errors="replace")
        return [alert_of(json.loads(x)) for x in text.split("\n")[:-1] if x.strip()]
