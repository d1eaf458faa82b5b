"""Per-entity training and prediction through real Kapacitor.

Power meters with different, known relations publish over real MQTT; the
shipped tasks join their readings (power_readings), train one model per device
(power_train, failure_train) and predict with each device's own model
(power_predict, failure_predict). Champion/challenger and bad windows are
driven by a task of the test's own, fed through Kapacitor's write endpoint.
"""

from __future__ import annotations

import time

import numpy as np
import pytest

from devices.fleet import encode, format_timestamp
from stackutil import FLUSH_INTERVAL, mqtt_publish, wait_for_rows, wait_until
from tickml.paths import DATA
from udfs.learn import FLEET_KEY, ModelStore, Predictor

pytestmark = pytest.mark.stack

SECOND = 10**9
MODELS = "tests"  # not a shipped model name: the test's own task stores here

# power = a * voltage + b * current + c, a relation of each device's own.
RELATIONS = [(2.0, 50.0, 0.0), (0.5, 200.0, 0.0), (4.0, -20.0, 500.0), (1.0, 100.0, 1000.0)]


def _publish_power(stack, run_id, devices, times, rng, noise=1.0):
    truth, messages = [], []
    for t in times:
        for device, (a, b, c) in zip(devices, RELATIONS):
            v, i = float(rng.uniform(220, 260)), float(rng.uniform(5, 15))
            p = a * v + b * i + c + float(rng.normal(0, noise))
            v, i, p = round(v, 4), round(i, 4), round(p, 4)
            truth.append((device, t, v, i, p))
            messages.append((f"devices/power_meter/{device}", encode({
                "device_id": device, "timestamp": format_timestamp(t), "tag": "PowerMeter",
                "voltage": v, "current": i, "power": p})))
    mqtt_publish(stack, messages, client_id=f"{run_id}power-{time.monotonic_ns()}")
    return truth


def _query_run(influx, measurement, run_id, where=""):
    return influx.query(f"SELECT * FROM {measurement} WHERE device_id =~ /^{run_id}/ {where} ORDER BY time")


