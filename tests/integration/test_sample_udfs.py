"""The Edge Insights sample UDFs on real Kapacitor, end to end:
MQTT publish → Telegraf → InfluxDB → Kapacitor → Python UDF → InfluxDB.

Every test publishes readings with known values over real MQTT under device
ids unique to the run, and asserts exactly which points come out of each task.
"""

from __future__ import annotations

import re
import time

import numpy as np
import pytest

from devices.fleet import encode, message, topic
from stackutil import mqtt_publish, wait_for_rows, wait_until

pytestmark = pytest.mark.stack

SECOND = 10**9


def publish(stack, run_id: str, readings: list[tuple[str, str, int, dict]]) -> None:
    """Publish (device_id, device_type, time_ns, readings) over real MQTT."""
    mqtt_publish(stack, ((topic(kind, dev), encode(message(dev, kind, t, r))) for dev, kind, t, r in readings),
                 client_id=f"{run_id}pub-{time.monotonic_ns()}")


def rows_of(influx, measurement: str, run_id: str, expected: int, timeout: float = 60.0) -> list[dict]:
    """Wait until ``expected`` rows of the run are in ``measurement``, then wait a little for extras."""
    query = f"SELECT * FROM {measurement} WHERE device_id =~ /^{run_id}/ ORDER BY time"
    wait_for_rows(influx, query, expected, timeout)
    time.sleep(1.5)  # anything that should not have come out has had time to
    return influx.query(query)


