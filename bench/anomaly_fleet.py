"""The streaming detector (udfs.detect, served by @anomaly()) on the project's own simulated fleet, beside a z-score.

What it measures, each for ``udfs.detect.Detector`` with the shipped TICKscript's settings
(tick_scripts/device_anomaly.tick: learning 150, sensitivity 1, i.e. ``Params()``) and, in the same run, for
the simplest honest baseline, a rolling z-score (an alarm when ``|x - mean| > Z * std`` of the previous
``N`` points of the series, the current one left out; by default Z = 4, N = 100; it scores from the same
point on as the detector, after 150 points, and has no hold):

1. The healthy fleet, no faults (issue 24: the old anomaly probability flagged 10 of 18 healthy devices):
   series and devices that alarm (score >= 0.5) at least once after learning, and alarms per series per
   1,000 points. Every detector alarm is put down to the signal that raised it, as the detector reports it
   (``Score.cause``): the level signal (a value beyond the range seen so far, and far from the last 8
   values' mean), the shape novelty, or the hour-of-day profile.
2. The faulty fleet, one fault of the simulator at a time (``--spikes``, ``--onoff``, ``--drift``,
   ``--missing``; devices/faults.py, same syntax as the simulator's options):

   - spikes: located by comparing with the same fleet run without faults (same seed: the fleet's noise
     does not depend on the faults); a spike counts as detected when an alarm falls on it or within
     ``--within`` points after it; every other alarm is false;
   - on/off: the steps (on to off, off to on) from the fault chain's own record (``OnOff.is_off``);
     detected as spikes are. The simulator switches from the first message, so within the 150 learning
     points a series has seen four cycles already and switching is routine (devices/faults.py: the
     pattern anomprob must not flag); a second run starts the switching at ``--onset`` (after learning:
     the on/off devices send their fault-free readings before it), where the first step is a fault to
     find. False alarms: those on series that never switch;
   - drift: the drifting devices from the chain's record (``Drift.devices``). Drift is slow by design and
     the detector's level signal deliberately leaves a slow drift alone, so what is counted is how many
     drifting series alarm at all, when first (in points, and how far the drift had gone by then in noise
     standard deviations), and alarms per 1,000 points on them; false alarms are those on the others;
   - missing readings: nothing to detect; the alarms, all false.
3. The detector's throughput over the healthy fleet's points, one process, a plain loop over ``update``
   with one detector per series as @anomaly() keeps them (and the z-score's, for scale).

A series is what Kapacitor sees: the TICKscript groups ``device_message`` by device_id and sensor, and
Telegraf (telegraf/README.md, "What lands") makes one point of every numeric, non-null reading of a
message (a power meter: voltage, current and power); a null reading is left out. Points reach a series'
detector in the order the simulator sends the messages.

``--smoke`` runs 6 devices (one of each type) for 600 points each, in a few seconds (the unit tests run it).

Run: ``python bench/anomaly_fleet.py [--smoke] [--devices 18] [--hours 2] [--seeds 0 1 2]``.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import sys
import time
from collections import deque
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]

from devices import faults as faultlib  # noqa: E402
from devices.fleet import DEVICE_TYPES  # noqa: E402
from devices.simulator import build_fleet, fleet_ticks  # noqa: E402
from udfs.detect import ALARM, Detector, Params  # noqa: E402

DEMO_TYPES = ["thermostat", "barometer", "hygrometer", "heart_rate_meter", "temp_sensor", "power_meter"]
# Keys of a message that are never readings (telegraf/README.md, "How a key of a message is read").
NOT_READINGS = {"device_id", "tag", "timestamp", "sensor", "session", "value", "tickml_database"}


@dataclasses.dataclass
class Series:
    """One (device, sensor) series as Kapacitor's group sees it, with what the faults did to each point."""

    device: str
    sensor: str
    sd: float  # the sensor type's standard deviation (the fleet's noise is 0.2 of it)
    values: list[float] = dataclasses.field(default_factory=list)
    times: list[int] = dataclasses.field(default_factory=list)
    ticks: list[int] = dataclasses.field(default_factory=list)
    events: list[int] = dataclasses.field(default_factory=list)  # indices where a fault begins (spike, step)
    faulty: bool = False  # the series carries the fault of the run (a switching or drifting device)


