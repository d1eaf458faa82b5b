"""The seed's chain through real Kapacitor: window statistics -> @train() -> @predict().

The shipped power_forecast_train and power_forecast tasks, defined with vars
that read a measurement of the test's own, are fed window statistics as
power_preprocess writes them (one point per device every 10 s). Each window's
mean power follows the one before by a relation of the device's own, so the
test knows every next window's mean: the join of the windows with their own
shift must pair each window with the next one (a model trained on pairs
misaligned by a step would miss by tens of watts), and the forecast must be
stamped with the time of the window it forecasts.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest

from stackutil import flush_vars, wait_until
from tickml.kapacitor import Kapacitor

pytestmark = pytest.mark.stack

ROOT = Path(__file__).resolve().parents[2]
SECOND = 10**9
STEP = 10 * SECOND  # power_preprocess's every, the scripts' default step
PERIOD = 40 * STEP  # 40 pairs per training window
# next mean = a * mean + b * trend + c, a relation of each device's own.
RELATIONS = [(0.6, 2.0, 400.0), (0.3, -1.0, 800.0), (0.8, 0.5, 150.0)]


def _windows(rng, n: int) -> list[list[dict]]:
    """``n`` windows' statistics per device, each mean following from the window before."""
    out = []
    for a, b, c in RELATIONS:
        mean, rows = c / (1 - a), []
        for _ in range(n):
            trend = float(rng.normal(0, 5))
            rows.append({"power_preprocessed_Avg": round(mean, 6), "power_preprocessed_Trend": round(trend, 6),
                         "voltage_preprocessed_Avg": round(float(rng.normal(230, 2)), 6),
                         "current_preprocessed_Avg": round(float(rng.normal(5, 1)), 6)})
            mean = a * mean + b * trend + c + float(rng.normal(0, 0.01))
        out.append(rows)
    return out


def _lines(measurement: str, devices: list[str], windows: list[list[dict]], base: int, ks: range) -> list[str]:
    return [f"{measurement},device_id={device} " + ",".join(f"{k}={v}" for k, v in windows[d][k_].items())
            + f" {base + k_ * STEP}" for k_ in ks for d, device in enumerate(devices)]


def test_windows_feed_a_model_that_forecasts_the_next_window(stack, influx, kapacitor, run_id):
    tag = run_id.strip("-")
    measurement, model = f"chain_{tag}", f"tests-chain-{tag}"
    devices = [f"{run_id}pm-{d}" for d in range(len(RELATIONS))]
    task_vars = {"measurement": {"type": "string", "value": measurement},
                 "model": {"type": "string", "value": model},
                 "period": {"type": "duration", "value": PERIOD}, "every": {"type": "duration", "value": PERIOD}}
    names = [f"{measurement}_train", f"{measurement}_forecast"]
    kapacitor.create(names[0], (ROOT / "tick_scripts" / "power_forecast_train.tick").read_text(),
                     flush_vars(**task_vars), status="enabled")
    kapacitor.create(names[1], (ROOT / "tick_scripts" / "power_forecast.tick").read_text(),
                     flush_vars(**{k: v for k, v in task_vars.items() if k in ("measurement", "model")}),
                     status="enabled")
    try:
        rng = np.random.default_rng(17)
        windows = _windows(rng, 100)
        base = (time.time_ns() // PERIOD) * PERIOD - 3 * PERIOD
        # Two training windows of 40 pairs each, and the point that closes the second.
        Kapacitor().write(_lines(measurement, devices, windows, base, range(0, 81)))
        trained = wait_until(lambda: (rows := influx.query(
            f"SELECT * FROM trained_models WHERE model = '{model}' AND Status = 'deployed'")) and
            len({r["device_id"] for r in rows}) == len(devices) and rows, timeout=60,
            what="a deployed model per device")
        assert {r["Numberofmessages"] for r in trained} <= {39, 40}

        time.sleep(1.5)  # past the predictor's 1 s refresh of what is on disk
        Kapacitor().write(_lines(measurement, devices, windows, base, range(81, 100)))
        query = (f"SELECT * FROM predictions WHERE model = '{model}' AND Answeredby = 'entity' "
                 f"AND time > {base + 81 * STEP}")
        # Windows 81..99 forecast windows 82..100; the test knows the truth up to window 99.
        rows = wait_until(lambda: (r := influx.query(query)) and len(r) >= 19 * len(devices) and r, timeout=60,
                          what="a forecast of every later window")
        assert len(rows) == 19 * len(devices)
        for row in rows:
            d, k = devices.index(row["device_id"]), (row["time"] - base) // STEP
            if k == len(windows[d]):
                continue
            truth = windows[d][k]["power_preprocessed_Avg"]
            # The forecast stamped with the window it forecasts, made from the window before.
            assert abs(row["Hyperprediction"] - truth) < 1.0, (row["device_id"], k, row["Hyperprediction"], truth)
            assert "power_preprocessed_Trend" not in row or row["power_preprocessed_Trend"] is None
    finally:
        for name in names:
            kapacitor.delete(name)
