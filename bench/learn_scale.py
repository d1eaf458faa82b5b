"""Scale figures for udfs.learn, side by side with a naive scikit-learn reference.

One script above 350 lines on purpose: it is read beside what it prints, and
every figure shares one run's setup and reference.

Prints:

1. training time per entity window (logistic and linear, 500 rows, 5 features;
   target <= 5 ms), through ``Trainer.train_window`` (validation, fit on the
   first 75 %, hold-out scoring, champion comparison, refit on the whole
   window, store update), median over windows, with a memory store and with
   a store on disk; linear with ``shrinkage=auto`` (the fleet's evidence
   scored on every window); ``auto`` on 30-row windows (target <= 20 ms,
   beside scikit-learn's ``cross_val_score`` with ``TimeSeriesSplit`` over the
   same kinds of candidate) and on 500-row windows;
2. resident memory for N entity models (linear and logistic; target <= 200 MB
   for 100,000), measured as the RSS delta of a fresh subprocess;
3. single-row and batch predictions per second from the store;
4. predictions per second through the predict UDF itself: ``python -m
   udfs.predict`` in a subprocess, fed Kapacitor's protocol over a pipe as
   Kapacitor feeds a process UDF (decode, predict, encode, write), timed
   until the last prediction is back.

The naive reference keeps, per entity, a fitted ``MinMaxScaler`` and a fitted
scikit-learn estimator, and calls scikit-learn per row. Ratios are
``naive / ours`` for times and memory and ``ours / naive`` for rates, so a
ratio above 1 means ours is better.

Run: ``python bench/learn_scale.py`` (``--entities 100000`` by default;
``--quick`` for a smaller run; ``--smoke``: a few entities and windows of each
figure, seconds: tests/unit/test_bench_learn_scale_smoke.py runs it, so that
the bench cannot rot).
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from udfs.learn import ModelStore, Predictor, TrainConfig, Trainer  # noqa: E402

FEATURES = [f"Field{i}_preprocessed_AnomProb" for i in range(5)]
ROWS = 500


def window(rng: np.random.Generator, logistic: bool) -> dict[str, np.ndarray]:
    X = rng.uniform(1, 100, size=(ROWS, len(FEATURES)))
    z = (X - 50) @ np.linspace(0.05, -0.03, len(FEATURES))
    y = (z + rng.normal(0, 0.5, ROWS) > 0).astype(float) if logistic else 20 + z + rng.normal(0, 0.1, ROWS)
    return {f: X[:, i] for i, f in enumerate(FEATURES)} | {"y": y}


# -- naive reference -----------------------------------------------------------

def naive_fit(cols: dict, logistic: bool):
    from sklearn.linear_model import LinearRegression, LogisticRegression
    from sklearn.metrics import accuracy_score, mean_absolute_percentage_error
    from sklearn.preprocessing import MinMaxScaler

    X = np.column_stack([cols[f] for f in FEATURES])
    y = cols["y"]
    cut = int(round(len(y) * 0.75))
    scaler = MinMaxScaler().fit(X[:cut])
    model = (LogisticRegression() if logistic else LinearRegression()).fit(scaler.transform(X[:cut]), y[:cut])
    predicted = model.predict(scaler.transform(X[cut:]))
    score = accuracy_score(y[cut:], predicted) if logistic else mean_absolute_percentage_error(y[cut:], predicted)
    return scaler, model, score


def naive_predict_one(pair, row, logistic: bool) -> float:
    scaler, model = pair
    x = scaler.transform(np.asarray([row]))
    return float(model.predict_proba(x)[0, 1] if logistic else model.predict(x)[0])


# -- measurements --------------------------------------------------------------

def median_ms(call, items) -> float:
    """Median time per call: robust to other processes sharing the CPUs."""
    times = []
    for i, item in enumerate(items):
        start = time.perf_counter()
        call(i, item)
        times.append(time.perf_counter() - start)
    return float(np.median(times)) * 1e3


def time_training(logistic: bool, windows: int, seed: int) -> tuple[float, float, float]:
    """Median ms per window: ours in memory, ours writing each champion to disk, naive."""
    rng = np.random.default_rng(seed)
    data = [window(rng, logistic) for _ in range(windows)]
    config = TrainConfig(FEATURES, "y", islogistic=logistic)
    memory = Trainer(config, ModelStore(), fleet_retrain_every=0)
    ours = median_ms(lambda i, cols: memory.train_window(f"dev-{i % 50}", cols), data)
    with tempfile.TemporaryDirectory() as folder:
        disk = Trainer(config, ModelStore(folder), fleet_retrain_every=0)
        ours_disk = median_ms(lambda i, cols: disk.train_window(f"dev-{i % 50}", cols), data)
    naive = median_ms(lambda i, cols: naive_fit(cols, logistic), data)
    return ours, ours_disk, naive


def time_configured(options: dict, rows: int, windows: int, seed: int, warm: int = 20) -> float:
    """Median ms per window for a configuration, over a fleet of 50 entities, after ``warm`` warm-up windows."""
    rng = np.random.default_rng(seed)
    data = [{k: v[:rows] for k, v in window(rng, False).items()} for _ in range(windows + warm)]
    trainer = Trainer(TrainConfig(FEATURES, "y", **options), ModelStore(), fleet_retrain_every=0)
    for i, cols in enumerate(data[:warm]):
        trainer.train_window(f"dev-{i % 50}", cols)
    return median_ms(lambda i, cols: trainer.train_window(f"dev-{i % 50}", cols), data[warm:])


def naive_auto(cols: dict) -> object:
    """What one would write with scikit-learn: time-series cross-validation over similar candidates."""
    from sklearn.compose import TransformedTargetRegressor
    from sklearn.linear_model import LinearRegression, Ridge
    from sklearn.model_selection import TimeSeriesSplit, cross_val_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer, MinMaxScaler, PolynomialFeatures

    X = np.column_stack([cols[f] for f in FEATURES])
    y = cols["y"]
    candidates = [
        make_pipeline(MinMaxScaler(), LinearRegression()),
        make_pipeline(MinMaxScaler(), Ridge(alpha=1.0)),
        TransformedTargetRegressor(make_pipeline(MinMaxScaler(), LinearRegression()), func=np.log, inverse_func=np.exp),
        make_pipeline(FunctionTransformer(np.log), MinMaxScaler(), LinearRegression()),
        make_pipeline(MinMaxScaler(), PolynomialFeatures(2), LinearRegression()),
    ]
    cut = int(round(len(y) * 0.75))
    scores = [cross_val_score(c, X[:cut], y[:cut], cv=TimeSeriesSplit(n_splits=min(8, cut // 3)),
                              scoring="neg_mean_absolute_error").mean() for c in candidates]
    return candidates[int(np.argmax(scores))].fit(X, y)


def template_docs(seed: int) -> dict[bool, dict]:
    rng = np.random.default_rng(seed)
    docs = {}
    for logistic in (False, True):
        trainer = Trainer(TrainConfig(FEATURES, "y", islogistic=logistic), ModelStore(), fleet_retrain_every=0)
        docs[logistic] = trainer.train_window("AC000W020486693", window(rng, logistic)).challenger
    return docs


def rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def memory_child(kind: str, entities: int, seed: int) -> None:
    """Runs in a subprocess: build ``entities`` models, print the RSS delta."""
    import gc

    rng = np.random.default_rng(seed)
    docs = template_docs(seed) if kind == "ours" else None
    pairs = None
    if kind == "naive":
        pairs = {lg: naive_fit(window(rng, lg), lg)[:2] for lg in (False, True)}
    gc.collect()
    before = rss_bytes()
    if kind == "ours":
        store = ModelStore()
        for i in range(entities):
            logistic = bool(i % 2)
            doc = docs[logistic]
            noise = rng.normal(0, 0.01, len(FEATURES))
            store.put(dict(doc, key=f"AC{i:013d}",
                           params={"coef": (np.asarray(doc["params"]["coef"]) + noise).tolist(),
                                   "intercept": doc["params"]["intercept"] + float(noise[0])}))
        held = store
    else:
        held = {}
        for i in range(entities):
            scaler, model = copy.deepcopy(pairs[bool(i % 2)])
            model.coef_ = model.coef_ + rng.normal(0, 0.01, model.coef_.shape)
            held[f"AC{i:013d}"] = (scaler, model)
    gc.collect()
    after = rss_bytes()
    print(json.dumps({"kind": kind, "entities": entities, "rss_delta": after - before,
                      "count": len(held) if kind == "naive" else held.resident}))


def measure_memory(kind: str, entities: int, seed: int) -> float:
    out = subprocess.run([sys.executable, __file__, "--memory-child", kind, "--entities", str(entities),
                          "--seed", str(seed)], check=True, capture_output=True, text=True)
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["count"] == entities, result
    return result["rss_delta"] / 2**20


def calls_per_second(seconds: float, call, per_call: int = 1, inner: int = 1000) -> float:
    """How many times per second ``call(n)`` runs (times ``per_call``), over ``seconds``; the clock is read every ``inner`` calls."""
    n, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        for _ in range(inner):
            call(n)
            n += 1
    return n * per_call / (time.perf_counter() - start)


def time_predictions(entities: int, seconds: float, seed: int) -> dict[str, float]:
    rng = np.random.default_rng(seed)
    docs = template_docs(seed)
    rows = rng.uniform(1, 100, size=(1000, len(FEATURES)))
    row_dicts = [dict(zip(FEATURES, map(float, r))) for r in rows]
    keys = [f"AC{i:013d}" for i in range(entities)]
    figures = {}
    with tempfile.TemporaryDirectory() as folder:
        writer = ModelStore(folder)
        for i, key in enumerate(keys):
            writer.put(dict(docs[bool(i % 2)], key=key))
        # The predict process opens the same directory and loads on demand.
        predictor = Predictor(ModelStore(folder, max_resident=entities, refresh_seconds=1.0))
        for key in keys:
            predictor.predict_one(key, row_dicts[0])  # warm: load every model once

        nk = len(keys)
        figures["ours_single"] = calls_per_second(
            seconds, lambda n: predictor.predict_one(keys[n % nk], row_dicts[n % 1000]))
        batch = rows[:500]
        figures["ours_batch"] = calls_per_second(
            seconds, lambda n: predictor.predict_batch(keys[n % nk], batch), per_call=len(batch))

    naive = {}
    for i, key in enumerate(keys[:1000]):
        naive[key] = naive_fit(window(rng, bool(i % 2)), bool(i % 2))[:2]
    naive_keys = list(naive)
    lists = [list(r) for r in rows]

    nn = len(naive_keys)  # 1,000, or every entity when there are fewer
    figures["naive_single"] = calls_per_second(
        seconds, lambda n: naive_predict_one(naive[naive_keys[n % nn]], lists[n % 1000], bool(n % 2)), inner=100)

    def naive_batch(n):
        scaler, model = naive[naive_keys[n % nn]]
        x = scaler.transform(rows[:500])
        return model.predict_proba(x)[:, 1] if n % 2 else model.predict(x)

    figures["naive_batch"] = calls_per_second(seconds, naive_batch, per_call=500, inner=100)
    return figures


def _cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as fh:
        ticks = fh.read().rsplit(")", 1)[1].split()
    return (int(ticks[11]) + int(ticks[12])) / os.sysconf("SC_CLK_TCK")


def predict_handler_rate(entities: int, n: int, seed: int, algorithm: str = "linear",
                         logistic: bool = False) -> tuple[float, float]:
    """Predictions per wall-clock second and per UDF CPU-second through ``python -m udfs.predict``."""
    import threading

    if n <= entities:
        # The first point of each entity is start-up (its model's first load), not the steady rate.
        raise ValueError(f"handler points ({n}) must be more than the prediction entities ({entities})")

    from udfs.agent import FrameDecoder, encode_frame, udf_pb2

    rng = np.random.default_rng(seed)
    with tempfile.TemporaryDirectory() as tmp:
        store = ModelStore(os.path.join(tmp, "bench"))
        trainer = Trainer(TrainConfig(FEATURES, "y", islogistic=logistic, algorithm=algorithm), store,
                          fleet_retrain_every=0)
        keys = [f"pm-{k}" for k in range(entities)]
        for key in keys:
            trainer.train_window(key, window(rng, logistic=logistic))
        init = udf_pb2.Request(init=udf_pb2.InitRequest(taskID="bench", nodeID="predict1"))
        init.init.options.add(name="model", values=[udf_pb2.OptionValue(type=udf_pb2.STRING, stringValue="bench")])
        init.init.options.add(name="model_dir", values=[udf_pb2.OptionValue(type=udf_pb2.STRING, stringValue=tmp)])
        body = bytearray(encode_frame(init.SerializeToString()))
        X = rng.uniform(1, 100, size=(1000, len(FEATURES)))
        for i in range(n):
            key = keys[i % entities]
            req = udf_pb2.Request()
            p = req.point
            p.time, p.name, p.group = 1_700_000_000_000_000_000 + i, "power_readings", f"device_id={key}\n"
            p.tags["device_id"] = key
            p.dimensions.append("device_id")
            for j, f in enumerate(FEATURES):
                p.fieldsDouble[f] = float(X[i % 1000, j])
            body += encode_frame(req.SerializeToString())
        # The UDF reads models only inside its model root, which the service sets.
        proc = subprocess.Popen([sys.executable, "-m", "udfs.predict", "--log-level", "WARNING"], cwd=ROOT,
                                env={**os.environ, "TICKML_MODEL_ROOT": tmp},
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        start = time.perf_counter()
        writer = threading.Thread(target=lambda: (proc.stdin.write(body), proc.stdin.flush()))
        writer.start()
        decoder, points, seen_init = FrameDecoder(), 0, False
        while points < n:
            chunk = proc.stdout.read1(1 << 16)
            if not chunk:
                raise RuntimeError("the predict UDF closed its output early")
            for frame in decoder.feed(chunk):
                r = udf_pb2.Response()
                r.ParseFromString(frame)
                kind = r.WhichOneof("message")
                if kind == "init":
                    assert r.init.success, r.init.error
                    seen_init = True
                elif kind == "point":
                    points += 1
                    if points == entities:
                        # Start-up (imports, opening the store, each model's first load from
                        # disk: one point per entity) is not the steady rate.
                        start = time.perf_counter()
                        cpu_at_init = _cpu_seconds(proc.pid)
        elapsed = time.perf_counter() - start
        cpu = _cpu_seconds(proc.pid) - cpu_at_init
        n -= entities
        writer.join()
        proc.stdin.close()
        proc.wait(timeout=30)
        assert seen_init
    # A run shorter than the kernel's CPU clock tick (10 ms) has no CPU figure.
    return n / elapsed, n / cpu if cpu > 0 else float("nan")


def main(argv: list[str] | None = None) -> dict:
    """Run; the figures printed, by row label: (ours, naive or None)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--entities", type=int, default=100_000, help="models for the memory figure")
    parser.add_argument("--windows", type=int, default=300, help="windows timed per algorithm")
    parser.add_argument("--predict-entities", type=int, default=10_000, help="entities in the prediction figures")
    parser.add_argument("--seconds", type=float, default=2.0, help="time per prediction figure")
    parser.add_argument("--handler-points", type=int, default=200_000, help="points sent through the predict UDF")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true", help="10,000 entities, fewer windows")
    parser.add_argument("--smoke", action="store_true", help="a few of everything, seconds: that it runs, not a figure")
    parser.add_argument("--memory-child", choices=["ours", "naive"], help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.memory_child:
        memory_child(args.memory_child, args.entities, args.seed)
        return {}
    warm, auto500_windows, heavy_entities = 20, min(args.windows, 20), 50
    if args.quick:
        args.entities, args.windows, args.predict_entities, args.seconds = 10_000, 50, 2_000, 0.5
        args.handler_points = 50_000
    if args.smoke:
        args.entities, args.windows, args.predict_entities, args.seconds = 200, 2, 20, 0.05
        # Boosting and the network take about two seconds a window of 500 rows: one window, no warm-up.
        args.handler_points, warm, auto500_windows, heavy_entities = 4_000, 1, 1, 5
    figures: dict[str, tuple[float, float | None]] = {}  # by row (and algorithm): ours, naive

    print(f"udfs.learn scale bench ({ROWS} rows x {len(FEATURES)} features per window; naive = "
          "MinMaxScaler + scikit-learn estimator per entity)\n")
    print(f"{'figure':<52}{'ours':>12}{'naive':>12}{'ratio':>8}  target")
    for logistic, name in ((True, "logistic"), (False, "linear")):
        ours, ours_disk, naive = time_training(logistic, args.windows, args.seed)
        print(f"{'training ms per entity window, ' + name:<52}{ours:>12.3f}{naive:>12.3f}{naive / ours:>8.1f}  <= 5 ms")
        figures[f"training ms, {name}"] = (ours, naive)
        print(f"{'  same, champion also written to disk':<52}{ours_disk:>12.3f}{naive:>12.3f}"
              f"{naive / ours_disk:>8.1f}  <= 5 ms")
        figures[f"training ms, {name}, on disk"] = (ours_disk, naive)
    shrink = time_configured({"algorithm": "linear", "shrinkage": "auto"}, ROWS, args.windows, args.seed, warm)
    _, _, naive = time_training(False, min(args.windows, 50), args.seed)
    print(f"{'  linear with shrinkage=auto':<52}{shrink:>12.3f}{naive:>12.3f}{naive / shrink:>8.1f}  <= 5 ms")
    figures["training ms, linear, shrinkage=auto"] = (shrink, naive)
    rng = np.random.default_rng(args.seed)
    auto30 = time_configured({"algorithm": "auto"}, 30, args.windows, args.seed, warm)
    naive30 = median_ms(lambda i, cols: naive_auto(cols),
                        [{k: v[:30] for k, v in window(rng, False).items()} for _ in range(min(args.windows, 50))])
    print(f"{'training ms per entity window, auto, 30 rows':<52}{auto30:>12.3f}{naive30:>12.3f}"
          f"{naive30 / auto30:>8.1f}  <= 20 ms")
    figures["training ms, auto, 30 rows"] = (auto30, naive30)
    auto500 = time_configured({"algorithm": "auto"}, ROWS, auto500_windows, args.seed,
                              warm if auto500_windows > 1 else 0)
    print(f"{'  auto, 500 rows (with boosting and a network)':<52}{auto500:>12.3f}")
    figures["training ms, auto, 500 rows"] = (auto500, None)
    ours_mb = measure_memory("ours", args.entities, args.seed)
    naive_mb = measure_memory("naive", args.entities, args.seed)
    label = f"resident MB for {args.entities:,} models (half logistic)"
    target = "<= 200 MB" if args.entities == 100_000 else f"<= {200 * args.entities / 100_000:.0f} MB (scaled)"
    print(f"{label:<52}{ours_mb:>12.1f}{naive_mb:>12.1f}{naive_mb / ours_mb:>8.1f}  {target}")
    figures["resident MB"] = (ours_mb, naive_mb)
    rates = time_predictions(args.predict_entities, args.seconds, args.seed)
    print(f"{'single-row predictions/s from store (seed fields)':<52}{rates['ours_single']:>12,.0f}"
          f"{rates['naive_single']:>12,.0f}{rates['ours_single'] / rates['naive_single']:>8.1f}  >= 50,000/s")
    figures["single-row predictions/s"] = (rates["ours_single"], rates["naive_single"])
    print(f"{'batch predictions/s (500 rows per call)':<52}{rates['ours_batch']:>12,.0f}"
          f"{rates['naive_batch']:>12,.0f}{rates['ours_batch'] / rates['naive_batch']:>8.1f}")
    figures["batch predictions/s"] = (rates["ours_batch"], rates["naive_batch"])
    handler_rate, handler_cpu_rate = predict_handler_rate(args.predict_entities, args.handler_points, args.seed)
    print(f"{'predictions/s through the predict UDF (pipe, wall)':<52}{handler_rate:>12,.0f}{'':>12}{'':>8}  >= 50,000/s")
    print(f"{'  same, per CPU-second of the UDF process':<52}{handler_cpu_rate:>12,.0f}{'':>12}{'':>8}  >= 50,000/s")
    figures["predict UDF predictions/s, wall"] = (handler_rate, None)
    figures["predict UDF predictions/s, per CPU-second"] = (handler_cpu_rate, None)
    for algorithm, logistic, entities in (("logistic", True, args.predict_entities),
                                          ("gradient_boosting", False, heavy_entities),
                                          ("neural_network", False, heavy_entities)):
        _, cpu_rate = predict_handler_rate(entities, args.handler_points // 4, args.seed, algorithm, logistic)
        label = f"  {algorithm} models ({entities:,}), per UDF CPU-second"
        target = "  >= 50,000/s" if algorithm == "logistic" else ""
        print(f"{label:<52}{cpu_rate:>12,.0f}{'':>12}{'':>8}{target}")
        figures[f"predict UDF predictions/s, {algorithm}, per CPU-second"] = (cpu_rate, None)
    return figures


if __name__ == "__main__":
    main()