def fleet_series(devices: int, types: list[str], seed: int, ticks: int, fault: str | None = None,
                 spec=None, onset: int = 0) -> dict[tuple[str, str], Series]:
    """Every series of one simulated run, the faults' places marked; ``fault`` one of spikes/onoff/drift/missing."""
    kwargs = {} if fault is None else {fault: spec}
    fleet, chain, run = build_fleet(devices, types, seed=seed, interval=1.0, ticks=ticks, **kwargs)
    clean_fleet, clean_chain, _ = build_fleet(devices, types, seed=seed, interval=1.0, ticks=ticks)
    record = {type(f).__name__: f for f in chain.faults}
    onoff, drift = record.get("OnOff"), record.get("Drift")
    out: dict[tuple[str, str], Series] = {}

    def off(index: int, tick: int) -> bool:
        return tick >= onset and onoff.is_off(index, tick)

    for (tick_s, samples), (_, clean) in zip(fleet_ticks(fleet, chain, **run),
                                              fleet_ticks(clean_fleet, clean_chain, **run)):
        tick = int(round(tick_s))
        for sample, base in zip(samples, clean):
            assert sample.device_id == base.device_id
            switching = onoff is not None and sample.index in onoff.phase
            if switching and tick < onset:
                sample = base  # the switching starts at the onset
            msg = sample.message()
            for sensor, value in msg.items():
                if sensor in NOT_READINGS or value is None or isinstance(value, (bool, str)):
                    continue
                key = (sample.device_id, sensor)
                s = out.get(key)
                if s is None:
                    s = out[key] = Series(sample.device_id, sensor, DEVICE_TYPES[sample.device_type].sensors[sensor][1])
                    s.faulty = switching or (drift is not None and sample.index in drift.devices)
                i = len(s.values)
                if fault == "spikes" and value != base.readings[sensor]:
                    s.events.append(i)
                if switching and tick > 0 and off(sample.index, tick) != off(sample.index, tick - 1):
                    s.events.append(i)  # a step, on to off or off to on
                s.values.append(float(value))
                s.times.append(sample.time_ns)
                s.ticks.append(tick)
    return out


@dataclasses.dataclass
class Run:
    """One detector's alarms on one series (indices of points), and what raised each (the detector's only)."""

    alarms: list[int]
    signals: list[str]
    scores: list[float]
    held: set[int] = dataclasses.field(default_factory=set)  # points scored under the hold of an earlier alarm


def run_detector(s: Series, params: Params) -> Run:
    """The detector over one series; each alarm with the signal that raised it (``Score.cause``)."""
    det = Detector(params)
    alarms, signals, scores, held = [], [], [], set()
    for i, (v, t) in enumerate(zip(s.values, s.times)):
        if det.seen + 1 < det.held_until:
            held.add(i)
        score = det.update(v, t)
        if not score.learning and score.anomaly_score >= ALARM:
            alarms.append(i)
            scores.append(score.anomaly_score)
            signals.append(score.cause)
    return Run(alarms, signals, scores, held)


def run_zscore(s: Series, n: int, z: float, learning: int) -> Run:
    """Rolling z-score: |x - mean| > z * std over the previous n points; scored from point ``learning`` + 1 on."""
    window: deque[float] = deque(maxlen=n)
    alarms = []
    total = total2 = 0.0
    shift = s.values[0] if s.values else 0.0
    for i, v in enumerate(s.values):
        x = v - shift  # shifted so that the running sums keep their precision on large levels
        if i >= learning and len(window) == n:
            mean = total / n
            var = max(total2 / n - mean * mean, 0.0) * n / (n - 1)
            if var > 0 and abs(x - mean) > z * math.sqrt(var):
                alarms.append(i)
            elif var == 0 and x != mean:
                alarms.append(i)
        if len(window) == n:
            old = window[0]
            total -= old
            total2 -= old * old
        window.append(x)
        total += x
        total2 += x * x
        if i % 1000 == 999:  # recompute now and then: no drift of the running sums
            total, total2 = sum(window), sum(w * w for w in window)
    return Run(alarms, ["-"] * len(alarms), [1.0] * len(alarms))


def scored_points(s: Series, learning: int) -> int:
    return max(len(s.values) - learning, 0)


def detected(events: list[int], alarms: list[int], within: int) -> int:
    """Events with an alarm on them or within ``within`` points after."""
    found = 0
    for e in events:
        if any(e <= a <= e + within for a in alarms):
            found += 1
    return found


def false_alarms(events: list[int], alarms: list[int], within: int) -> list[int]:
    return [a for a in alarms if not any(e <= a <= e + within for e in events)]


def per_k(count: int, points: int) -> str:
    return f"{1000.0 * count / points:.3f}" if points else "-"


