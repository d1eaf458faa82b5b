"""How well per-entity models predict each device, against the textbook, through the real stack.

For every data set of ``ml_datasets`` and every configuration of ``@train()``
below, the set is replayed as a user would replay it: the training rows are
written to Kapacitor (its ``/write`` endpoint, in time order, one second per
row), a stream task groups them by entity into one window of exactly those
rows and sends each to ``@train()``; once every window is trained, the later
rows go through a second task's ``@predict()``, and the predictions are read
back from InfluxDB. The mean absolute error over every predicted row is
printed beside the simplest honest baselines, fitted on the same training
rows with a line of numpy:

- per-entity least squares (one ``lstsq`` per entity);
- one pooled least-squares model for all entities;
- least squares on each entity's first 75 % only (what the product deployed
  before it refitted on the whole window);
- the product's own fleet-wide model (the ``__fleet__`` document).

Ratios are to per-entity least squares (lower is better), and to the better
of per-entity and pooled. A second table says, per set, where ``auto`` loses:
its ratio to per-entity and to pooled least squares, the forms its entities
deployed, and how many borrowed from the fleet (``Shrinkage`` in the trained
point) — read from the trained-model points, so through the stack too.

``--loso`` closes with the leave-one-set-out check of the defaults the fleet's
guard rests on (``udfs.learn.evidence``: the windows of evidence it needs, ``MIN_WINDOWS``, its ``LEVEL``
and where its origins start, ``START``; ``udfs.learn.shrinkage.BLEND``, the share of the
entity's own least squares in what it borrows), in process: for every real panel, the setting with
the lowest mean ratio of ``auto`` over the *other* real panels, and how it
does on the one left out, beside the shipped default.

``--orders K`` replays every set in K orders of its entities, the order their windows are trained in
(``orderings``): order 0 as stored, the others seeded permutations. A fleet's windows come in no
particular order, and what it lends depends on it (what the fleet has learnt, and what its guard has seen,
by each window). Per set, the ratio of every order, their mean and the worst; ``--loso`` scores each
setting by its mean over the orders.

``--in-process`` runs the same replay without a stack: the same ``Trainer``
and ``Predictor`` the UDFs use, windows in the same order, the same times.
The two paths give the same numbers (``tests/integration/test_ml_quality.py``
checks it on one set), so the in-process path is for fast iteration and the
stack path is the evidence.

Run: ``python bench/ml_quality.py`` (stack running: ``tickml stack
start``), or ``python bench/ml_quality.py --in-process``; ``--sets`` and
``--configs`` pick by name. The real panels need ``pip install -e .[bench]``.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import itertools
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
import ml_datasets  # noqa: E402
from ml_datasets import DataSet  # noqa: E402
from udfs.learn import FLEET_KEY, ModelStore, NoModel, Predictor, TrainConfig, Trainer, model_fields  # noqa: E402
from udfs.learn import evidence, shrinkage  # noqa: E402

SECOND = 10**9
# Options of @train(), as a TICKscript would set them.
CONFIGS: dict[str, dict[str, str]] = {
    "linear": {"algorithm": "linear"},
    "linear+shrink": {"algorithm": "linear", "shrinkage": "auto"},
    "auto": {"algorithm": "auto"},
    "auto-noshrink": {"algorithm": "auto", "shrinkage": "off"},
}
# The train UDF's defaults for what the options above leave out.
FLEET_RETRAIN_EVERY = 100
FLEET_ROWS_PER_WINDOW = 20


@dataclass
class Result:
    """Predictions of one configuration on one set: ``predicted[e]`` aligns with the entity's test rows (NaN = none)."""

    predicted: list[np.ndarray]
    fleet: np.ndarray | None  # the fleet model's predictions of every test row, entity after entity
    trained: dict[str, dict]  # entity -> the trained-model point of its window (Status, MachineLearningAlgorithm ...)


