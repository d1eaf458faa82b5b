"""The simulator's MQTT transport stores and forwards across a broker restart, on a private Mosquitto.

The broker is stopped (SIGSTOP) while messages are written to it, so they
stay unacknowledged; then it is killed and started again without
persistence, as the stack's broker runs: the restarted broker has lost the
sender's session. gmqtt alone would drop the unacknowledged messages then
(it empties its store when the session is gone); the transport sends them
again, and every message reaches a subscriber. A private broker on a port
of its own: the shared one is never restarted.
"""

from __future__ import annotations

import shutil
import signal
import socket
import subprocess
import threading
import time

import paho.mqtt.client as mqtt
import pytest

from devices.transports import MqttTransport
from stackutil import wait_until


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Broker:
    """A Mosquitto of its own: plain, anonymous, no persistence (as the stack's: persistence false)."""

    def __init__(self, directory, port: int):
        self.port = port
        self.config = directory / "mosquitto.conf"
        self.config.write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n"
                               f"max_queued_messages 100000\nlog_dest stderr\nlog_type error\n")
        self.process = None

    def start(self) -> None:
        binary = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
        self.process = subprocess.Popen([binary, "-c", str(self.config)], stderr=subprocess.DEVNULL)

        def listening() -> bool:
            with socket.socket() as s:
                return s.connect_ex(("127.0.0.1", self.port)) == 0

        wait_until(listening, timeout=10, what="the private broker listening")

    def kill(self) -> None:
        self.process.kill()
        self.process.wait()


class Subscriber:
    """Every payload under t/#, with QoS 1; subscribes again after each reconnect."""

    def __init__(self, port: int):
        self.payloads: list[bytes] = []
        self.subscriptions = 0
        self._lock = threading.Lock()
        self._client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="restart-listener")
        self._client.on_connect = lambda c, u, f, rc, p=None: c.subscribe("t/#", qos=1)
        self._client.on_subscribe = lambda *a: self._count_subscription()
        self._client.on_message = lambda c, u, m: self._add(m.payload)
        self._client.reconnect_delay_set(0.2, 1)
        self._client.connect("127.0.0.1", port)
        self._client.loop_start()

    def _count_subscription(self) -> None:
        self.subscriptions += 1

    def _add(self, payload: bytes) -> None:
        with self._lock:
            self.payloads.append(payload)

    def close(self) -> None:
        self._client.loop_stop()
        self._client.disconnect()


@pytest.fixture()
def broker(tmp_path):
    broker = Broker(tmp_path, _free_port())
    broker.start()
    yield broker
    if broker.process.poll() is None:
        broker.kill()


def test_unacknowledged_messages_survive_a_broker_restart_that_loses_the_session(broker):
    listener = Subscriber(broker.port)
    transport = None
    try:
        wait_until(lambda: listener.subscriptions == 1, timeout=10, what="the subscription")
        transport = MqttTransport(f"tcp://127.0.0.1:{broker.port}", client_id="restart-sender")
        messages = [(f"t/device-{i % 7}", f"message {i}".encode()) for i in range(600)]
        transport.send_many(messages[:100])
        transport.flush()
        broker.process.send_signal(signal.SIGSTOP)  # takes nothing more in, acknowledges nothing
        transport.send_many(messages[100:400])
        transport.idle(0.2)
        assert transport._session.unacknowledged == 300
        broker.kill()
        broker.start()
        wait_until(lambda: listener.subscriptions == 2, timeout=20, what="the subscription on the new broker")
        transport.send_many(messages[400:])  # while the transport has not noticed yet, or is reconnecting
        transport.flush(timeout=30)
        assert transport.sent == 600
        wait_until(lambda: len(set(listener.payloads)) >= 600, timeout=10,
                   what=f"600 distinct messages (have {len(set(listener.payloads))})")
        assert set(listener.payloads) == {payload for _, payload in messages}
    finally:
        if transport is not None:
            transport.close()
        listener.close()


def test_a_slow_sender_reads_the_broker_within_a_second(broker):
    """A paced fleet of a few devices sends a handful of messages a second, with no idle() between them
    (a sending process of the simulator gets a tick every 0.5 s). The transport still reads what the
    broker sent (acknowledgements, ping answers) at least every read_within seconds: gmqtt closes a
    connection it has read nothing from for two keepalives (60 s), which silenced a third of a
    12-device test fleet a minute after it started, when reads came only every 500 messages."""
    transport = MqttTransport(f"tcp://127.0.0.1:{broker.port}", client_id="slow-sender")
    try:
        assert transport.read_within <= 1.0
        most = 0
        for i in range(16):
            transport.send("t/slow", f"message {i}".encode())
            time.sleep(0.25)
            most = max(most, transport._session.unacknowledged)
        # Read every second at most: never more than the last second's messages (4) plus one unanswered.
        assert most <= 5, f"{most} messages unacknowledged: the transport did not read the broker"
        assert transport._session.unacknowledged <= 5
    finally:
        transport.close()
