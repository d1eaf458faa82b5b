"""The first real job, with no UDF: device messages over MQTT → Telegraf →
InfluxDB → Kapacitor (tick_scripts/device_aggregates.tick) → InfluxDB.

Known readings are published over real MQTT with timestamps in three past
10 s windows; the avg/max/min/count per device, sensor and window read back
from InfluxDB must be exactly those of the readings.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from devices.fleet import DEVICE_TYPES, encode, message, topic
from stackutil import mqtt_publish, telegraf_log_since, telegraf_log_size, wait_for_rows, wait_until

# Beside test_docs_commands.py never: it defines this task again.
pytestmark = [pytest.mark.stack, pytest.mark.exclusive("device_aggregates")]

WINDOW_NS = 10 * 10**9
TYPES = ["thermostat", "barometer", "hygrometer", "heart_rate_meter"]


def test_window_aggregates_are_exact_and_bad_messages_are_rejected(stack, influx, run_id):
    rng = np.random.default_rng(2)
    now = __import__("time").time_ns()
    base = (now // WINDOW_NS) * WINDOW_NS - 12 * WINDOW_NS
    devices = [(f"{run_id}{kind}-{i}", kind) for kind in TYPES for i in range(2)]
    sensor_of = {kind: next(iter(DEVICE_TYPES[kind].sensors)) for kind in TYPES}

    expected: dict[tuple[str, int], list[float]] = {}
    publish: list[tuple[str, bytes]] = []
    for window in range(3):
        for k, offset_s in enumerate((1.0, 3.5, 5.25, 9.999)):
            t = base + window * WINDOW_NS + int(offset_s * 1e9)
            for device_id, kind in devices:
                value = round(float(rng.normal(50, 20)), 3)
                expected.setdefault((device_id, window), []).append(value)
                publish.append((topic(kind, device_id), encode(message(device_id, kind, t, {sensor_of[kind]: value}))))
    # One reading in a fourth window closes the third (Kapacitor closes a
    # device's window when that device sends a point past it).
    closing = base + 3 * WINDOW_NS + 10**9
    for device_id, kind in devices:
        publish.append((topic(kind, device_id), encode(message(device_id, kind, closing, {sensor_of[kind]: 1.0}))))

    bad_device, forger = f"{run_id}bad-1", f"{run_id}forger-1"
    bad = [
        ("devices/thermostat/garbage", f"not json at all {run_id}".encode()),
        # Over MQTT the id is the topic's: a body naming another device is a forgery.
        (f"devices/thermostat/{forger}", json.dumps({"device_id": f"{run_id}victim", "timestamp": "2026-01-01T00:00:00Z",
                                                     "temperature": 20.5}).encode()),
        (
            f"devices/thermostat/{bad_device}",
            json.dumps({"device_id": bad_device, "timestamp": "2026-01-01T00:00:00Z", "temperature": "warm"}).encode(),
        ),
    ]
    # Bad messages in the middle of the valid ones: all valid ones must land.
    middle = len(publish) // 2
    publish[middle:middle] = bad

    log_offset = telegraf_log_size()
    mqtt_publish(stack, publish, client_id=f"{run_id}test")

    ids = "|".join(d for d, _ in devices)

    def raw_count():
        rows = influx.query(f"SELECT count(value) FROM device_message WHERE device_id =~ /^({ids})$/")
        return rows[0]["count"] if rows else 0

    wait_until(lambda: raw_count() >= 13 * len(devices), what="all valid device messages in InfluxDB")
    assert raw_count() == 13 * len(devices)

    rows = wait_for_rows(influx, f"SELECT * FROM device_aggregates WHERE device_id =~ /^{run_id}/", 3 * len(devices))
    assert len(rows) == 3 * len(devices)
    for row in rows:
        window = (row["time"] - base) // WINDOW_NS - 1  # stamped with the window's end
        values = np.array(expected[(row["device_id"], window)])
        kind = dict(devices)[row["device_id"]]
        assert row["sensor"] == sensor_of[kind]
        assert row["count"] == len(values)
        assert row["avg"] == pytest.approx(values.mean(), rel=1e-12)
        assert row["max"] == values.max()
        assert row["min"] == values.min()

    # The rejects: each named in Telegraf's log, and counted in InfluxDB.
    def rejects_logged():
        text = telegraf_log_since(log_offset)
        return text if "not_a_number" in text and "id_mismatch" in text else None

    log_text = wait_until(rejects_logged, what="reject lines in telegraf.log")
    assert f'device_id="{bad_device}": not_a_number: temperature is string \"warm\", want a number' in log_text
    assert f'device_id="{forger}": id_mismatch: the message names device_id "{run_id}victim"' in log_text
    assert "[inputs.mqtt_consumer]" in log_text and "invalid character" in log_text
    # The reject point goes out with Telegraf's next flush, after the log line.
    rejects = wait_for_rows(influx, f"SELECT * FROM device_reject WHERE device_id = '{bad_device}'", 1)
    assert [r["reason"] for r in rejects] == ["not_a_number"]
    assert influx.query(f"SELECT count(value) FROM device_message WHERE device_id = '{bad_device}'") == []
    assert influx.query(f"SELECT count(value) FROM device_message WHERE device_id =~ /^{run_id}(victim|forger)/") == []
