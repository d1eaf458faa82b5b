"""How simulated devices reach Telegraf: MQTT (HTTP and Kafka follow the same shape)."""

from __future__ import annotations

import threading
import urllib.parse
from typing import Iterable

import paho.mqtt.client as mqtt


class MqttTransport:
    """Publish with QoS 1 and wait for the broker's acknowledgements in bulk.

    Messages are handed to paho's network thread without waiting one by one;
    ``flush`` waits until the broker has acknowledged every one of them.
    """

    def __init__(self, url: str, client_id: str, max_inflight: int = 1000):
        parsed = urllib.parse.urlparse(url)
        if parsed.scheme not in ("tcp", "mqtt") or not parsed.port:
            raise ValueError(f"MQTT URL must look like tcp://host:port, got {url!r}")
        self._client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=True)
        self._client.max_inflight_messages_set(max_inflight)
        self._client.max_queued_messages_set(0)
        self._pending: list[mqtt.MQTTMessageInfo] = []
        self._connected = threading.Event()
        self._client.on_connect = lambda *a: self._connected.set()
        self._client.connect(parsed.hostname, parsed.port, keepalive=30)
        self._client.loop_start()
        if not self._connected.wait(10):
            raise ConnectionError(f"no CONNACK from the MQTT broker at {url} within 10 s")

    def send(self, topic: str, payload: bytes) -> None:
        info = self._client.publish(topic, payload, qos=1)
        if info.rc != mqtt.MQTT_ERR_SUCCESS:
            raise ConnectionError(f"MQTT publish to {topic} failed: {mqtt.error_string(info.rc)}")
        self._pending.append(info)
        if len(self._pending) >= 5000:
            self.flush()

    def send_many(self, messages: Iterable[tuple[str, bytes]]) -> None:
        for topic, payload in messages:
            self.send(topic, payload)

    def flush(self, timeout: float = 60.0) -> None:
        for info in self._pending:
            info.wait_for_publish(timeout)
        self._pending.clear()

    def close(self) -> None:
        try:
            self.flush()
        finally:
            self._client.loop_stop()
            self._client.disconnect()
