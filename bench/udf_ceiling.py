"""Each shipped UDF through real Kapacitor, beside the ceiling (a UDF doing nothing) and Kapacitor's own node.

For every task shape the product ships, the same points go through the
running stack's Kapacitor three ways, one after the other, each as a
temporary task over a measurement of its own (``through_kapacitor.run``):

- **native**: Kapacitor's own node for comparable work, where there is one;
- **null**: a UDF of the same shape that does nothing (``null_stream``
  forwards each point as it came; ``null_batch`` answers each window with its
  size): the ceiling that Kapacitor's side of the UDF protocol and the agent
  set;
- **ours**: the shipped UDF.

Shapes: stream → stream filter (``py_classifier``, every point passes so
the output is the same size as the null's), batch → stream window statistics
(``preprocess``, 30-point windows), batch → stream training (``train``,
linear, 30-point windows), stream → stream prediction (``predict``, linear
models of 1,000 devices trained beforehand), stream → stream anomaly score
(``anomaly``, beside Kapacitor's running ``sigma()``, its own stateful
per-point function; each device learns for 150 of its 300 points, then is
scored).

Printed per run: points/s from the first write to the last output, and CPU
microseconds per point of kapacitord and of the UDF server; then ours/null
and ours/native. Absolute figures move by tens of per cent on a shared
machine; the ratios of one run are the figures to quote. ``--rounds N`` runs
every shape's runs N times, round after round, and the summary gives the
median of the rounds' ratios beside each round's: on a machine whose load
moves, one round's ratio of runs a few seconds apart moves with it (predict
over the native node read 0.77 and 0.29 in two runs three minutes apart).

Two builds side by side: ``--stock DIR/kapacitord`` (the release as published:
``stack/go/kapacitor/build.sh --stock DIR``) runs every run through two
kapacitords of the bench's own (``private_kapacitor.py``: same configuration,
the stack's UDF servers, nothing else), that one and ``--patched`` (default
the stack's binary, built with our patches), one after the other; each row
says which, and the summary adds the null UDF's patched / stock.

Run: ``python bench/udf_ceiling.py [--entities 10000] [--points 30] [--shapes predict] [--stock PATH]``
(stack running: ``tickml stack start``). ``--profile DIR`` also prints where
the CPU goes during the null and our runs, on both sides (``profiles.py``):
``KAPACITOR_HTTP_PPROF_ENABLED=true tickml stack restart kapacitor`` first.
``--smoke``: 50 devices x 30 points windowed, 20 x 300 streamed, seconds
(tests/integration/test_bench_udf_ceiling.py runs it, so that the bench cannot rot).
"""

from __future__ import annotations

import argparse
import contextlib
import time
from pathlib import Path
from statistics import median

import numpy as np

import through_kapacitor
from private_kapacitor import private_kapacitor
from through_kapacitor import STREAM, WINDOWED
from tickml.config import udf_sockets
from tickml.paths import BIN, ROOT
from udfs.learn import ModelStore, TrainConfig, Trainer


def _lines(measurement: str, entities: int, points: int, base: int, rng, fields) -> list[str]:
    out = []
    for k in range(points):
        for e in range(entities):
            values = ",".join(f"{name}={value!r}" for name, value in fields(rng, e).items())
            out.append(f"{measurement},device_id=e{e} {values} {base + k * 10**9}")
    return out


def shapes(args, model: str):
    """name -> (script template, [(label, node, node id, udf service)], fields, windowed, outputs per entity)."""
    x_and_y = lambda rng, e: {"x": float(rng.uniform(0, 10)), "y": 0.0}  # noqa: E731
    temperature = lambda rng, e: {"value": float(rng.uniform(26, 40))}  # noqa: E731 (all pass the filter)
    series = lambda rng, e: {"value": float(rng.normal(100, 2))}  # noqa: E731
    regression = lambda rng, e: (lambda x: {"x": x, "y": 2.0 * x + e % 7 + float(rng.normal(0, 0.1))})(  # noqa: E731
        float(rng.uniform(0, 10)))
    return {
        "filter (py_classifier)": (STREAM, [
            ("native |where()", "|where(lambda: \"value\" < 20.0 OR \"value\" > 25.0)", "where2", None),
            ("null_stream", "@null_stream()", "null_stream2", "udf-null_stream"),
            ("py_classifier", "@py_classifier().field('value').low(20.0).high(25.0)", "py_classifier2",
             "udf-py_classifier"),
        ], temperature, False),
        "window statistics (preprocess)": (WINDOWED, [
            ("native |mean()", "|mean('value')", "mean3", None),
            ("null_batch", "@null_batch()", "null_batch3", "udf-null_batch"),
            ("preprocess", "@preprocess().fields('value').types('avg,min,max,trend,anomprob')", "preprocess3",
             "udf-preprocess"),
        ], series, True),
        "training (train, linear)": (WINDOWED, [
            ("null_batch", "@null_batch()", "null_batch3", "udf-null_batch"),
            ("train", f"@train().model('{model}-t{{build}}').dependentvariable('y').independentvariables('x')"
                      ".algorithm('linear')", "train3", "udf-train"),
        ], regression, True),
        "prediction (predict, linear)": (STREAM, [
            ("native |eval()", "|eval(lambda: 2.0 * \"x\" + 1.0).as('y')", "eval2", None),
            ("null_stream", "@null_stream()", "null_stream2", "udf-null_stream"),
            ("predict", f"@predict().model('{model}')", "predict2", "udf-predict"),
        ], x_and_y, False),
        "anomaly score (anomaly)": (STREAM, [
            ("native sigma()", "|eval(lambda: sigma(\"value\")).as('sigma')", "eval2", None),
            ("null_stream", "@null_stream()", "null_stream2", "udf-null_stream"),
            ("anomaly", "@anomaly().field('value')", "anomaly2", "udf-anomaly"),
        ], series, False),
    }