# Kapacitor's window().align() truncates times as Go does, from Go's zero time (year 1), not from the Unix
# epoch: 62,135,596,800 s earlier, a multiple of most periods but not of 7 s or 14 s, where windows aligned
# to the epoch lost their first 4 rows.
GO_ZERO_TIME = -62_135_596_800 * SECOND


def base_time(dataset: DataSet) -> int:
    """A start aligned to the window period as Kapacitor aligns it, so one window holds exactly the training rows.

    >>> dataset = DataSet("d", "", ("x",), "y", (ml_datasets.Entity("e", np.zeros((7, 1)), np.zeros(7),
    ...                                                              np.zeros((2, 1)), np.zeros(2)),))
    >>> (base_time(dataset) - GO_ZERO_TIME) % (7 * SECOND)
    0
    """
    period = dataset.train_rows * SECOND
    return ((time.time_ns() - GO_ZERO_TIME) // period - 2) * period + GO_ZERO_TIME


def orderings(dataset: DataSet, orders: int) -> list[DataSet]:
    """The set with its entities in ``orders`` orders: as stored, then permutations drawn by
    ``numpy.random.default_rng(1)``, ``(2)`` .... Both paths train windows entity after entity in the order
    ``dataset.entities`` lists them, so this is the one place either is reordered.

    >>> dataset = ml_datasets.alike()
    >>> first, second = orderings(dataset, 2)
    >>> first is dataset, sorted(e.key for e in second.entities) == sorted(e.key for e in dataset.entities)
    (True, True)
    >>> [e.key for e in second.entities] != [e.key for e in dataset.entities]
    True
    """
    return [dataset] + [dataclasses.replace(dataset, entities=tuple(
        dataset.entities[i] for i in np.random.default_rng(order).permutation(len(dataset.entities))))
        for order in range(1, orders)]


# -- baselines ----------------------------------------------------------------

def _lstsq(X: np.ndarray, y: np.ndarray) -> np.ndarray:
    A = np.column_stack([np.ones(len(X)), X])
    beta, *_ = np.linalg.lstsq(A, y, rcond=None)
    return beta


def per_entity_ls(dataset: DataSet) -> list[np.ndarray]:
    out = []
    for e in dataset.entities:
        beta = _lstsq(e.X_train, e.y_train)
        out.append(beta[0] + e.X_test @ beta[1:])
    return out


def first_part_ls(dataset: DataSet, fraction: float = 0.75) -> list[np.ndarray]:
    out = []
    for e in dataset.entities:
        n = int(round(len(e.y_train) * fraction))
        beta = _lstsq(e.X_train[:n], e.y_train[:n])
        out.append(beta[0] + e.X_test @ beta[1:])
    return out


def pooled_ls(dataset: DataSet) -> list[np.ndarray]:
    beta = _lstsq(np.vstack([e.X_train for e in dataset.entities]),
                  np.concatenate([e.y_train for e in dataset.entities]))
    return [beta[0] + e.X_test @ beta[1:] for e in dataset.entities]


def mae(dataset: DataSet, predicted: list[np.ndarray]) -> tuple[float, int]:
    """Mean absolute error over predicted rows, and how many rows had no prediction."""
    errors = np.concatenate([np.abs(e.y_test - p) for e, p in zip(dataset.entities, predicted)])
    missing = int(np.isnan(errors).sum())
    return float(np.nanmean(errors)), missing


# -- the product, in process --------------------------------------------------

def train_config(dataset: DataSet, options: dict[str, str]) -> TrainConfig:
    return TrainConfig(independentvariables=dataset.features, dependentvariable=dataset.target, **options)


def in_process(dataset: DataSet, options: dict[str, str], t0: int | None = None) -> Result:
    """The replay without a stack: windows in entity order, as the stack path writes their closing points."""
    t0 = base_time(dataset) if t0 is None else t0
    trainer = Trainer(train_config(dataset, options), ModelStore(), fleet_retrain_every=FLEET_RETRAIN_EVERY,
                      fleet_rows_per_window=FLEET_ROWS_PER_WINDOW)
    times = t0 + np.arange(dataset.train_rows) * SECOND
    trained = {}
    for e in dataset.entities:
        columns = {f: e.X_train[:, j] for j, f in enumerate(dataset.features)} | {dataset.target: e.y_train}
        outcome = trainer.train_window(e.key, columns, times=times)
        trained[e.key] = {"Status": outcome.status} if outcome.challenger is None else \
            {**model_fields(outcome.challenger, deployed=outcome.deployed), "Status": outcome.status}
    predictor = Predictor(trainer.store)
    predicted = []
    for e in dataset.entities:
        try:
            predicted.append(predictor.predict_batch(e.key, e.X_test)[0])
        except NoModel:
            predicted.append(np.full(len(e.y_test), np.nan))
    return Result(predicted, _fleet_predictions(trainer.store, dataset), trained)


def _fleet_predictions(store: ModelStore, dataset: DataSet) -> np.ndarray | None:
    model = store.model(FLEET_KEY)
    if model is None:
        return None
    with np.errstate(all="ignore"):
        return model.predict_rows(np.vstack([e.X_test for e in dataset.entities]))


# -- the product, through the stack -------------------------------------------

TRAIN_TASK = """
dbrp "telemetry"."autogen"

stream
    |from()
        .measurement('{measurement}_train')
        .groupBy('entity')
    |window()
        .period({period}s)
        .every({period}s)
        .align()
    @train()
{options}
    |influxDBOut()
        .database('telemetry')
        .retentionPolicy('autogen')
        .measurement('{measurement}_models')
        .flushInterval(1s)
"""

PREDICT_TASK = """
dbrp "telemetry"."autogen"

stream
    |from()
        .measurement('{measurement}_test')
        .groupBy('entity')
    @predict()
        .model('{model}')
    |influxDBOut()
        .database('telemetry')
        .retentionPolicy('autogen')
        .measurement('{measurement}_predictions')
        .flushInterval(1s)
"""


def _line(measurement: str, entity: str, names, values, t: int) -> str:
    fields = ",".join(f"{n}={float(v)!r}" for n, v in zip(names, values))
    return f"{measurement},entity={entity} {fields} {t}"


def through_stack(dataset: DataSet, configs: dict[str, dict[str, str]], t0: int | None = None, *,
                  timeout: float = 600.0) -> dict[str, Result]:
    """The replay through the running stack's Kapacitor, UDFs and InfluxDB, every configuration at once.

    Each configuration gets a train and a predict task of its own over
    measurements of its own, so they run side by side without sharing state.
    """
    for folder in ("tests",):
        if str(ROOT / folder) not in sys.path:
            sys.path.insert(0, str(ROOT / folder))

    from tickml.influx import Influx
    from tickml.kapacitor import Kapacitor
    from stackutil import wait_until

    t0 = base_time(dataset) if t0 is None else t0
    run_id = f"{time.time_ns() // 10**6 % 10**9}"
    kapacitor, influx = Kapacitor(), Influx()
    names = (*dataset.features, dataset.target)
    closing = t0 + dataset.train_rows * SECOND
    runs = {name: (f"mlq_{dataset.name}_{i}_{run_id}", f"mlq-{dataset.name}-{i}-{run_id}")
            for i, name in enumerate(configs)}

    def write(lines: list[str]) -> None:
        for i in range(0, len(lines), 20_000):
            kapacitor.write(lines[i:i + 20_000])

    def count(measurement: str) -> int:
        rows = influx.query(f'SELECT count(*) FROM "{measurement}"')
        # A field with no point yet counts as null (InfluxDB's row for count(*) names every field).
        return max((v for k, v in rows[0].items() if k.startswith("count_") and v is not None), default=0) \
            if rows else 0

    defined = []
    try:
        for name, (measurement, model) in runs.items():
            options = [f"        .model('{model}')", f"        .dependentvariable('{dataset.target}')",
                       f"        .independentvariables('{','.join(dataset.features)}')"]
            options += [f"        .{k}('{v}')" for k, v in configs[name].items()]
            for suffix, script in (("train", TRAIN_TASK.format(measurement=measurement, period=dataset.train_rows,
                                                                options="\n".join(options))),
                                   ("predict", PREDICT_TASK.format(measurement=measurement, model=model))):
                kapacitor._call("POST", "/tasks", {"id": f"{measurement}_{suffix}", "type": "stream",
                                                   "status": "enabled", "script": script})
                defined.append(f"{measurement}_{suffix}")
        lines = []
        for measurement, _ in runs.values():
            lines += [_line(f"{measurement}_train", e.key, names, [*e.X_train[i], e.y_train[i]], t0 + i * SECOND)
                      for i in range(dataset.train_rows) for e in dataset.entities]
            # One point per entity past its window closes it; the windows close in entity order (see orderings).
            lines += [_line(f"{measurement}_train", e.key, names, [*e.X_test[0], e.y_test[0]], closing)
                      for e in dataset.entities]
        write(lines)
        for measurement, _ in runs.values():
            wait_until(lambda: count(f"{measurement}_models") >= len(dataset.entities), timeout=timeout,
                       what=f"{len(dataset.entities)} trained windows of {dataset.name} ({measurement})")
        time.sleep(1.5)  # past the predictor's 1 s refresh of what is on disk
        write([_line(f"{measurement}_test", e.key, dataset.features, e.X_test[i], closing + i * SECOND)
               for measurement, _ in runs.values() for i in range(dataset.test_rows) for e in dataset.entities])
        expected = dataset.test_rows * len(dataset.entities)
        results = {}
        for name, (measurement, model) in runs.items():
            wait_until(lambda: count(f"{measurement}_predictions") >= expected, timeout=timeout,
                       what=f"{expected} predictions of {dataset.name} ({measurement})")
            rows = influx.query(f'SELECT "Hyperprediction" FROM "{measurement}_predictions" GROUP BY "entity"')
            by_point = {(r["entity"], r["time"]): r["Hyperprediction"] for r in rows}
            predicted = [np.array([by_point.get((e.key, closing + i * SECOND), np.nan)
                                   for i in range(dataset.test_rows)]) for e in dataset.entities]
            store = ModelStore(ROOT / ".stack" / "data" / "models" / model)
            trained = {r["entity"]: r for r in influx.query(f'SELECT * FROM "{measurement}_models" GROUP BY "entity"')}
            results[name] = Result(predicted, _fleet_predictions(store, dataset), trained)
        return results
    finally:
        for task in defined:
            kapacitor.delete(task)


# -- report -------------------------------------------------------------------

def evaluate(dataset: DataSet, configs: dict[str, dict[str, str]],
             stack: bool) -> tuple[dict[str, tuple[float, int]], dict[str, Result]]:
    """MAE (and rows missing a prediction) of every configuration and baseline, and each configuration's result."""
    out = {"per-entity LS": mae(dataset, per_entity_ls(dataset)), "pooled LS": mae(dataset, pooled_ls(dataset)),
           "LS on first 75%": mae(dataset, first_part_ls(dataset))}
    t0 = base_time(dataset)
    results = through_stack(dataset, configs, t0) if stack else \
        {name: in_process(dataset, options, t0) for name, options in configs.items()}
    for name, result in results.items():
        out[name] = mae(dataset, result.predicted)
    # The fleet model of the first configuration (by default plain least squares over the fleet's rows).
    fleet = next(iter(results.values())).fleet
    if fleet is not None:
        truth = np.concatenate([e.y_test for e in dataset.entities])
        out["fleet model"] = (float(np.mean(np.abs(truth - fleet))), 0)
    return out, results


def choices(*results: Result) -> tuple[str, int, int]:
    """What a configuration's entities deployed (summed over ``results``, one per order): the forms (most
    common first, with counts; ``+own``: a form the fleet backs averaged with the entity's own least squares),
    how many borrowed from the fleet (a ``Shrinkage`` field), and how many were trained."""
    trained = [t for result in results for t in result.trained.values() if t.get("MachineLearningAlgorithm")]
    forms = Counter(t["MachineLearningAlgorithm"].replace(" Regression", "").lower()
                    + ("(halflife)" if _present(t.get("Halflife")) else "")
                    + ("+own" if _present(t.get("Blend")) and not _present(t.get("Shrinkage")) else "")
                    + (f"/{t['Transformtype']}" if t.get("Transformtype") else "") for t in trained)
    shrunk = sum(1 for t in trained if _present(t.get("Shrinkage")))
    return ", ".join(f"{form} {n}" for form, n in forms.most_common(3)), shrunk, len(trained)


def _present(value) -> bool:
    # A field some entities' points lack reads back from InfluxDB as None for them.
    return value is not None and not np.isnan(float(value))


# -- leave one set out ----------------------------------------------------------

MIN_WINDOWS = (10, 15, 20)   # windows of evidence before the guard lends anything
LEVELS = (0.05, 0.2)         # the guard's test level (Bonferroni-corrected over the board's options)
STARTS = (0.5, 0.75)         # where the board's origins start, as a share of the window
# The entity's own least squares' share in what it borrows (0: none). 0 and 0.75 were in the grid too: with
# MIN_WINDOWS 10 and every one of the four, over 8 orders, each panel left out chose the same setting as here.
BLENDS = (0.25, 0.5)


@contextlib.contextmanager
def guard(min_windows: int, level: float, start: float, blend: float):
    """The trainer's guard with other windows, level, start and blend (module defaults, read when a trainer is
    made or a window chooses)."""
    saved = evidence.MIN_WINDOWS, evidence.LEVEL, evidence.START, shrinkage.BLEND
    evidence.MIN_WINDOWS, evidence.LEVEL, evidence.START, shrinkage.BLEND = min_windows, level, start, blend
    try:
        yield
    finally:
        evidence.MIN_WINDOWS, evidence.LEVEL, evidence.START, shrinkage.BLEND = saved


def leave_one_set_out(sets: list[DataSet], orders: int = 1) -> dict[tuple[str, tuple], list[float]]:
    """For every set, the setting chosen on the others, and its ratio on the set left out; a set's ratio is
    its mean over ``orders`` orders of its entities (``orderings``). Returns each set's ratio per setting and
    order.

    Chosen in the goal's own order (issue 25: never worse than per-entity
    least squares, then better on average): fewest other panels where
    ``auto`` is worse than least squares, then the lowest mean ratio over
    them. The plain lowest mean is printed beside it: where settings nearly
    tie on the mean it picks by noise, and the row shows what that costs.
    """
    settings = list(itertools.product(MIN_WINDOWS, LEVELS, STARTS, BLENDS))
    by_order = {}
    for dataset in sets:
        reference = mae(dataset, per_entity_ls(dataset))[0]
        t0 = base_time(dataset)
        for setting in settings:
            with guard(*setting):
                by_order[dataset.name, setting] = [mae(d, in_process(d, CONFIGS["auto"], t0).predicted)[0] / reference
                                                   for d in orderings(dataset, orders)]
    ratio = {key: float(np.mean(r)) for key, r in by_order.items()}
    default = (evidence.MIN_WINDOWS, evidence.LEVEL, evidence.START, shrinkage.BLEND)
    print(f"\nLeave one set out (in process): the guard's (MIN_WINDOWS, LEVEL, START, BLEND) chosen on the other "
          f"{len(sets) - 1} real panels, from {settings}"
          + (f", each panel's ratio its mean over {orders} orders of its entities" if orders > 1 else "")
          + "; by the goal's order (fewest panels worse than least squares, then the "
          "mean ratio of auto), and by the mean ratio alone")
    print(f"{'left out':<18}{'goal order':>24}{'ratio there':>14}{'mean alone':>24}{'ratio there':>14}"
          f"{'default':>24}{'ratio there':>14}")
    held, held_mean = [], []
    for dataset in sets:
        others = [d.name for d in sets if d is not dataset]

        def mean(st):
            return np.mean([ratio[o, st] for o in others])
        chosen = min(settings, key=lambda st: (sum(ratio[o, st] > 1.0 + 1e-9 for o in others), mean(st), st != default))
        by_mean = min(settings, key=lambda st: (mean(st), st != default))
        held.append(ratio[dataset.name, chosen])
        held_mean.append(ratio[dataset.name, by_mean])
        print(f"{dataset.name:<18}{str(chosen):>24}{ratio[dataset.name, chosen]:>14.3f}{str(by_mean):>24}"
              f"{ratio[dataset.name, by_mean]:>14.3f}{str(default):>24}{ratio[dataset.name, default]:>14.3f}")
    print(f"{'mean':<18}{'':>24}{np.mean(held):>14.3f}{'':>24}{np.mean(held_mean):>14.3f}{'':>24}"
          f"{np.mean([ratio[d.name, default] for d in sets]):>14.3f}")
    print(f"{'worst':<18}{'':>24}{np.max(held):>14.3f}{'':>24}{np.max(held_mean):>14.3f}{'':>24}"
          f"{np.max([ratio[d.name, default] for d in sets]):>14.3f}")
    print("per setting, over all real panels, mean ratio of auto (panels worse than least squares): "
          + ", ".join(f"{st}: {np.mean([ratio[d.name, st] for d in sets]):.3f} "
                      f"({sum(ratio[d.name, st] > 1.0 + 1e-9 for d in sets)}"
                      + (f"; panel-orders: {sum(r > 1.0 + 1e-9 for d in sets for r in by_order[d.name, st])}"
                         f" of {len(sets) * orders}" if orders > 1 else "") + ")" for st in settings))
    return by_order


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--in-process", action="store_true", help="no stack: the library the UDFs use, in process")
    parser.add_argument("--sets", nargs="*", help="data set names (default: all)")
    parser.add_argument("--configs", nargs="*", choices=list(CONFIGS), help="configurations (default: all)")
    parser.add_argument("--orders", type=int, default=1,
                        help="orders of each set's entities to train in: as stored, then seeded permutations")
    parser.add_argument("--loso", action="store_true",
                        help="close with the leave-one-set-out check of the guard's defaults (in process)")
    args = parser.parse_args(argv)
    configs = {k: CONFIGS[k] for k in (args.configs or CONFIGS)}
    sets = [s for s in ml_datasets.all_sets() if not args.sets or s.name in args.sets]
    path = "in process" if args.in_process else "through the running stack (Kapacitor /write, @train, @predict, InfluxDB)"
    print(f"MAE of predictions on each entity's later rows, {path}; ratio = MAE / per-entity least squares"
          + (f"; mean over {args.orders} orders of the entities (order 0: as stored)" if args.orders > 1 else "")
          + "\n")
    columns = list(configs) + ["per-entity LS", "pooled LS", "LS on first 75%", "fleet model"]
    print(f"{'data set':<18}" + "".join(f"{c:>16}" for c in columns) + f"{'best/min(LS,pool)':>19}")
    ratios: dict[str, list[float]] = {c: [] for c in columns}
    worst: dict[str, list[float]] = {c: [] for c in columns}  # per set, its worst order
    losses = []
    for dataset in sets:
        started = time.perf_counter()
        replays = [evaluate(d, configs, stack=not args.in_process) for d in orderings(dataset, args.orders)]
        # Per column, the mean MAE over the orders (and the most rows any order missed), and the worst order's.
        result = {c: (float(np.mean([r[c][0] for r, _ in replays])), max(r[c][1] for r, _ in replays))
                  for c in columns if all(c in r for r, _ in replays)}
        reference = result["per-entity LS"][0]
        better = min(reference, result["pooled LS"][0])

        def ratio_cells(result: dict[str, tuple[float, int]]) -> str:
            return "".join(f"{result[c][0] / reference:>15.3f}" + ("*" if result[c][1] else " ") if c in result
                           else f"{'-':>16}" for c in columns)
        for c in columns:
            if c in result:
                ratios[c].append(result[c][0] / reference)
                worst[c].append(max(r[c][0] for r, _ in replays) / reference)
        best_config = min(configs, key=lambda c: result[c][0])
        print(f"{dataset.name:<18}" + "".join(f"{result[c][0]:>16.5g}" if c in result else f"{'-':>16}"
                                              for c in columns))
        if args.orders > 1:
            for order, (r, _) in enumerate(replays):
                print(f"{f'  order {order}':<18}" + ratio_cells(r))
        print(f"{'  ratio':<18}" + ratio_cells(result)
              + f"{result[best_config][0] / better:>19.3f}  ({best_config}, {time.perf_counter() - started:.0f} s)")
        if args.orders > 1:
            print(f"{'  worst order':<18}" + "".join(f"{w[-1]:>15.3f} " if c in result else f"{'-':>16}"
                                                    for c, w in worst.items()))
        if "auto" in configs:
            losses.append((dataset, [r["auto"][0] / reference for r, _ in replays],
                           result["auto"][0] / result["pooled LS"][0],
                           *choices(*[runs["auto"] for _, runs in replays])))
    print(f"\n{'mean ratio':<18}" + "".join(f"{np.mean(v):>16.3f}" if v else f"{'-':>16}" for v in ratios.values()))
    print(f"{'worst ratio':<18}" + "".join(f"{np.max(v):>16.3f}" if v else f"{'-':>16}" for v in ratios.values()))
    if args.orders > 1:
        print(f"{'worst set-order':<18}" + "".join(f"{np.max(v):>16.3f}" if v else f"{'-':>16}"
                                                   for v in worst.values()))
    print("\n* some rows had no prediction (no entity or fleet model); MAE over the rows that had one.")
    if losses:
        print("\nWhere auto loses: its MAE over per-entity and over pooled least squares, the forms its entities "
              "deployed, and how many borrowed from the fleet (shrinkage)"
              + (f"; auto/LS the mean over {args.orders} orders (each order's at the end), forms and borrowers "
                 "counted over every order" if args.orders > 1 else ""))
        print(f"{'data set':<18}{'kind':>6}{'auto/LS':>9}{'auto/pool':>10}{'shrunk':>10}  forms deployed")
        for dataset, vs_ls, vs_pool, forms, shrunk, trained in losses:
            kind = "gen" if dataset.name.startswith("gen_") else "real"
            print(f"{dataset.name:<18}{kind:>6}{np.mean(vs_ls):>9.3f}{vs_pool:>10.3f}{f'{shrunk}/{trained}':>10}  "
                  f"{forms}" + (f"  (orders: {', '.join(f'{r:.3f}' for r in vs_ls)})" if args.orders > 1 else ""))
        real = [(dataset.name, vs_ls) for dataset, vs_ls, *_ in losses if not dataset.name.startswith("gen_")]
        if real:
            means = [np.mean(vs_ls) for _, vs_ls in real]
            print(f"real panels: {len(real)}, mean auto/LS {np.mean(means):.3f}, worst {np.max(means):.3f}, "
                  f"at most 1.0 on {sum(r <= 1.0 + 1e-9 for r in means)}", end="")
            if args.orders > 1:
                name, order, r = max(((name, order, r) for name, vs_ls in real for order, r in enumerate(vs_ls)),
                                     key=lambda t: t[2])
                print(f" (each panel's mean over {args.orders} orders); worst panel-order {r:.3f} ({name}, order "
                      f"{order}), over 1.0 in {sum(r > 1.0 + 1e-9 for _, vs_ls in real for r in vs_ls)} of "
                      f"{len(real) * args.orders} panel-orders", end="")
            print()
    for dataset in sets:
        print(f"  {dataset.name}: {dataset.about}")
    if args.loso:
        leave_one_set_out([d for d in sets if not d.name.startswith("gen_")], args.orders)
    return 0


if __name__ == "__main__":
    sys.exit(main())
