"""MQTT ingestion as users run it: the simulator's command publishes 10,000
messages over real Mosquitto (QoS 1) to real Telegraf, into InfluxDB; every
one is counted back exactly, by (device_id, time) and value. The second test
restarts Telegraf while the simulator publishes: the persistent session makes
the broker keep what arrives meanwhile, so nothing is lost, and the messages
Telegraf had read but not acknowledged come again and overwrite themselves
(InfluxDB keys a point by series and time), so nothing is counted twice.
"""

from __future__ import annotations

import pytest

from ingest_check import assert_exactly, run_with_telegraf_restart, send_and_assert_exactly, simulate

pytestmark = pytest.mark.stack


def test_ten_thousand_messages_land_exactly_once(stack, influx, run_id):
    send_and_assert_exactly(stack, influx, "mqtt", run_id)


def test_each_device_logged_in_as_itself_lands_exactly_once(stack, influx, run_id):
    # --per-device: 100 connections, each device with its own login (registered first), on one event loop
    # per sending process.
    send_and_assert_exactly(stack, influx, "mqtt", run_id, "--per-device")


@pytest.mark.serial
def test_nothing_lost_or_doubled_across_a_telegraf_restart(stack, influx, run_id):
    # 10,000 messages over about 8 s of wall time (100 simulated seconds at speed 12).
    proc, expected = simulate(stack, "mqtt", run_id, speed="12")
    run_with_telegraf_restart(stack, influx, proc, run_id)
    assert_exactly(influx, run_id, expected)


def test_a_message_telegraf_cannot_parse_is_logged_and_counted_and_its_neighbours_land(stack, influx, run_id):
    import json

    from ingest_check import count, gather_errors, wait_for_more_gather_errors
    from stackutil import operator_mqtt, telegraf_log_since, telegraf_log_size, wait_until

    before = gather_errors(stack, influx, "mqtt_consumer")
    log_offset = telegraf_log_size()
    good = [json.dumps({"device_id": f"{run_id}m-{i}", "timestamp": "2026-01-01T00:00:00Z", "tag": "Hygrometer",
                        "humidity": 40.0 + i}).encode() for i in range(2)]  # fmt: skip
    transport = operator_mqtt(f"{run_id}bad")
    try:
        transport.send_many([(f"devices/hygrometer/{run_id}m-0", good[0]), ("devices/hygrometer/x", b"{not json"),
                             (f"devices/hygrometer/{run_id}m-1", good[1])])  # fmt: skip
    finally:
        transport.close()
    wait_until(lambda: count(influx, run_id) == 2, what="the two valid messages")
    wait_until(lambda: "E! [inputs.mqtt_consumer]" in telegraf_log_since(log_offset), what="the error line")
    wait_for_more_gather_errors(stack, influx, "mqtt_consumer", before, 1)