def healthy_section(args, types, params) -> list[dict]:
    print(f"1. healthy fleet, no faults: {args.devices} devices ({', '.join(types)}), {args.ticks} messages each "
          f"at 1 s ({args.ticks / 3600:.2g} h), seeds {' '.join(map(str, args.seeds))}")
    print(f"   alarm = score >= {ALARM} after the {params.learning} learning points; z-score: |x - mean| > "
          f"{args.z:g} std of the previous {args.n} points, same learning, no hold")
    head = (f"   {'seed':>4s} {'detector':10s} {'series alarmed':>15s} {'devices alarmed':>16s} {'alarms':>7s} "
            f"{'per series per 1k pts':>22s}  {'what raised the alarms (detector)':s}")
    print(head)
    found = []
    totals = {"detector": [0, 0, 0, 0, 0], "z-score": [0, 0, 0, 0, 0]}
    for seed in args.seeds:
        series = fleet_series(args.devices, types, seed, args.ticks)
        devices = {s.device for s in series.values()}
        points = sum(scored_points(s, params.learning) for s in series.values())
        for name in ("detector", "z-score"):
            runs = {k: (run_detector(s, params) if name == "detector" else run_zscore(s, args.n, args.z, params.learning))
                    for k, s in series.items()}
            n_alarms = sum(len(r.alarms) for r in runs.values())
            alarmed = [k for k, r in runs.items() if r.alarms]
            alarmed_devices = {k[0] for k in alarmed}
            why = ""
            if name == "detector":
                kinds = [sig for r in runs.values() for sig in r.signals]
                why = f"level {kinds.count('level')}, shape {kinds.count('shape')}, profile {kinds.count('profile')}"
                for k, r in runs.items():
                    s = series[k]
                    for a, sig, sc in zip(r.alarms, r.signals, r.scores):
                        prior = np.asarray(s.values[:a])
                        found.append({"seed": seed, "series": f"{k[0]}/{k[1]}", "point": a, "signal": sig,
                                      "score": sc, "value": s.values[a], "lo": prior.min(), "hi": prior.max(),
                                      "mean8": float(np.mean(prior[-8:])), "sd": float(np.std(prior))})
            t = totals[name]
            for j, x in enumerate((len(alarmed), len(series), len(alarmed_devices), len(devices), n_alarms)):
                t[j] += x
            print(f"   {seed:>4d} {name:10s} {f'{len(alarmed)} of {len(series)}':>15s} "
                  f"{f'{len(alarmed_devices)} of {len(devices)}':>16s} {n_alarms:>7d} "
                  f"{per_k(n_alarms, points):>22s}  {why}")
        totals["points"] = totals.get("points", 0) + points
        totals["series"] = totals.get("series", 0) + len(series)
    if len(args.seeds) > 1:
        for name in ("detector", "z-score"):
            a, n, d, nd, al = totals[name]
            print(f"   {'all':>4s} {name:10s} {f'{a} of {n}':>15s} {f'{d} of {nd}':>16s} {al:>7d} "
                  f"{per_k(al, totals['points']):>22s}")
    if found:
        level = [f for f in found if f["signal"] == "level"]
        if level:
            excess = np.array([max(f["value"] - f["hi"], f["lo"] - f["value"]) / (f["hi"] - f["lo"]) for f in level])
            away = np.array([abs(f["value"] - f["mean8"]) / f["sd"] for f in level])
            print(f"   the detector's {len(level)} level-signal alarms on the healthy fleet: each a new extreme of the "
                  f"series' noise, beyond the range seen so far by {100 * excess.min():.1f} to {100 * excess.max():.1f} "
                  f"% of it (median {100 * np.median(excess):.1f}), {away.min():.1f} to {away.max():.1f} sd (median "
                  f"{np.median(away):.1f}) from the last 8 values' mean")
        edges = sorted({params.learning, *(x for x in (1000, 3000) if params.learning < x < args.ticks), args.ticks})
        spans = [(a, b) for a, b in zip(edges, edges[1:]) if b > a]
        rates = []
        for a, b in spans:
            count = sum(a <= f["point"] < b for f in found)
            rates.append(f"points {a}-{b}: {count} ({per_k(count, (b - a) * totals['series'])} per series per 1k)")
        print(f"   the detector's alarms by stretch of the run (all seeds): {'; '.join(rates)}")
        shown = found[: args.list]
        print(f"   the first {len(shown)} of them (value, the range before it, the last 8 values' mean, the series' "
              "std; what raised it):")
        for f in shown:
            print(f"     seed {f['seed']} {f['series']:28s} point {f['point']:>5d}  score {f['score']:.3f} "
                  f"{f['signal']:5s}  value {f['value']:.3f}  range [{f['lo']:.3f}, {f['hi']:.3f}]  "
                  f"mean8 {f['mean8']:.3f}  sd {f['sd']:.3f}  ({(f['value'] - f['mean8']) / f['sd']:+.1f} sd from mean8)")
    print()
    return found


