"""Input points per second of the preprocessing library, per path, on one core.

Issue 4's workload: 10,000 entities, one 30-point window each, the types
avg, min, max, trend and anomprob.  Each path computes every type for every
window; the figure is entities * points / wall time.

Paths, side by side in one run:

- ``plan``       the UDF's per-window path: ``Plan(types).compute(column)``,
                 one call per entity on the float column the UDF decodes
                 from a batch (plain Python up to 128 values, numpy above);
- ``batch``      the vectorised path: ``compute_batch(types, 2-D array)``;
- ``compute``    naive numpy: one ``compute(type, list)`` call per type and
                 window (converts the values once per type);
- ``python``     reference: the same statistics written directly in Python
                 (``statistics``, ``math``), no numpy.

``--through-kapacitor`` also measures the same windows through the native
stack's real Kapacitor (line protocol in, Kapacitor groups and windows, the
preprocess UDF over its unix socket), side by side with Kapacitor's own
``mean()`` on the same windows, with the CPU seconds of kapacitord and of the
UDF server: where the time goes.

``--lengths 5,10,...`` sweeps window lengths instead: the plan path beside
the plain-Python reference at each length (the same number of points each).

Usage:  python bench/preprocess_throughput.py [--entities N] [--points P]
        [--types avg,min,max,trend,anomprob] [--repeat R] [--through-kapacitor]
        [--lengths 5,10,30,64,65,100,300,1000,10000] [--smoke]
        (run from the repository root)

``--smoke``: 200 entities, one repeat (tests/unit/test_bench_preprocess_throughput_smoke.py runs it with and
without ``--lengths``, tests/integration/test_bench_preprocess_throughput.py with ``--through-kapacitor``, so
that the bench cannot rot).
"""

import os

# One core: keep numpy's BLAS (used by trend's matrix product) single-threaded.
for _variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_variable, "1")

import argparse  # noqa: E402
import math  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from udfs.windowstats import Plan, compute, compute_batch  # noqa: E402
from udfs.windowstats.anomaly import PRIOR, SPREAD  # noqa: E402

TARGET_POINTS_PER_SECOND = 200_000


def make_windows(entities, points, seed=4):
    """Per-entity windows: a level, a slow drift, noise and an occasional spike."""
    rng = np.random.default_rng(seed)
    level = rng.uniform(100.0, 240.0, (entities, 1))
    drift = rng.normal(0.0, 0.05, (entities, 1)) * np.arange(points)
    rows = level + drift + rng.normal(0.0, 2.0, (entities, points))
    spiking = rng.random(entities) < 0.05
    rows[spiking, rng.integers(0, points, spiking.sum())] += 40.0
    return rows


def run_plan(types, rows, lists):
    plan = Plan(types)
    for values in rows:
        plan.compute(values)


def run_batch(types, rows, lists):
    compute_batch(types, rows)


def run_compute(types, rows, lists):
    for values in lists:
        for name in types:
            compute(name, values)


def run_python(types, rows, lists):
    functions = [PYTHON[name] for name in types]
    for values in lists:
        for function in functions:
            function(values)


def _python_trend(xs):
    n = len(xs)
    centre_t, centre_x = (n - 1) / 2.0, math.fsum(xs) / n
    top = sum((t - centre_t) * (x - centre_x) for t, x in enumerate(xs))
    return top / sum((t - centre_t) ** 2 for t in range(n))


def _python_anomprob(xs):
    median = statistics.median(xs)
    deviations = [abs(x - median) for x in xs]
    mad = statistics.median(deviations)
    scale = mad / 0.6744897501960817 if mad > 0 else math.fsum(deviations) / len(xs) * math.sqrt(math.pi / 2)
    if scale == 0:
        ratios = [1.0 / SPREAD] * len(xs)
    else:
        factor = (1.0 - 1.0 / SPREAD**2) / 2.0
        ratios = [math.exp(min(700.0, (d / scale) ** 2 * factor)) / SPREAD for d in deviations]
    odds = PRIOR / (1.0 - PRIOR) * math.fsum(ratios) / len(xs)
    return 100.0 * odds / (1.0 + odds)


PYTHON = {
    "avg": lambda xs: math.fsum(xs) / len(xs),
    "min": min,
    "max": max,
    "trend": _python_trend,
    "anomprob": _python_anomprob,
}

PATHS = {"plan": run_plan, "batch": run_batch, "compute": run_compute, "python": run_python}


def measure(path, types, rows, lists, repeat):
    """Best wall time of ``repeat`` runs (the least disturbed by other work)."""
    best = math.inf
    for _ in range(repeat):
        start = time.perf_counter()
        PATHS[path](types, rows, lists)
        best = min(best, time.perf_counter() - start)
    return best


