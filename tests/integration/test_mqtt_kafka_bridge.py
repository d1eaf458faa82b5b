"""MQTT devices reach the shards through Kafka: telegraf/mqtt_to_kafka.conf on the real Mosquitto and Kafka.

A private copy of the shipped bridge configuration (its own client id, the
test's device topics, a topic of its own in Kafka) runs in a real Telegraf;
devices' messages published over MQTT (TLS, QoS 1) come out in Kafka as they
were sent, keyed by device id, each device's in one partition in order, the
partition the simulator's Kafka producer picks for the same device.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time

import pytest

from stackutil import mqtt_publish, wait_until

pytestmark = pytest.mark.stack

DEVICES = 10
MESSAGES = 20
PARTITIONS = 8


def _clear_session(client_id: str) -> None:
    """End the persistent MQTT session a bridge left, so that the broker stops queueing for it."""
    import paho.mqtt.client as mqtt

    from tickml import secrets
    from tickml import config

    host, port = config.mosquitto_port()
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=True)
    client.username_pw_set(*secrets.mqtt_login("tickml-operator"))
    client.connect(host, port)
    client.loop_start()
    time.sleep(0.5)
    client.disconnect()
    client.loop_stop()


def _records(topic: str, n: int) -> list:
    from confluent_kafka import Consumer, TopicPartition

    from tickml.stack import kafka

    consumer = Consumer(kafka.client_config(kafka.ADMIN, **{"group.id": "unused", "enable.auto.commit": False}))
    try:
        consumer.assign([TopicPartition(topic, p, 0) for p in range(PARTITIONS)])
        out: list = []
        deadline = time.monotonic() + 30
        while len(out) < n and time.monotonic() < deadline:
            out += [m for m in consumer.consume(n - len(out), timeout=2) if m.error() is None]
        return out
    finally:
        consumer.close()


def test_mqtt_messages_reach_kafka_unchanged_keyed_by_device_in_order(stack, run_id, tmp_path):
    from devices.transports import KafkaTransport, envelope
    from tickml.stack import kafka, telegraf

    topic = f"{run_id}bridge"
    client_id = f"{run_id}bridge"
    kafka.create_topics([(topic, PARTITIONS, {})])
    acls = kafka.device_topic_acls(topic, groups=())  # the senders' (the bridge's) right to write it, as a shard's
    kafka.ensure_acls(acls)
    devices = [f"{run_id}pm-{i}" for i in range(DEVICES)]
    text = telegraf.BRIDGE_CONF.read_text()
    assert 'topics = ["devices/#"]' in text and 'client_id = "tickml-mqtt-kafka"' in text
    text = text.replace('topics = ["devices/#"]', "topics = [" + ", ".join(
        f'"devices/power_meter/{d}"' for d in devices) + "]").replace('"tickml-mqtt-kafka"', f'"{client_id}"')
    (tmp_path / "bridge.conf").write_text(text)
    log = tmp_path / "bridge.log"
    # The operator on the loopback tools' listener, where the bridge keeps the client id of its own (the stack's
    # bridge account, tickml-bridge, is its client id on the devices' listener).
    env = {**os.environ, **telegraf.environment("tickml-operator", kafka.SENDER),
           "TICKML_KAFKA_BROKERS": kafka.kafka_bootstrap(), "TICKML_BRIDGE_TOPIC": topic}
    with log.open("wb") as out:
        bridge = subprocess.Popen([str(stack.BIN / "telegraf"), "--config", str(tmp_path / "bridge.conf")], env=env,
                                  stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        wait_until(lambda: "[inputs.mqtt_consumer] Connected" in log.read_text(), timeout=30,
                   what="the bridge connected to Mosquitto")
        sent = {d: [] for d in devices}
        messages = []
        for n in range(MESSAGES):
            for d in devices:
                payload = json.dumps({"device_id": d, "timestamp": f"2026-01-01T00:00:{n:02d}Z", "tag": "PowerMeter",
                                      "voltage": 230.0 + n, "current": 5.0, "power": 1092.5}).encode()
                sent[d].append(payload)
                messages.append((f"devices/power_meter/{d}", payload))
        # A message that is not JSON goes through as it came: the shards' Telegraf rejects it, with its reason.
        sent[devices[0]].append(b"not json")
        messages.append((f"devices/power_meter/{devices[0]}", b"not json"))
        mqtt_publish(stack, messages, client_id=f"{run_id}publisher")
        got = _records(topic, len(messages))
    finally:
        bridge.send_signal(signal.SIGTERM)
        bridge.wait(30)
        _clear_session(client_id)
    assert len(got) == len(messages), log.read_text()[-2000:]
    partition: dict[str, set[int]] = {}
    received: dict[str, list[bytes]] = {d: [] for d in devices}
    for m in sorted(got, key=lambda m: (m.partition(), m.offset())):
        partition.setdefault(m.key().decode(), set()).add(m.partition())
        received[m.key().decode()].append(m.value())
    assert received == sent  # unchanged, each device's in the order it published them
    assert all(len(p) == 1 for p in partition.values()), partition

    # The simulator's producer puts the same device in the same partition (the same FNV-1a hash).
    try:
        ca, cert, key = kafka.tls_files(kafka.SENDER)
        producer = KafkaTransport(kafka.kafka_bootstrap(), topic=topic, ca_file=ca, client_cert=cert, client_key=key)
        producer.send_envelopes([envelope({"device_id": d, "tag": "PowerMeter", "voltage": 1.0}) for d in devices])
        producer.flush()
        simulated = {m.key().decode(): {m.partition()} for m in _records(topic, len(messages) + DEVICES)
                     if m.value().startswith(b'{"device_id"') and b'"voltage":1.0' in m.value()}
    finally:
        kafka.delete_topics([topic])
        kafka.delete_acls(acls)
    assert simulated == partition
