"""The preprocess UDF on real Kapacitor: the preprocessed points read back from
InfluxDB equal the library's values over the same windows."""

from __future__ import annotations

import time

import numpy as np
import pytest

from devices.fleet import encode, format_timestamp
from stackutil import FLUSH_INTERVAL, mqtt_publish, wait_for_rows
from udfs.windowstats import compute_many

pytestmark = pytest.mark.stack

SECOND = 10**9
TYPES = ["avg", "min", "max", "trend", "anomprob"]


def test_preprocessed_windows_match_the_library(stack, influx, run_id):
    rng = np.random.default_rng(3)
    devices = [f"{run_id}pm-{k}" for k in range(3)]
    base = (time.time_ns() // (30 * SECOND)) * 30 * SECOND - 5 * 60 * SECOND
    readings = []  # (device, time, voltage, current, power)
    for k in range(60):
        t = base + k * SECOND + SECOND // 2  # never on a window boundary
        for d, device in enumerate(devices):
            v = round(float(rng.normal(230 + 5 * d, 2)), 3)
            if d == 1 and k == 40:
                v = 400.0  # a spike for anomprob to see
            i = round(float(rng.normal(10, 1)), 3)
            readings.append((device, t, v, i, round(v * i, 3)))
    closing = [(device, base + 75 * SECOND + SECOND // 2, 230.0, 10.0, 2300.0) for device in devices]
    mqtt_publish(stack, ((f"devices/power_meter/{device}", encode({
        "device_id": device, "timestamp": format_timestamp(t), "tag": "PowerMeter",
        "voltage": v, "current": i, "power": p})) for device, t, v, i, p in readings + closing),
        client_id=f"{run_id}pre")

    # Windows of 30 s every 10 s, [end - 30 s, end), stamped with their end.
    # Kapacitor emits one window per arriving point: the readings close the
    # windows ending base+10 s ... base+50 s, the closing reading the one
    # ending base+60 s (and skips those in the gap): 6 windows per device.
    query = f"SELECT * FROM power_preprocessed WHERE device_id =~ /^{run_id}/ ORDER BY time"
    rows = wait_for_rows(influx, query, 6 * len(devices), timeout=90)
    assert len(rows) == 6 * len(devices)
    assert sorted({r["time"] for r in rows}) == [base + k * 10 * SECOND for k in range(1, 7)]
    spike_seen = False
    for row in rows:
        end = row["time"]
        window = [r for r in readings if r[0] == row["device_id"] and end - 30 * SECOND <= r[1] < end]
        assert row["Numberofmessages"] == len(window)
        assert row["WindowStartUnixTime"] == window[0][1] and row["WindowEndUnixTime"] == window[-1][1]
        assert row["Skippedvalues"] == 0
        times = np.array([r[1] for r in window])
        for column, name in ((2, "voltage"), (3, "current"), (4, "power")):
            expected = compute_many(TYPES, [r[column] for r in window], times).fields(name)
            got = {k: v for k, v in row.items() if k.startswith(f"{name}_preprocessed_")}
            assert set(got) == set(expected)
            for key, value in expected.items():
                assert got[key] == pytest.approx(value, rel=1e-9, abs=1e-9), key
        spike_seen |= row["device_id"].endswith("pm-1") and row["voltage_preprocessed_AnomProb"] > 90
    assert spike_seen, "the 400 V spike did not raise voltage_preprocessed_AnomProb above 90 %"


MIXED_TASK = """
dbrp "telemetry"."autogen"

stream
    |from()
        .measurement('{measurement}')
        .groupBy('device_id')
    |window()
        .period(10s)
        .every(10s)
        .align()
    @preprocess()
        .fields('reading,{chained}')
        .types('count,countstr,uniquestr,consistency,avg,kurtosis')
    |influxDBOut()
        .flushInterval({flush_interval})
        .database('telemetry')
        .retentionPolicy('autogen')
        .measurement('{measurement}_out')
"""


def test_strings_are_data_and_short_windows_leave_types_out(stack, influx, kapacitor, run_id):
    measurement = f"mixed_{run_id.strip('-')}"
    chained = "Current_preprocessed_AnomProb"
    task = f"{measurement}_pre"
    kapacitor._call("POST", "/tasks", {"id": task, "type": "stream", "status": "enabled",
                                       "script": MIXED_TASK.format(measurement=measurement, chained=chained,
                                                                              flush_interval=FLUSH_INTERVAL)})
    try:
        base = (time.time_ns() // (10 * SECOND)) * 10 * SECOND - 60 * SECOND
        device = f"{run_id}mixed"
        values = ['1.5', '"off"', '2.5', '"off"', '"on"', '3.5']
        lines = [f"{measurement},device_id={device} reading={v},{chained}={k}.0 {base + k * SECOND}"
                 for k, v in enumerate(values)]
        lines.append(f"{measurement},device_id={device} reading=1.0,{chained}=1.0 {base + 10 * SECOND}")
        lines.append(f"{measurement},device_id={device} reading=1.0,{chained}=1.0 {base + 20 * SECOND}")
        from tickml.kapacitor import Kapacitor

        Kapacitor().write(lines)
        rows = wait_for_rows(influx, f"SELECT * FROM {measurement}_out ORDER BY time", 2)
        first, second = rows[0], rows[1]
        assert first["reading_preprocessed_Count"] == 3  # numeric values
        assert first["reading_preprocessed_CountStr"] == 3
        assert first["reading_preprocessed_UniqueStr"] == 0  # "off" repeats
        assert first["reading_preprocessed_Consistency"] == 0  # numbers and strings
        assert first["reading_preprocessed_Avg"] == pytest.approx(2.5)
        assert first["Skippedvalues"] == 3  # the three strings, skipped by avg and kurtosis
        assert first[f"{chained}_preprocessed_Avg"] == pytest.approx(2.5)
        # A one-point window: kurtosis needs 4 values, so it is left out, never NaN.
        assert second["Numberofmessages"] == 1
        assert "reading_preprocessed_Kurtosis" not in {k for k, v in second.items() if v is not None}
        assert second["reading_preprocessed_Avg"] == 1.0
    finally:
        kapacitor.delete(task)