def fault_section(args, types, params) -> None:
    seed = args.seeds[0]
    within, learning = args.within, params.learning
    print(f"2. faulty fleet, one fault at a time (seed {seed}, {args.devices} devices, {args.ticks} messages each); "
          f"detected = an alarm on the fault's point or within {within} points after it")
    runs = [
        ("spikes", "spikes", faultlib.parse_spikes(args.spikes), 0, f"--spikes {args.spikes}"),
        ("on/off from the start", "onoff", faultlib.parse_onoff(args.onoff), 0, f"--onoff {args.onoff}"),
        (f"on/off from point {args.onset}", "onoff", faultlib.parse_onoff(args.onoff), args.onset,
         f"--onoff {args.onoff}, switching from tick {args.onset}"),
        ("drift", "drift", faultlib.parse_drift(args.drift), 0, f"--drift {args.drift}"),
        ("missing", "missing", faultlib.parse_missing(args.missing), 0, f"--missing {args.missing}"),
    ]
    print(f"   {'fault':24s} {'detector':10s} {'faults':>7s} {'detected':>9s} {'share':>6s} "
          f"{'false alarms':>13s} {'per 1k clean pts':>17s} {'series w/ false':>16s}  notes")
    for label, fault, spec, onset, how in runs:
        series = fleet_series(args.devices, types, seed, args.ticks, fault, spec, onset)
        for name in ("detector", "z-score"):
            res = {k: (run_detector(s, params) if name == "detector" else run_zscore(s, args.n, args.z, learning))
                   for k, s in series.items()}
            n_events = n_found = n_false = clean_points = 0
            false_series = set()
            notes = ""
            if fault in ("spikes", "onoff"):
                first_found = first_n = other = in_hold = 0
                for k, s in series.items():
                    r = res[k]
                    events = [e for e in s.events if e >= learning]
                    n_events += len(events)
                    n_found += detected(events, r.alarms, within)
                    in_hold += sum(e in r.held and not detected([e], r.alarms, within) for e in events)
                    if fault == "onoff" and s.faulty:
                        other += len(false_alarms(s.events, r.alarms, within))
                        if events:
                            first_n += 1
                            first_found += detected(events[:1], r.alarms, within)
                        continue
                    bad = false_alarms(s.events, r.alarms, within)
                    n_false += len(bad)
                    clean_points += scored_points(s, learning) - sum(
                        min(e + within, len(s.values) - 1) - e + 1 for e in events)
                    if bad:
                        false_series.add(k)
                if fault == "onoff":
                    n_sw = sum(s.faulty for s in series.values())
                    notes = (f"{n_sw} switching series; first step after learning found on {first_found} of "
                             f"{first_n}; other alarms on them {other}")
                else:
                    notes = f"{n_events} spikes on {sum(bool(s.events) for s in series.values())} series"
                if name == "detector":
                    notes += f"; missed under the hold of an earlier alarm: {in_hold}"
                share = f"{100.0 * n_found / n_events:5.1f}%" if n_events else "-"
                print(f"   {label:24s} {name:10s} {n_events:>7d} {n_found:>9d} {share:>6s} {n_false:>13d} "
                      f"{per_k(n_false, clean_points):>17s} {len(false_series):>16d}  {notes}")
            elif fault == "drift":
                drifting = [k for k, s in series.items() if s.faulty]
                flagged, found_drift, firsts, on_drift, drift_points = 0, 0, [], 0, 0
                for k in drifting:
                    s, r = series[k], res[k]
                    on_drift += len(r.alarms)
                    drift_points += scored_points(s, learning)
                    if r.alarms:
                        flagged += 1
                        a = r.alarms[0]
                        firsts.append(f"{a}:{spec[1] * s.ticks[a] / 0.2:.1f}sd")
                        # the fleet's noise is 0.2 of the type's sd, the drift RATE type sd per message
                        found_drift += any(spec[1] * s.ticks[x] / 0.2 >= args.drift_sd for x in r.alarms)
                for k, s in series.items():
                    if not s.faulty:
                        n_false += len(res[k].alarms)
                        clean_points += scored_points(s, learning)
                        if res[k].alarms:
                            false_series.add(k)
                notes = (f"detected = alarmed once the drift reached {args.drift_sd:g} noise sd; "
                         f"{len(drifting)} drifting series, {flagged} alarmed at all "
                         f"({per_k(on_drift, drift_points)} alarms per 1k pts on them); first alarm at point:drift "
                         f"in noise sd {' '.join(firsts) or '-'}")
                print(f"   {label:24s} {name:10s} {len(drifting):>7d} {found_drift:>9d} "
                      f"{(f'{100.0 * found_drift / len(drifting):5.1f}%' if drifting else '-'):>6s} {n_false:>13d} "
                      f"{per_k(n_false, clean_points):>17s} {len(false_series):>16d}  {notes}")
            else:
                for k, s in series.items():
                    n_false += len(res[k].alarms)
                    clean_points += scored_points(s, learning)
                    if res[k].alarms:
                        false_series.add(k)
                notes = f"{sum(len(s.values) for s in series.values())} points landed of {len(series) * args.ticks}"
                print(f"   {label:24s} {name:10s} {'-':>7s} {'-':>9s} {'-':>6s} {n_false:>13d} "
                      f"{per_k(n_false, clean_points):>17s} {len(false_series):>16d}  {notes}")
            if name == "detector" and fault != "missing":
                kinds = [sig for r in res.values() for sig in r.signals]
                print(f"   {'':24s} {'':10s} detector alarms raised by: level {kinds.count('level')}, "
                      f"shape {kinds.count('shape')}, profile {kinds.count('profile')}")
        print(f"   {'':24s} ({how})")
    print()


