"""The simulator's faults and file replay, through the real stack.

Faulty fleets land exactly as the simulator's library says they were sent,
over MQTT and over gRPC (OTLP): late and out-of-order messages included,
spikes and on/off zeros as values, and a message whose only reading is
missing (null) counted as a `no_reading` reject (over OTLP, which has no
missing value, kept back by the sender and counted as refused). A replayed
file lands line by line, over HTTP and OTLP; a line that is not JSON is
refused alone.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest

from devices.replay import parse_time
from devices.simulator import fleet_messages
from ingest_check import count, expected_points, landed
from stackutil import wait_until

pytestmark = pytest.mark.stack


def run_simulator(stack, *argv: str) -> str:
    proc = subprocess.run(
        [sys.executable, "-m", "tickml", "devices", "simulate", *argv], cwd=stack.ROOT, capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stderr


def rejects(influx, prefix: str) -> dict[str, int]:
    rows = influx.query(f"SELECT count(count) FROM device_reject WHERE device_id =~ /^{prefix}/ GROUP BY reason")
    return {r["reason"]: r["count"] for r in rows}


@pytest.mark.parametrize("protocol", ["mqtt", "otlp"])
def test_a_faulty_fleet_lands_exactly_as_sent(stack, influx, run_id, protocol):
    start = "2026-01-01T00:00:00Z"
    faults = {"missing": 0.1, "spikes": (0.02, 8.0), "drift": (0.2, 0.05), "onoff": (0.2, 5, 2), "late": (0.05, 3)}
    log = run_simulator(
        stack, "--protocol", protocol, "--devices", "50", "--types", "thermostat,barometer", "--messages", "2000",
        "--seed", "11", "--prefix", run_id, "--start", start, "--speed", "0", "--missing", "0.1",
        "--spikes", "0.02:8", "--drift", "0.2:0.05", "--onoff", "0.2:5:2", "--late", "0.05:3",
    )  # fmt: skip
    sent = fleet_messages(devices=50, types=["thermostat", "barometer"], seed=11, prefix=run_id, messages=2000,
                          start_ns=parse_time(start), **faults)  # fmt: skip
    with_value = [m for m in sent if None not in m.values()]
    null_only = len(sent) - len(with_value)
    assert 100 < null_only < 300 and any(0.0 in m.values() for m in sent)
    out_of_order = sum(a["device_id"] == b["device_id"] and a["timestamp"] > b["timestamp"]
                       for i, a in enumerate(sent) for b in sent[i + 1 : i + 60])  # fmt: skip
    assert out_of_order > 0

    wait_until(lambda: count(influx, run_id) >= len(with_value), what=f"{len(with_value)} points")
    if protocol == "otlp":
        # A gauge cannot carry a missing value: the sender keeps such messages back and says so.
        assert f"sent {len(with_value)} messages, {null_only} refused" in log
        assert f"{null_only} messages not sent: no reading (every reading missing)" in log
    else:
        wait_until(lambda: rejects(influx, run_id).get("no_reading", 0) >= null_only, what=f"{null_only} rejects")
    time.sleep(1.5)
    assert landed(influx, run_id) == expected_points(with_value)
    assert rejects(influx, run_id) == ({} if protocol == "otlp" else {"no_reading": null_only})


@pytest.mark.parametrize("protocol", ["http", "otlp"])
def test_a_replayed_json_lines_file_lands_and_its_bad_line_is_refused_alone(stack, influx, run_id, tmp_path,
                                                                            protocol):
    lines = [
        json.dumps({"device_id": f"{run_id}r-{i % 3}", "timestamp": 1767225600 + i, "tag": "Hygrometer",
                    "humidity": 40.0 + i})  # fmt: skip
        for i in range(30)
    ]
    lines.insert(10, "this line is not JSON")
    path = tmp_path / "readings.jsonl"
    path.write_text("\n".join(lines) + "\n")
    log = run_simulator(stack, "--protocol", protocol, "--file", str(path), "--speed", "100", "--batch", "7")
    assert "sent 30 messages, 1 refused" in log
    wait_until(lambda: count(influx, run_id) >= 30, what="30 points")
    got = landed(influx, run_id)
    assert got == {(f"{run_id}r-{i % 3}", (1767225600 + i) * 10**9): 40.0 + i for i in range(30)}


def test_a_replayed_csv_file_with_missing_cells_over_kafka(stack, influx, run_id, tmp_path):
    path = tmp_path / "readings.csv"
    path.write_text(
        "uid,ts,tag,voltage,current,power\n"
        f"{run_id}pm-1,2026-01-01T00:00:00Z,PowerMeter,230.1,5.0,1093.0\n"
        f"{run_id}pm-1,2026-01-01T00:00:01Z,PowerMeter,,5.1,\n"
        f"{run_id}pm-1,2026-01-01T00:00:02Z,PowerMeter,,,\n"
        f"{run_id}pm-2,2026-01-01T00:00:02Z,PowerMeter,228.0,high,1000\n"
    )
    log = run_simulator(stack, "--protocol", "kafka", "--file", str(path), "--id-key", "uid", "--time-key", "ts",
                        "--restamp", "--speed", "0")  # fmt: skip
    assert "sent 4 messages, 0 refused" in log
    wait_until(lambda: count(influx, run_id) >= 4, what="4 points")
    wait_until(lambda: sum(rejects(influx, run_id).values()) >= 2, what="2 rejects")
    time.sleep(1.5)
    rows = influx.query(f"SELECT value, sensor FROM device_message WHERE device_id =~ /^{run_id}/")
    assert sorted((r["sensor"], r["value"]) for r in rows) == [
        ("current", 5.0), ("current", 5.1), ("power", 1093.0), ("voltage", 230.1)
    ]
    # Restamped: the first row is stamped about now, the next one second later.
    times = sorted({r["time"] for r in rows})
    assert abs(times[0] - time.time_ns()) < 60 * 10**9 and times[1] - times[0] == 10**9
    assert rejects(influx, run_id) == {"no_reading": 1, "not_a_number": 1}