def past_base() -> int:
    """A 10 s-aligned time two minutes back: windows there are independent of the clock."""
    return (time.time_ns() // (10 * SECOND)) * 10 * SECOND - 120 * SECOND


def test_py_classifier_passes_only_out_of_band_temperatures(stack, influx, run_id):
    base = past_base()
    values = [18.0, 19.99, 20.0, 22.5, 25.0, 25.01, 30.0]
    device = f"{run_id}thermostat-1"
    publish(stack, run_id, [(device, "thermostat", base + i * SECOND, {"temperature": v}) for i, v in enumerate(values)])
    rows = rows_of(influx, "point_classifier_results", run_id, expected=4)
    assert [r["value"] for r in rows] == [18.0, 19.99, 25.01, 30.0]
    assert [r["time"] for r in rows] == [base + i * SECOND for i in (0, 1, 5, 6)]
    assert {r["device_id"] for r in rows} == {device}


def test_humidity_classifier_passes_only_humidity_above_25(stack, influx, run_id):
    base = past_base()
    values = [10.0, 25.0, 25.5, 80.0, 24.9]
    device = f"{run_id}hygrometer-1"
    publish(stack, run_id, [(device, "hygrometer", base + i * SECOND, {"humidity": v}) for i, v in enumerate(values)])
    rows = rows_of(influx, "humidity_classifier_results", run_id, expected=2)
    assert [r["value"] for r in rows] == [25.5, 80.0]


def test_one_udf_serves_two_tasks_with_their_own_options(stack, influx, run_id):
    """py_classifier runs in py_point_classifier (20..25) and heart_rate_alarm (50..120) at once."""
    base = past_base()
    heart = f"{run_id}heart-1"
    thermo = f"{run_id}thermostat-2"
    readings = [(heart, "heart_rate_meter", base + i * SECOND, {"heart_rate": v})
                for i, v in enumerate([45.0, 50.0, 80.0, 120.0, 121.0])]
    readings += [(thermo, "thermostat", base + i * SECOND, {"temperature": v}) for i, v in enumerate([45.0, 21.0])]
    publish(stack, run_id, readings)
    alarms = rows_of(influx, "heart_rate_alarms", run_id, expected=2)
    assert [r["value"] for r in alarms] == [45.0, 121.0]
    classified = rows_of(influx, "point_classifier_results", run_id, expected=1)
    assert [(r["device_id"], r["value"]) for r in classified] == [(thermo, 45.0)]


def test_two_udfs_chained_in_one_task(stack, influx, run_id):
    base = past_base()
    device = f"{run_id}room-1"
    pairs = [(18.0, 20.0), (18.0, 30.0), (22.0, 40.0), (27.0, 26.0), (26.0, 10.0), (24.0, 90.0)]
    publish(stack, run_id, [(device, "temp_sensor", base + i * SECOND, {"temperature": t, "humidity": h})
                            for i, (t, h) in enumerate(pairs)])
    rows = rows_of(influx, "multi_udf_results", run_id, expected=2)
    assert [(r["temperature"], r["humidity"]) for r in rows] == [(18.0, 30.0), (27.0, 26.0)]
    assert [r["time"] for r in rows] == [base + 1 * SECOND, base + 3 * SECOND]


def test_rfc_classifier_predicts_every_point_of_each_window(stack, influx, run_id):
    from udfs.rfc_classifier import train_forest

    base = past_base()
    device = f"{run_id}room-2"
    # Far from the label's boundaries (20/25 °C, 60 %), so the classes are certain.
    pairs = [(15.0, 40.0), (22.0, 40.0), (22.5, 85.0), (31.0, 30.0), (23.0, 35.0), (12.0, 70.0)]
    readings = [(device, "temp_sensor", base + i * 3 * SECOND, {"temperature": t, "humidity": h})
                for i, (t, h) in enumerate(pairs)]
    # One reading in a later window closes the last window of the six.
    readings.append((device, "temp_sensor", base + 40 * SECOND, {"temperature": 22.0, "humidity": 40.0}))
    publish(stack, run_id, readings)
    rows = rows_of(influx, "rfc_results", run_id, expected=len(pairs))
    assert len(rows) == len(pairs)
    assert [(r["temperature"], r["humidity"]) for r in rows] == pairs
    assert [r["prediction"] for r in rows] == [1, 0, 1, 1, 0, 1]
    forest = train_forest("training_data_sets/room_climate.csv", ("temperature", "humidity"), "label", 50, 0)
    proba = forest.predict_proba(np.array(pairs)).max(axis=1)
    assert [r["prediction_probability"] for r in rows] == pytest.approx(proba.tolist(), abs=1e-12)


@pytest.mark.serial
def test_state_survives_a_kapacitor_restart(stack, influx, kapacitor, run_id):
    """moving_average keeps each device's last 5 values; Kapacitor's snapshot brings them back."""
    base = past_base()
    device = f"{run_id}thermostat-3"
    publish(stack, run_id, [(device, "thermostat", base + i * SECOND, {"temperature": float(v)})
                            for i, v in enumerate([1, 2, 3, 4])])
    before = rows_of(influx, "device_moving_average", run_id, expected=4)
    assert [r["value_moving_average"] for r in before] == [1.0, 1.5, 2.0, 2.5]

    # Kapacitor saves a task's snapshot every [task] snapshot-interval (10 s) at a phase of the task's own; the
    # saved one that holds the four values is in its storage (the backup API gives it whole).
    state = re.compile(rb'"device_id=' + re.escape(device.encode()) + rb',[^"]*",-?\d+,\[1\.0,2\.0,3\.0,4\.0\]\]')
    wait_until(lambda: state.search(kapacitor.fetch("/storage/backup")), timeout=30,
               what=f"a snapshot of moving_average with the four values of {device}")
    stack.stop(["kapacitor"])
    stack.start(["kapacitor"])
    wait_until(lambda: all(t["executing"] for t in kapacitor.tasks() if t["status"] == "enabled"),
               what="every enabled task executing again")

    publish(stack, run_id, [(device, "thermostat", base + 10 * SECOND, {"temperature": 10.0})])
    after = rows_of(influx, "device_moving_average", run_id, expected=5)
    # Restored: (1 + 2 + 3 + 4 + 10) / 5. A fresh state would give 10.
    assert after[-1]["value_moving_average"] == pytest.approx(4.0)


def test_imputer_classifier_fills_missing_readings(stack, influx, run_id):
    """The FIREMAN imputer + classifier: a message without humidity still gets a prediction."""
    from udfs.rfc_classifier import column_fill, train_forest

    base = past_base()
    device = f"{run_id}room-3"
    readings = [
        (device, "temp_sensor", base + 1 * SECOND, {"temperature": 15.0, "humidity": 40.0}),
        (device, "temp_sensor", base + 2 * SECOND, {"temperature": 22.0, "humidity": None}),  # humidity missing
        (device, "temp_sensor", base + 3 * SECOND, {"temperature": 22.5, "humidity": 85.0}),
        (device, "temp_sensor", base + 40 * SECOND, {"temperature": 22.0, "humidity": 40.0}),  # closes the window
    ]
    publish(stack, run_id, readings)
    rows = rows_of(influx, "imputer_results", run_id, expected=3)
    assert len(rows) == 3
    assert [r["prediction_imputed"] for r in rows] == [0, 1, 0]
    assert rows[1]["humidity_value"] == -9999.0 and rows[1]["temperature_value"] == 22.0
    columns = ("temperature", "humidity")
    fill = column_fill("training_data_sets/room_climate.csv", columns, "label", "mean")
    forest = train_forest("training_data_sets/room_climate.csv", columns, "label", 50, 0, "mean")
    proba = forest.predict_proba(np.array([[15.0, 40.0], [22.0, fill[1]], [22.5, 85.0]]))
    assert [r["prediction"] for r in rows] == [int(forest.classes_[k]) for k in proba.argmax(axis=1)]
    assert [r["prediction_probability"] for r in rows] == pytest.approx(proba.max(axis=1).tolist(), abs=1e-12)