def measure_through_kapacitor(args, types):
    """Points per second through the stack's Kapacitor: line protocol in, one
    window per entity grouped and windowed by Kapacitor, the preprocess UDF
    over its unix socket; side by side with Kapacitor's own mean() on the
    same windows. Needs the native stack running (tickml stack start)."""
    import through_kapacitor

    rows = make_windows(args.entities, args.points)
    base = (time.time_ns() // 10**9 // args.points) * args.points * 10**9 - 3600 * 10**9
    print(f"\nthrough real Kapacitor ({args.entities} entities x {args.points} points, "
          "written to /kapacitor/v1/write)")
    print(f"{'pipeline':<24} {'seconds':>9} {'points/s':>12} {'kapacitord cpu':>15} {'udf cpu':>9}")
    results = {}
    for label, node, node_id, service in (
        ("kapacitor mean()", "|mean('value')", "mean3", None),
        ("preprocess UDF", f"@preprocess().fields('value').types('{','.join(types)}')", "preprocess3",
         "udf-preprocess"),
    ):
        measurement = f"bench_pre_{label.split()[0]}_{time.time_ns()}"
        lines = [f"{measurement},device_id=e{e} value={float(rows[e, k])!r} {base + k * 10**9}"
                 for k in range(args.points) for e in range(args.entities)]
        # One point per entity past the window closes it.
        lines += [f"{measurement},device_id=e{e} value=0 {base + args.points * 10**9}" for e in range(args.entities)]
        script = through_kapacitor.WINDOWED.format(measurement=measurement, period=args.points, node=node)
        run = through_kapacitor.run(script, lines, node_id, args.entities, service)
        points = args.entities * args.points
        results[label] = points / run.seconds
        udf_cpu = f"{run.udf_cpu:.2f}" if run.udf_cpu is not None else "-"
        print(f"{label:<24} {run.seconds:>9.2f} {points / run.seconds:>12,.0f} {run.kapacitor_cpu:>15.2f} {udf_cpu:>9}")
    ratio = results["preprocess UDF"] / results["kapacitor mean()"]
    print(f"preprocess UDF / kapacitor mean(): {ratio:.2f} (the rest of the time is Kapacitor's own: "
          "parsing the writes, grouping, windowing)")
    return results


def sweep_lengths(args):
    types = [t.strip() for t in args.types.split(",") if t.strip()]
    total = args.entities * args.points
    print(f"plan path beside the plain-Python reference, {total:,} points per length, types {','.join(types)}, "
          f"best of {args.repeat}, one core")
    print(f"{'window':>7} {'plan points/s':>14} {'python points/s':>16} {'plan/python':>12}")
    worst = math.inf
    figures = {}
    for length in (int(v) for v in args.lengths.split(",")):
        rows = make_windows(max(1, total // length), length)
        lists = rows.tolist()
        plan = total / measure("plan", types, rows, lists, args.repeat)
        python = total / measure("python", types, rows, lists, args.repeat)
        worst = min(worst, plan / python)
        print(f"{length:>7} {plan:>14,.0f} {python:>16,.0f} {plan / python:>12.2f}")
        figures[length] = (plan, python)
    print(f"worst plan/python: {worst:.2f} (target: >= 1.0 at every length)")
    return {"lengths": figures}


def main(argv=None):
    """Run; the figures printed: points/s by path (``paths``), by pipeline (``through_kapacitor``, with
    ``--through-kapacitor``), or (plan, python) points/s by window length (``lengths``, with ``--lengths``)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--entities", type=int, default=10_000)
    parser.add_argument("--points", type=int, default=30)
    parser.add_argument("--types", default="avg,min,max,trend,anomprob")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--paths", default=",".join(PATHS), help="comma-separated subset of " + ", ".join(PATHS))
    parser.add_argument("--through-kapacitor", action="store_true", help="also measure through real Kapacitor")
    parser.add_argument("--lengths", help="comma-separated window lengths: plan beside python at each")
    parser.add_argument("--smoke", action="store_true", help="200 entities, one repeat: that it runs, not a figure")
    args = parser.parse_args(argv)
    if args.smoke:
        args.entities, args.repeat = 200, 1
    if args.lengths:
        return sweep_lengths(args)

    types = [t.strip() for t in args.types.split(",") if t.strip()]
    paths = [p.strip() for p in args.paths.split(",") if p.strip()]
    if "python" in paths and not set(types) <= set(PYTHON):
        print(f"python reference covers only {', '.join(PYTHON)}; skipping it", file=sys.stderr)
        paths.remove("python")
    rows = make_windows(args.entities, args.points)
    lists = rows.tolist()  # what the UDF holds after decoding Kapacitor's points
    points = args.entities * args.points

    print(f"preprocess throughput: {args.entities} entities x {args.points} points, "
          f"types {','.join(types)}, best of {args.repeat}, one core")
    print(f"{'path':<10} {'seconds':>9} {'points/s':>14} {'vs python':>10}")
    figures = {path: points / measure(path, types, rows, lists, args.repeat) for path in paths}
    for path, rate in figures.items():
        ratio = f"{rate / figures['python']:.1f}x" if "python" in figures else "-"
        print(f"{path:<10} {points / rate:>9.3f} {rate:>14,.0f} {ratio:>10}")
    print(f"target (library, issue 4): >= {TARGET_POINTS_PER_SECOND:,} points/s")

    result = {"paths": figures}
    if args.through_kapacitor:
        result["through_kapacitor"] = measure_through_kapacitor(args, types)
    else:
        print("(pass --through-kapacitor, with the stack running, for the figure through real Kapacitor)")
    return result


if __name__ == "__main__":
    main()