@pytest.fixture(scope="module")
def power_fleet(stack, influx):
    """Train the shipped power and failure models on a fleet of four devices (two minutes of readings)."""
    run_id = f"L{int(time.time()) % 100000}-"
    rng = np.random.default_rng(5)
    devices = [f"{run_id}pm-{k}" for k in range(len(RELATIONS))]
    base = (time.time_ns() // (60 * SECOND)) * 60 * SECOND - 6 * 60 * SECOND
    train_times = [base + k * SECOND for k in range(120)]
    truth = _publish_power(stack, run_id, devices, train_times, rng)
    # Windows of 60 s every 20 s close at base+20 s ... base+120 s (the last
    # one when a reading past it arrives): 6 power windows per device.
    closing = _publish_power(stack, run_id, devices, [base + 121 * SECOND], rng)
    wait_until(lambda: len(_query_run(influx, "trained_models", run_id, "AND model = 'power'")) >= 6 * len(devices),
               timeout=120, what="6 power windows trained per device")
    wait_until(lambda: len(_query_run(influx, "trained_models", run_id, "AND model = 'failure_prob'")) >= 6 * len(devices),
               timeout=60, what="6 failure windows trained per device")
    time.sleep(2.5)  # past the predictor's 1 s refresh of what is on disk
    held_out_times = [base + (130 + k) * SECOND for k in range(20)]
    held_out = _publish_power(stack, run_id, devices, held_out_times, rng)
    wait_until(lambda: len(_query_run(influx, "predictions", run_id, f"AND model = 'power' AND time >= {held_out_times[0]}"))
               >= len(held_out), timeout=90, what="a power prediction for every held-out reading")
    return {"run_id": run_id, "devices": devices, "base": base, "truth": truth + closing, "held_out": held_out,
            "held_out_from": held_out_times[0]}


def test_per_device_models_beat_one_fleet_model(power_fleet, influx):
    run_id, held_out = power_fleet["run_id"], power_fleet["held_out"]
    rows = _query_run(influx, "predictions", run_id, f"AND model = 'power' AND time >= {power_fleet['held_out_from']}")
    predicted = {(r["device_id"], r["time"]): r for r in rows}
    assert len(predicted) == len(held_out)
    assert {r["Answeredby"] for r in rows} == {"entity"}
    truth = np.array([p for _, _, _, _, p in held_out])
    entity = np.array([predicted[(d, t)]["Hyperprediction"] for d, t, _, _, _ in held_out])
    fleet_model = ModelStore(DATA / "models" / "power").model(FLEET_KEY)
    assert fleet_model is not None, "the fleet-wide model was never trained"
    fleet = Predictor(ModelStore(DATA / "models" / "power")).predict_batch(
        FLEET_KEY, np.array([[v, i] for _, _, v, i, _ in held_out]))[0]
    entity_mape = float(np.mean(np.abs((truth - entity) / truth)))
    fleet_mape = float(np.mean(np.abs((truth - fleet) / truth)))
    print(f"\nhold-out MAPE: per-device models {entity_mape:.5f}, fleet-wide model {fleet_mape:.5f}, "
          f"margin {fleet_mape - entity_mape:.5f} ({fleet_mape / max(entity_mape, 1e-12):.0f}x)")
    assert entity_mape < 0.01
    assert entity_mape < fleet_mape / 5


def test_every_window_is_trained_and_the_better_model_kept(power_fleet, influx):
    rows = _query_run(influx, "trained_models", power_fleet["run_id"], "AND model = 'power'")
    by_device: dict[str, list[dict]] = {}
    for r in rows:
        by_device.setdefault(r["device_id"], []).append(r)
    assert set(by_device) == set(power_fleet["devices"])
    for device, windows in by_device.items():
        assert len(windows) >= 6  # the held-out readings close more windows
        assert {w["Status"] for w in windows} <= {"deployed", "kept"}
        assert windows[0]["Status"] == "deployed" and windows[0]["Deployed"] == 1
        for w in windows:
            assert w["Algokey"] == device and w["Algo"] == f"{device}_lin"
            assert w["Numberofmessages"] > 0 and w["Minmax"] and w["ParameterEstimates"]
            assert 0.99 < w["Forecastaccuracy"] <= 1.0


def test_processlogic_drives_a_logistic_model_per_device(power_fleet, influx):
    run_id = power_fleet["run_id"]
    trained = _query_run(influx, "trained_models", run_id, "AND model = 'failure_prob'")
    assert any(r["Status"] == "deployed" for r in trained)
    # The fixture waited for the power predictions; Kapacitor's influxDBOut
    # flushes each task on its own (every flush interval), so wait for these too.
    query = (f"SELECT * FROM predictions WHERE device_id =~ /^{run_id}/ AND model = 'failure_prob' "
             f"AND time >= {power_fleet['held_out_from']} ORDER BY time")
    rows = wait_for_rows(influx, query, len(power_fleet["held_out"]))
    assert len(rows) == len(power_fleet["held_out"])
    label = {(d, t): int(v > 232 and i > 5) for d, t, v, i, _ in power_fleet["held_out"]}
    correct = 0
    for r in rows:
        # As in the seed's prediction JSON, Hyperprediction is the probability of 1.
        assert r["Hyperprediction"] == r["Probability1"]
        assert r["Probability1"] + r["Probability0"] == pytest.approx(1.0)
        correct += int(r["Probability1"] >= 0.5) == label[(r["device_id"], r["time"])]
    print(f"\nfailure_prob hold-out accuracy: {correct / len(rows):.3f} over {len(rows)} readings")
    assert correct / len(rows) >= 0.8


@pytest.mark.serial
def test_models_survive_killing_kapacitor_and_the_udf_servers(power_fleet, stack, influx, kapacitor):
    run_id, devices = power_fleet["run_id"], power_fleet["devices"]
    store = ModelStore(DATA / "models" / "power")
    versions = {device: store.document(device)["version"] for device in devices}
    assert min(versions.values()) > 1  # retrained since the first window
    stack.stop(["kapacitor", "udf-train", "udf-predict"])
    stack.start(["udf-train", "udf-predict", "kapacitor"])
    wait_until(lambda: all(t["executing"] for t in kapacitor.tasks() if t["status"] == "enabled"),
               what="every enabled task executing again")
    rng = np.random.default_rng(9)
    later = [power_fleet["base"] + (151 + k) * SECOND for k in range(3)]  # no training window closes here
    after_truth = _publish_power(stack, run_id, devices, later, rng)
    wait_until(lambda: len(_query_run(influx, "predictions", run_id, f"AND model = 'power' AND time >= {later[0]}"))
               >= len(after_truth), what="predictions after the restart")
    after = _query_run(influx, "predictions", run_id, f"AND model = 'power' AND time >= {later[0]}")
    assert {r["Answeredby"] for r in after} == {"entity"}
    # The champions from before the kill answer; nothing was retrained from scratch.
    assert {r["device_id"]: r["Modelversion"] for r in after} == versions
    truth = {(d, t): p for d, t, _, _, p in after_truth}
    for r in after:
        assert r["Hyperprediction"] == pytest.approx(truth[(r["device_id"], r["time"])], rel=0.01)


CHAMPION_TASK = """
dbrp "telemetry"."autogen"

stream
    |from()
        .measurement('{measurement}')
        .groupBy('device_id')
    // x2 / scale: 0 / 0 makes a NaN, which line protocol cannot carry.
    |eval(lambda: "x2" / "scale")
        .as('x2')
        .keep()
    |window()
        .period(40s)
        .every(40s)
        .align()
    @train()
        .model('{model}')
        .dependentvariable('y')
        .independentvariables('x1,x2')
        .algorithm('linear')
    |influxDBOut()
        .flushInterval({flush_interval})
        .database('telemetry')
        .retentionPolicy('autogen')
        .measurement('{measurement}_models')
"""


def _write_to_kapacitor(lines: list[str]) -> None:
    """Points straight into Kapacitor's stream (as Telegraf can send them), bypassing InfluxDB's typing."""
    from tickml.kapacitor import Kapacitor

    Kapacitor().write(lines)


def test_worse_challenger_and_bad_windows_keep_the_champion(stack, influx, kapacitor, run_id):
    measurement = f"champion_{run_id.strip('-')}"
    model = f"{MODELS}-{run_id.strip('-')}"
    task = f"{measurement}_train"
    kapacitor._call("POST", "/tasks", {"id": task, "type": "stream", "status": "enabled",
                                       "script": CHAMPION_TASK.format(measurement=measurement, model=model,
                                                                                 flush_interval=FLUSH_INTERVAL)})
    try:
        rng = np.random.default_rng(11)
        base = (time.time_ns() // (40 * SECOND)) * 40 * SECOND - 10 * 40 * SECOND
        lines = []

        def row(device, k, x1, x2, y, window):
            t = base + window * 40 * SECOND + k * SECOND
            scale = 0.0 if x2 == 0.0 else 1.0
            return f"{measurement},device_id={device} x1={x1},x2={x2},y={y},scale={scale} {t}"

        good, victim = f"{run_id}good", f"{run_id}victim"
        for window in range(7):
            for k in range(40):
                x1, x2 = float(rng.uniform(1, 10)), float(rng.uniform(1, 10))
                lines.append(row(good, k, x1, x2, 3 * x1 + 2 * x2 + 5, window))
        # victim: window 0 clean → deployed; window 1 noisy in its training
        # part, clean in its hold-out → the challenger is worse, kept out;
        # windows 2-5 bad (constant target, too few rows, non-numeric feature, NaN).
        for k in range(40):
            x1, x2 = float(rng.uniform(1, 10)), float(rng.uniform(1, 10))
            lines.append(row(victim, k, x1, x2, 3 * x1 + 2 * x2 + 5, 0))
        for k in range(40):
            x1, x2 = float(rng.uniform(1, 10)), float(rng.uniform(1, 10))
            noise = float(rng.normal(0, 40)) if k < 30 else 0.0
            lines.append(row(victim, k, x1, x2, 3 * x1 + 2 * x2 + 5 + noise, 1))
        for k in range(40):
            lines.append(row(victim, k, float(rng.uniform(1, 10)), float(rng.uniform(1, 10)), 7.0, 2))
        lines.append(row(victim, 0, 1.0, 2.0, 12.0, 3))
        lines.append(row(victim, 1, 2.0, 3.0, 17.0, 3))
        for k in range(40):
            x1 = '"n/a"' if k == 7 else float(rng.uniform(1, 10))
            lines.append(row(victim, k, x1, float(rng.uniform(1, 10)), 20.0 + k, 4))
        for k in range(40):
            x2 = 0.0 if k == 3 else float(rng.uniform(1, 10))
            lines.append(row(victim, k, float(rng.uniform(1, 10)), x2, 20.0 + k, 5))
        lines.append(row(victim, 0, 1.0, 1.0, 10.0, 6))  # closes window 5
        _write_to_kapacitor(lines)

        def outcomes(device, n):
            rows = influx.query(f"SELECT * FROM {measurement}_models WHERE device_id = '{device}' ORDER BY time")
            return rows if len(rows) >= n else None

        victim_rows = wait_until(lambda: outcomes(victim, 6), what="6 windows of the victim")
        good_rows = wait_until(lambda: outcomes(good, 6), what="6 windows of the good device")
        assert [r["Status"] for r in victim_rows] == ["deployed", "kept", "bad", "bad", "bad", "bad"]
        assert victim_rows[1]["Deployed"] == 0
        assert [r.get("Reason") for r in victim_rows[2:]] == ["constant_target", "too_few_rows", "non_numeric",
                                                               "non_finite"]
        assert "'x1'" in victim_rows[4]["Detail"]
        assert {r["Status"] for r in good_rows} <= {"deployed", "kept"}
        # The victim's champion is still the model of window 0.
        champion = ModelStore(DATA / "models" / model).document(victim)
        assert champion["version"] == 1
        log = (stack.LOGS / "udf-train.log").read_text()
        assert "window kept the champion: constant_target" in log and victim in log
    finally:
        kapacitor.delete(task)
