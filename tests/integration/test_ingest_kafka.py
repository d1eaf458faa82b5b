"""Kafka ingestion as users run it: the simulator's command produces 10,000
messages to the real broker's `device_messages` topic (4 partitions, keyed by
device id); real Telegraf reads them as consumer group `tickml-telegraf` into
InfluxDB, where every one is counted back exactly, by (device_id, time) and
value. Across a Telegraf restart the group goes on from its committed offsets:
nothing is lost, and what is read twice overwrites itself. A record that is
not JSON is logged by Telegraf and counted, and the records around it land.
"""

from __future__ import annotations

import json

import pytest

from tickml.stack.kafka import kafka_address, kafka_metadata
from ingest_check import (
    assert_exactly,
    count,
    gather_errors,
    wait_for_more_gather_errors,
    run_with_telegraf_restart,
    send_and_assert_exactly,
    simulate,
)
from stackutil import telegraf_log_since, telegraf_log_size, wait_until

pytestmark = pytest.mark.stack


def test_the_topic_exists_with_several_partitions(stack):
    host, port = kafka_address()
    metadata = kafka_metadata(host, port)
    assert metadata["controller_id"] == 1 and metadata["brokers"] == [(1, host, port)]
    assert metadata["topics"]["device_messages"] == 4


def test_ten_thousand_messages_land_exactly_once(stack, influx, run_id):
    send_and_assert_exactly(stack, influx, "kafka", run_id)


@pytest.mark.serial
def test_nothing_lost_or_doubled_across_a_telegraf_restart(stack, influx, run_id):
    # 5 s of sending: Telegraf is stopped after about 2 s (1,000 points in), and back with seconds of it to go.
    proc, expected = simulate(stack, "kafka", run_id, speed="20")
    run_with_telegraf_restart(stack, influx, proc, run_id)
    assert_exactly(influx, run_id, expected)


def test_a_record_telegraf_cannot_parse_is_logged_and_counted(stack, influx, run_id):
    from confluent_kafka import Producer

    before = gather_errors(stack, influx, "kafka_consumer")
    log_offset = telegraf_log_size()
    from tickml.stack import kafka

    producer = Producer(kafka.client_config(kafka.SENDER, acks="all"))  # as any sender, with its certificate
    good = [
        {"device_id": f"{run_id}k-{i}", "timestamp": "2026-01-01T00:00:00Z", "tag": "Barometer", "pressure": 1000.0 + i}
        for i in range(3)
    ]
    records = [json.dumps(good[0]), f"not json {run_id}", json.dumps(good[1]), '{"device_id": "x", ', json.dumps(good[2])]
    for i, record in enumerate(records):
        producer.produce("device_messages", record.encode(), f"{run_id}k-{i % 3}".encode())
    assert producer.flush(10) == 0

    wait_until(lambda: count(influx, run_id) >= 3, what="the valid records around the bad ones")
    assert {r["device_id"]: r["value"] for r in influx.query(
        f"SELECT value, device_id FROM device_message WHERE device_id =~ /^{run_id}/")} == {
        m["device_id"]: m["pressure"] for m in good}  # fmt: skip

    log = wait_until(
        lambda: (text := telegraf_log_since(log_offset)).count("E! [inputs.kafka_consumer]") >= 2 and text,
        what="two parse errors in telegraf.log",
    )
    assert "invalid character 'o' in literal null" in log  # "not json" parsed as JSON
    # Telegraf's own metrics (every 10 s, database `telegraf`) count them.
    wait_for_more_gather_errors(stack, influx, "kafka_consumer", before, 2)


@pytest.mark.serial
def test_telegraf_starts_while_kafka_is_down_and_reads_once_it_is_back(stack, influx, run_id):
    services = {s.name: s for s in stack.services()}
    kafka, telegraf = services["kafka"], services["telegraf"]
    # Telegraf first: it leaves its group and closes its clients while the broker still answers (stopped after
    # Kafka it spends seconds on a broker that is gone, and its member lingers in the group).
    stack.stop_service(telegraf)
    stack.stop_service(kafka)
    try:
        # startup_error_behavior = "retry": Telegraf starts, MQTT and HTTP work meanwhile.
        stack.start_service(telegraf)
        assert telegraf.healthy()
    finally:
        stack.start_service(kafka)
    proc, expected = simulate(stack, "kafka", run_id)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert_exactly(influx, run_id, expected, timeout=60)


@pytest.mark.serial
def test_two_telegraf_instances_share_the_partitions_of_one_group(stack, influx, run_id, tmp_path):
    import os
    import signal
    import subprocess

    from ingest_check import private_telegraf_config
    from tickml.stack.kafka import group_assignment

    config = tmp_path / "telegraf.conf"
    private_telegraf_config(stack, config, client_id=f"{run_id}telegraf")
    from tickml.stack.telegraf import PRIVATE_LISTENERS, environment

    env = {**os.environ, **environment("tickml-operator"), **PRIVATE_LISTENERS}
    log = tmp_path / "telegraf.log"
    with log.open("wb") as out:
        second = subprocess.Popen([str(stack.BIN / "telegraf"), "--config", str(config)], env=env, stdout=out,
                                  stderr=subprocess.STDOUT, start_new_session=True)  # fmt: skip
    try:
        def members():
            counts = group_assignment("tickml-telegraf")
            return counts if sorted(counts) == [2, 2] else None

        # Until the group has rebalanced (a restarted Telegraf's old member may linger for its session timeout).
        wait_until(members, timeout=60, interval=0.25, what="two members with 2 partitions each")
        proc, expected = simulate(stack, "kafka", run_id)
        _, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err
        assert_exactly(influx, run_id, expected)
    finally:
        second.send_signal(signal.SIGTERM)
        second.wait(30)
    assert "E! [inputs.kafka_consumer]" not in log.read_text(), log.read_text()[-2000:]