def train_prediction_models(model: str, entities: int) -> None:
    """Linear models for every bench device, in the store the predict UDF reads."""
    store = ModelStore(ROOT / ".stack" / "data" / "models" / model)
    trainer = Trainer(TrainConfig("x", "y", algorithm="linear"), store, fleet_retrain_every=0)
    rng = np.random.default_rng(1)
    for e in range(entities):
        x = rng.uniform(0, 10, 40)
        trainer.train_window(f"e{e}", {"x": x, "y": 2.0 * x + e % 7 + rng.normal(0, 0.1, 40)})


def main(argv: list[str] | None = None) -> dict:
    """Run; the figures printed: ``rates`` {(shape, run, build): points/s}, ``kapacitord_us`` {(shape, run, build):
    kapacitord's µs a point} and ``summary`` {row: (ours/null, ours/native or None)}; build is None through the
    stack's kapacitord."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--entities", type=int, default=10_000, help="devices of the windowed shapes")
    parser.add_argument("--points", type=int, default=30, help="points per device (window length)")
    parser.add_argument("--stream-entities", type=int, default=1_000, help="devices of the stream shapes")
    parser.add_argument("--shapes", nargs="*", help="shape names (default: all)")
    parser.add_argument("--profile", type=Path, metavar="DIR",
                        help="profile the UDF server (py-spy) and kapacitord (pprof: start it with "
                             "KAPACITOR_HTTP_PPROF_ENABLED=true) during the null and our runs; print where "
                             "the CPU goes and keep the profiles in DIR")
    parser.add_argument("--stock", type=Path, metavar="KAPACITORD",
                        help="also through this kapacitord (the release: stack/go/kapacitor/build.sh --stock DIR), "
                             "beside --patched, both run by the bench")
    parser.add_argument("--patched", type=Path, metavar="KAPACITORD", default=BIN / "kapacitord",
                        help="with --stock: the other kapacitord (default: the stack's, %(default)s)")
    parser.add_argument("--rounds", type=int, default=1,
                        help="run every shape's runs this many times, one round after the other; the summary gives "
                             "the median of the rounds' ratios, and each round's")
    parser.add_argument("--smoke", action="store_true",
                        help="50 windowed devices, 20 streamed: that every shape runs, not a figure")
    args = parser.parse_args(argv)
    # A run that has not emitted everything by then is stuck, not slow: a smoke run says so within a minute.
    args.timeout = 600.0
    if args.smoke:
        args.entities, args.stream_entities, args.timeout = 50, 20, 60.0
    if args.stock and args.profile:
        parser.error("--profile profiles the stack's kapacitord; not with --stock")
    with contextlib.ExitStack() as stack:
        if args.stock:
            # (name, client, pid) per build: kapacitords of the bench's own, the stack's UDF servers.
            builds = []
            for name, binary in (("stock", args.stock), ("patched", args.patched)):
                # Resolved here: the kapacitord runs in a folder of its own, where a relative path means nothing.
                kapacitord = stack.enter_context(private_kapacitor(binary.resolve(), udf_sockets()))
                builds.append((name, kapacitord.client(), kapacitord.pid))
        else:
            builds = [(None, None, None)]  # the stack's kapacitord
        return _bench(args, builds)


def _bench(args, builds) -> dict:
    model = f"bench-predict-{int(time.time())}"
    train_prediction_models(model, args.stream_entities)
    rng = np.random.default_rng(0)
    where = ("the running stack's Kapacitor" if builds[0][0] is None else
             "two kapacitords of the bench's own, " + " and ".join(name for name, *_ in builds))
    print(f"through {where}; windowed shapes {args.entities:,} devices x {args.points} "
          f"points, stream shapes {args.stream_entities:,} devices x {args.points * 10} points\n")
    print(f"{'shape / run':<44}{'points/s':>11}{'kapacitord us/pt':>18}{'udf us/pt':>11}")
    summary, null_builds, figures = [], [], {"rates": {}, "kapacitord_us": {}, "summary": {}}
    for shape, (template, runs, fields, windowed) in shapes(args, model).items():
        if args.shapes and not any(s in shape for s in args.shapes):
            continue
        entities = args.entities if windowed else args.stream_entities
        points = args.points if windowed else args.points * 10
        base = (time.time_ns() // 10**9 // points) * points * 10**9 - 7200 * 10**9
        print(shape)
        rates, kapacitor_us = {}, {}  # (label, build) -> one figure per round
        for round_ in range(args.rounds):
            for label, node, node_id, service in runs:
                for build, kapacitor, kapacitor_pid in builds:
                    measurement = f"bench_ceiling_{node_id}_{time.time_ns()}"
                    lines = _lines(measurement, entities, points, base, rng, fields)
                    expected = entities * points
                    if windowed:
                        # One point per device past its window closes it; one output per window.
                        lines += [f"{measurement},device_id=e{e} {next(iter(fields(rng, e)))}=0 "
                                  f"{base + points * 10**9}" for e in range(entities)]
                        expected = entities
                    # A model per build and round: the train UDF skips a window its model has judged already (the
                    # same device times, run through the other build or an earlier round first), so that it would
                    # emit nothing.
                    suffix = (f"-{build}" if build else "") + (f"-r{round_}" if round_ else "")
                    script = template.format(measurement=measurement, period=points,
                                             node=node.replace("{build}", suffix))
                    profile = (args.profile, f"{shape}-{label}") if args.profile and service and not round_ else None
                    run = through_kapacitor.run(script, lines, node_id, expected, service, profile=profile,
                                                kapacitor=kapacitor, kapacitor_pid=kapacitor_pid,
                                                timeout=args.timeout)
                    total = entities * points
                    rates.setdefault((label, build), []).append(total / run.seconds)
                    kapacitor_us.setdefault((label, build), []).append(run.kapacitor_cpu / total * 1e6)
                    udf = f"{run.udf_cpu / total * 1e6:>11.2f}" if run.udf_cpu is not None else f"{'-':>11}"
                    row = (f"{label} [{build}]" if build else label) + (f" #{round_ + 1}" if args.rounds > 1 else "")
                    print(f"  {row:<42}{total / run.seconds:>11,.0f}{kapacitor_us[label, build][-1]:>18.2f}{udf}")
                    if run.profiles is not None:
                        for title, rows in (("UDF server (py-spy)", run.profiles.udf_summary()),
                                            ("kapacitord (pprof, first 5 s)", run.profiles.go_summary())):
                            print(f"    {title}:")
                            print("\n".join(f"      {row}" for row in rows))
        for (label, build), per_round in rates.items():
            figures["rates"][shape, label, build] = median(per_round)
            figures["kapacitord_us"][shape, label, build] = median(kapacitor_us[label, build])
        ours = runs[-1][0]
        null = next(label for label, *_ in runs if label.startswith("null"))
        native = next((label for label, *_ in runs if label.startswith("native")), None)
        for build, *_ in builds:
            # Each round's ratio is of runs a few seconds apart; the median of the rounds' ratios is the figure.
            to_null = median(_ratios(rates[ours, build], rates[null, build]))
            to_native = median(_ratios(rates[ours, build], rates[native, build])) if native else None
            row = f"{shape} [{build}]" if build else shape
            summary.append((row, to_null, to_native, _spread(rates, ours, null, native, build)))
            figures["summary"][row] = (to_null, to_native)
        if len(builds) == 2:
            (old, *_), (new, *_) = builds
            null_builds.append((shape, null, median(_ratios(rates[null, new], rates[null, old])),
                                *(figures[kind][shape, null, build] for kind in ("rates", "kapacitord_us")
                                  for build in (old, new))))
    print(f"\n{'shape':<54}{'ours/null':>10}{'ours/native':>12}" + ("   rounds' ratios" if args.rounds > 1 else ""))
    for shape, to_null, to_native, spread in summary:
        print(f"{shape:<54}{to_null:>10.2f}{'-' if to_native is None else f'{to_native:.2f}':>12}"
              + (f"   {spread}" if args.rounds > 1 else ""))
    if null_builds:
        (old, *_), (new, *_) = builds
        print(f"\n{'null UDF':<44}{old + ' pts/s':>14}{new + ' pts/s':>16}{new + '/' + old:>15}"
              f"{'kapacitord us/pt ' + old + ' -> ' + new:>36}")
        for shape, null, ratio, old_rate, new_rate, old_us, new_us in null_builds:
            print(f"{shape + ' (' + null + ')':<44}{old_rate:>14,.0f}{new_rate:>16,.0f}{ratio:>15.2f}"
                  f"{old_us:>26.2f} -> {new_us:.2f}")
    return figures


def _ratios(ours: list[float], reference: list[float]) -> list[float]:
    return [a / b for a, b in zip(ours, reference)]


def _spread(rates: dict, ours: str, null: str, native: str | None, build) -> str:
    """Every round's ours/null (and ours/native), in round order."""
    to_null = ", ".join(f"{r:.2f}" for r in _ratios(rates[ours, build], rates[null, build]))
    if native is None:
        return to_null
    return to_null + " / " + ", ".join(f"{r:.2f}" for r in _ratios(rates[ours, build], rates[native, build]))


if __name__ == "__main__":
    main()