def throughput_section(args, types, params) -> None:
    series = fleet_series(args.devices, types, args.seeds[0], args.ticks)
    # Interleaved in arrival order, one detector per series: what @anomaly()'s store does.
    order = sorted(((s.times[i], j, i) for j, s in enumerate(series.values()) for i in range(len(s.values))))
    keys = list(series)
    points = [(keys[j], series[keys[j]].values[i], t) for t, j, i in order]
    dets = {k: Detector(params) for k in keys}
    start = time.perf_counter()
    for k, v, t in points:
        dets[k].update(v, t)
    det_rate = len(points) / (time.perf_counter() - start)
    start = time.perf_counter()
    for s in series.values():
        run_zscore(s, args.n, args.z, params.learning)
    z_rate = len(points) / (time.perf_counter() - start)
    print(f"3. throughput, one process, the healthy fleet's {len(points)} points in arrival order over "
          f"{len(keys)} detectors:")
    print(f"   detector {det_rate:,.0f} points/s (plain loop over update); z-score {z_rate:,.0f} points/s")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--smoke", action="store_true", help="6 devices, 600 messages each: a few seconds")
    ap.add_argument("--devices", type=int, default=18, help="devices, taking the demo's six types in turn (18)")
    ap.add_argument("--hours", type=float, default=2.0, help="simulated hours at one message per second (2)")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2],
                    help="seeds of the healthy runs; the faulty runs take the first (0 1 2)")
    ap.add_argument("--n", type=int, default=100, help="the z-score's window, in points (100)")
    ap.add_argument("--z", type=float, default=4.0, help="the z-score's alarm level, in standard deviations (4)")
    ap.add_argument("--list", type=int, default=12, help="the healthy fleet's alarms listed one by one (12)")
    ap.add_argument("--drift-sd", type=float, default=5.0,
                    help="a drifting series is detected by an alarm once its drift reaches this many noise sd (5)")
    ap.add_argument("--within", type=int, default=3, help="points after a fault an alarm still detects it (3)")
    ap.add_argument("--spikes", default="0.001", help="as the simulator's --spikes P[:SIZE] (0.001: size 8)")
    ap.add_argument("--onoff", default="0.2", help="as the simulator's --onoff FRACTION[:ON:OFF] (0.2: 30 on, 10 off)")
    ap.add_argument("--onset", type=int, default=1000, help="the tick the delayed on/off run starts switching (1000)")
    ap.add_argument("--drift", default="0.2:0.001", help="as the simulator's --drift FRACTION[:RATE] (0.2:0.001)")
    ap.add_argument("--missing", default="0.05", help="as the simulator's --missing P (0.05)")
    args = ap.parse_args(argv)
    if args.smoke:
        args.devices, args.hours, args.seeds, args.onset = 6, 600 / 3600, args.seeds[:1], 300
        args.spikes = "0.01"
    args.ticks = int(round(args.hours * 3600))
    types = DEMO_TYPES
    params = Params()
    t0 = time.perf_counter()
    print(f"the anomaly detector on the simulated fleet{' (--smoke)' if args.smoke else ''}; detector: "
          f"udfs.detect defaults {params.to_dict()}")
    print()
    healthy_section(args, types, params)
    fault_section(args, types, params)
    throughput_section(args, types, params)
    print(f"elapsed: {time.perf_counter() - t0:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
