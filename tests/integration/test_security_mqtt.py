"""Only the right device gets in: Mosquitto's logins, ACL and TLS, tried with real clients against the real broker.

Each refusal is the broker's own: a CONNACK "not authorised", a failed TLS
handshake, or a message the ACL silently drops (MQTT 3.1.1 has no error for
a denied publish, so the test subscribes as the operator and sees nothing).
"""

from __future__ import annotations

import json
import ssl
import threading
import time

import paho.mqtt.client as mqtt
import pytest

from devices.transports import MqttTransport
from stackutil import operator_mqtt, wait_for_rows
from tickml import secrets
from tickml import config

pytestmark = pytest.mark.stack


def _tls_url() -> str:
    host, port = config.mosquitto_tls_port()
    return f"mqtts://{host}:{port}"


def _plain_url() -> str:
    host, port = config.mosquitto_port()
    return f"tcp://{host}:{port}"


class Listener:
    """The operator subscribed to a topic filter, collecting what the broker delivers."""

    def __init__(self, topic_filter: str, client_id: str):
        # The loopback tools' listener: there the operator's client ids are its own.
        host, port = config.mosquitto_port()
        self.messages: list[tuple[str, bytes]] = []
        self._subscribed = threading.Event()
        self._client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id)
        self._client.username_pw_set(*secrets.mqtt_login("tickml-operator"))
        self._client.on_message = lambda c, u, m: self.messages.append((m.topic, m.payload))
        self._client.on_subscribe = lambda *a: self._subscribed.set()
        self._client.on_connect = lambda c, u, f, rc, p=None: c.subscribe(topic_filter, qos=1)
        self._client.connect(host, port)
        self._client.loop_start()
        assert self._subscribed.wait(10), "the operator could not subscribe"

    def close(self) -> None:
        # Disconnect first: it wakes the network thread, which loop_stop waits for (else up to a second).
        self._client.disconnect()
        self._client.loop_stop()


def _connack(url: str, username: str | None, password: str | None, ca: str | None = None) -> str:
    """What the broker answers a login: 'Success' or its reason."""
    try:
        MqttTransport(url, client_id=f"probe-{time.time_ns()}", username=username, password=password,
                      ca_file=ca).close()
        return "Success"
    except PermissionError as exc:
        return str(exc)


def test_the_right_login_publishes_over_tls_and_lands(stack, influx, run_id):
    device = f"{run_id}thermostat-1"
    secrets.register_devices([device])
    transport = MqttTransport(_tls_url(), client_id=device, username=device, password=secrets.device_password(device),
                              ca_file=str(secrets.ca_file()))
    message = {"device_id": device, "timestamp": "2026-01-01T00:00:00Z", "tag": "Thermostat", "temperature": 21.5}
    transport.send(f"devices/thermostat/{device}", json.dumps(message).encode())
    transport.close()
    rows = wait_for_rows(influx, f"SELECT value FROM device_message WHERE device_id = '{device}'", 1)
    assert [r["value"] for r in rows] == [21.5]


@pytest.mark.parametrize("port", ["tls", "plain"])
def test_no_login_and_a_wrong_password_are_refused(stack, port):
    url, ca = (_tls_url(), str(secrets.ca_file())) if port == "tls" else (_plain_url(), None)
    assert "Not authorized" in _connack(url, None, None, ca)
    assert "Not authorized" in _connack(url, "tickml-operator", "not-the-password", ca)
    assert "Not authorized" in _connack(url, "no-such-device", "whatever", ca)
    assert _connack(url, *secrets.mqtt_login("tickml-operator"), ca) == "Success"


