"""The seed's chain, measured: forecasting each power meter's next window from this window's statistics.

A simulated fleet of power meters with faults (missing readings, spikes,
devices drifting, devices switching off and on) sends one reading a second.
Every 10 s each device's last 30 s are summarised as power_preprocess does
(the preprocess library: avg, min, max, trend, anomprob of voltage, current
and power), and the target is the NEXT window's mean power, as the shipped
power_forecast_train task pairs them. Each device's windows are split in time
order: the first three quarters train (one window, as the task's @train()
sees it), the last quarter is forecast. The rows, side by side:

- ``persistence``: the next window's mean is this one's (no model);
- ``raw``: the same target from the raw reading at the window's end
  (voltage, current, power: power_train's inputs), per-device least squares
  and ``auto``;
- ``chained``: from the window's statistics (power_forecast_train's four
  features), per-device least squares, ``auto`` (the shipped task's
  options) and the fleet model (one least squares over every device's rows).

MAE in watts over every forecast window, and its ratio to persistence and to
the chained per-device least squares. The product's rows run the learning
library in process (the path ``bench/ml_quality.py`` shows equal to the
stack's).

Run: ``python bench/chain_quality.py`` (``--devices``, ``--minutes``, ``--seed``; ``--smoke``: seconds).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from devices.faults import FaultChain  # noqa: E402
from devices.fleet import Fleet  # noqa: E402
from ml_datasets import DataSet, Entity  # noqa: E402
from ml_quality import in_process, mae, per_entity_ls, pooled_ls  # noqa: E402
from udfs.windowstats import compute_many  # noqa: E402

SECOND = 10**9
STEP, PERIOD = 10, 30  # seconds: power_preprocess's every and period
TYPES = ["avg", "min", "max", "trend", "anomprob"]
SENSORS = ("voltage", "current", "power")
CHAINED = ("power_preprocessed_Avg", "power_preprocessed_Trend", "voltage_preprocessed_Avg",
           "current_preprocessed_Avg")
RAW = ("voltage", "current", "power")
AUTO = {"algorithm": "auto", "metric": "mae"}  # power_forecast_train's options


def readings(devices: int, seconds: int, seed: int) -> tuple[list[str], np.ndarray]:
    """Each device's readings, ``[device, second, sensor]`` (NaN: missing), from the simulator with faults."""
    fleet = Fleet.create(devices, ["power_meter"], seed=seed)
    faults = FaultChain.create(devices, seed=seed, missing=0.02, spikes=(0.005, 6.0), drift=(0.3, 0.002),
                               onoff=(0.2, 300, 120))
    out = np.full((devices, seconds, len(SENSORS)), np.nan)
    for tick in range(seconds):
        for sample in faults.apply(tick, fleet.samples(tick * SECOND)):
            for j, sensor in enumerate(SENSORS):
                value = sample.readings.get(sensor)
                out[sample.index, tick, j] = np.nan if value is None else value
    return [device for device, _ in fleet.devices], out


def windows(series: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One device's windows: chained features, raw inputs at each window's end, and each window's mean power."""
    seconds = series.shape[0]
    times = np.arange(seconds) * SECOND
    chained, raw, means = [], [], []
    for end in range(PERIOD, seconds + 1, STEP):
        span = slice(end - PERIOD, end)
        fields = {}
        for j, sensor in enumerate(SENSORS):
            values = [None if np.isnan(v) else float(v) for v in series[span, j]]
            fields.update(compute_many(TYPES, values, times[span]).fields(sensor))
        chained.append([fields[f] for f in CHAINED])
        last = series[span][~np.isnan(series[span]).any(axis=1)][-1]  # the newest complete reading
        raw.append(last)
        means.append(fields["power_preprocessed_Avg"])
    return np.array(chained), np.array(raw), np.array(means)


def datasets(devices: list[str], data: np.ndarray) -> tuple[DataSet, DataSet, list[np.ndarray]]:
    """The chained and the raw set (the same targets), and persistence's forecasts of each device's test rows."""
    chained, raw, persistence = [], [], []
    for device, series in zip(devices, data):
        X, R, means = windows(series)
        X, R, y, now = X[:-1], R[:-1], means[1:], means[:-1]  # this window's inputs, the next window's mean
        cut = int(len(y) * 0.75)
        chained.append(Entity(device, X[:cut], y[:cut], X[cut:], y[cut:]))
        raw.append(Entity(device, R[:cut], y[:cut], R[cut:], y[cut:]))
        persistence.append(now[cut:])
    about = "simulated power meters with faults; target: the next window's mean power"
    return (DataSet("chained", about, CHAINED, "next_power_preprocessed_Avg", tuple(chained)),
            DataSet("raw", about, RAW, "next_power_preprocessed_Avg", tuple(raw)), persistence)


def table(chained: DataSet, raw: DataSet, persistence: list[np.ndarray]) -> list[tuple[str, float]]:
    return [("persistence (no model)", mae(chained, persistence)[0]),
            ("raw inputs, per-device least squares", mae(raw, per_entity_ls(raw))[0]),
            ("raw inputs, auto", mae(raw, in_process(raw, AUTO).predicted)[0]),
            ("chained, per-device least squares", mae(chained, per_entity_ls(chained))[0]),
            ("chained, auto (power_forecast_train)", mae(chained, in_process(chained, AUTO).predicted)[0]),
            ("chained, fleet model (pooled least squares)", mae(chained, pooled_ls(chained))[0])]


def main(argv: list[str] | None = None) -> dict[str, float]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--devices", type=int, default=30)
    parser.add_argument("--minutes", type=float, default=40.0, help="of readings per device")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--smoke", action="store_true", help="a few devices, a few minutes: seconds")
    args = parser.parse_args(argv)
    if args.smoke:
        args.devices, args.minutes = 4, 8.0
    devices, data = readings(args.devices, int(args.minutes * 60), args.seed)
    chained, raw, persistence = datasets(devices, data)
    rows = table(chained, raw, persistence)
    figures = dict(rows)
    base, ls = figures["persistence (no model)"], figures["chained, per-device least squares"]
    print(f"{args.devices} power meters, {args.minutes:g} min each: {chained.train_rows} training windows and "
          f"{chained.test_rows} forecast windows per device (seed {args.seed})")
    print(f"{'model':46s} {'MAE (W)':>9s} {'/ persistence':>14s} {'/ chained LS':>13s}")
    for name, value in rows:
        print(f"{name:46s} {value:9.2f} {value / base:14.3f} {value / ls:13.3f}")
    return figures


if __name__ == "__main__":
    main()
