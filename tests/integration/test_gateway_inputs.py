"""A gateway with inputs of its own (mosquitto/gateways.toml's edge-demo): its own ids land through its HTTP
listener, its OTLP listener and its Kafka topic, each with its own login; an id it does not declare is refused
on each (not_its_device). bench/hostile.py tries the rest (the shared inputs, each login on the other's)."""

from __future__ import annotations

import time

import pytest

from devices.otlp import OtlpTransport
from devices.transports import HttpTransport, KafkaTransport, envelope
from stackutil import wait_until
from tickml import secrets
from tickml.stack import kafka

pytestmark = pytest.mark.stack

EDGE = "edge-demo"


def _message(device: str, stamp_ns: int, value: float) -> dict:
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(stamp_ns // 10**9)) + f".{stamp_ns % 10**9:09d}Z"
    return {"device_id": device, "timestamp": stamp, "tag": "PowerMeter", "power": value}


def _send(protocol: str, messages: list[dict]) -> None:
    gateway, ca = secrets.gateway(EDGE), str(secrets.ca_file())
    if protocol == "http":
        user, password = secrets.http_login(EDGE)
        transport = HttpTransport(f"https://127.0.0.1:{gateway.http}/devices", batch_size=10, username=user,
                                  password=password, ca_file=ca)
    elif protocol == "otlp":
        crt, key = secrets.client_certificate(secrets.GATEWAY_CERT_PREFIX + EDGE)
        transport = OtlpTransport(f"https://127.0.0.1:{gateway.otlp}", ca, str(crt), str(key), timeout=10)
    else:
        _, crt, key = kafka.tls_files(secrets.GATEWAY_CERT_PREFIX + EDGE)
        transport = KafkaTransport(kafka.kafka_bootstrap(), topic=gateway.kafka_topic, ca_file=ca, client_cert=crt,
                                   client_key=key)
    transport.send_envelopes([envelope(m) for m in messages])
    transport.close()


@pytest.mark.parametrize("protocol", ["http", "otlp", "kafka"])
def test_a_gateways_own_ids_land_through_its_own_input_and_others_are_refused(stack, influx, run_id, protocol):
    own, other = secrets.gateway(EDGE).ids[0], f"{run_id}not-edge"
    stamp = time.time_ns() // 1000 * 1000  # microseconds: every input keeps them
    _send(protocol, [_message(own, stamp, 1.5), _message(other, stamp, 2.5)])
    landed = wait_until(lambda: influx.query(f"SELECT value FROM device_message WHERE device_id = '{own}' "
                                             f"AND time = {stamp}"), timeout=30, what=f"{own}'s reading")
    assert [r["value"] for r in landed] == [1.5]
    refused = wait_until(lambda: influx.query(f"SELECT detail FROM device_reject WHERE reason = 'not_its_device' "
                                              f"AND sender = '{EDGE}' AND time = {stamp}"),
                         timeout=30, what="the refusal of the id it does not declare")
    assert other in refused[0]["detail"]
    assert not influx.query(f"SELECT value FROM device_message WHERE device_id = '{other}'")