def test_a_device_cannot_publish_under_another_devices_topic(stack, run_id):
    me, other = f"{run_id}pm-1", f"{run_id}pm-2"
    secrets.register_devices([me, other])
    listener = Listener("devices/#", f"{run_id}listener")
    try:
        transport = MqttTransport(_tls_url(), client_id=me, username=me, password=secrets.device_password(me),
                                  ca_file=str(secrets.ca_file()))
        transport.send(f"devices/power_meter/{other}", b'{"forged": true}')
        transport.send(f"devices/power_meter/{me}", b'{"mine": true}')
        transport.send("elsewhere/anything", b'{"outside": true}')
        transport.close()
        deadline = time.monotonic() + 5
        while not listener.messages and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.5)  # a forged message would have come before or with the own one
    finally:
        listener.close()
    # Other fleets may publish on a shared broker meanwhile: what counts is this run's devices' topics
    # (the forged one among them) and the one outside devices/.
    ours = [m for m in listener.messages if run_id in m[0] or not m[0].startswith("devices/")]
    assert ours == [(f"devices/power_meter/{me}", b'{"mine": true}')]


def test_a_device_and_a_reader_read_nothing_they_may_not(stack, run_id):
    # tickml-bridge has Telegraf's rights (read devices/#); Telegraf's own login would take over the running
    # Telegraf's session (the login is the client id on this listener).
    device = f"{run_id}hy-1"
    secrets.register_devices([device])
    host, port = config.mosquitto_tls_port()
    received: list[str] = []
    for user, password, may_read in ((device, secrets.device_password(device), False),
                                     (*secrets.mqtt_login("tickml-bridge"), True)):
        client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"{run_id}reader-{user}")
        client.tls_set(ca_certs=str(secrets.ca_file()))
        client.username_pw_set(user, password)
        client.on_message = lambda c, u, m, who=user: received.append(f"{who} {m.topic}")
        granted = threading.Event()
        client.on_subscribe = lambda *a: granted.set()
        client.on_connect = lambda c, *a: c.subscribe([("devices/#", 1), ("secret/#", 1)])
        client.connect(host, port)
        client.loop_start()
        assert granted.wait(10)
        publisher = operator_mqtt(f"{run_id}pub-{user}")
        publisher.send(f"devices/hygrometer/{run_id}other", b"{}")
        publisher.send("secret/x", b"{}")
        publisher.close()
        time.sleep(1.0)
        client.disconnect()  # before loop_stop, as in Listener.close
        client.loop_stop()
        got = sorted(topic for who, topic in (r.split(" ", 1) for r in received)
                     if who == user and (run_id in topic or not topic.startswith("devices/")))  # not other fleets
        assert got == ([f"devices/hygrometer/{run_id}other"] if may_read else []), (user, got)


def test_a_client_that_does_not_trust_the_ca_is_refused(stack):
    # The system's CAs (no ca_file) do not know the stack's CA: the handshake fails.
    with pytest.raises(ssl.SSLCertVerificationError):
        MqttTransport(_tls_url(), client_id="untrusting", username="tickml-operator", password="x", ca_file=None)


def _operator_in_plain_text(host: str, port: int) -> list:
    """The CONNACKs a paho client logging in as the operator in plain text gets, until it has one or the broker
    ends the connection (silence for 10 s ends the wait too: no CONNACK either)."""
    connacks: list = []
    ended: list = []
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"plain-on-tls-{time.time_ns()}")
    client.username_pw_set(*secrets.mqtt_login("tickml-operator"))
    client.on_connect = lambda c, u, flags, reason, p=None: connacks.append(str(reason))
    client.on_disconnect = lambda *a: ended.append(True)
    client.connect(host, port)
    # The network loop in this thread: no reconnect after the broker hangs up, nothing to wait for at the end.
    deadline = time.monotonic() + 10
    while not (connacks or ended) and time.monotonic() < deadline:
        client.loop(0.05)
    client.disconnect()
    return connacks


def test_plain_text_on_the_tls_port_gets_no_connack(stack):
    """The TLS port reads a plain CONNECT as a broken handshake and hangs up: no CONNACK. The same login on the
    plain port gets its CONNACK, so the refusal is the port's."""
    assert _operator_in_plain_text(*config.mosquitto_port()) == ["Success"]
    assert _operator_in_plain_text(*config.mosquitto_tls_port()) == []
