"""Champion/challenger training, one entity window at a time.

For each window the trainer fits a *challenger* on the first
``1 - holdout_fraction`` of the rows in time order and scores it on the rest
(the hold-out). The entity's current *champion* is scored on the same
hold-out rows; the challenger replaces it only if it scores strictly better
(``metrics.score_key``). Both scores are returned, and the deployed document
keeps the score of the model it replaced.

Why a time-ordered split and not a random one: rows in a window are
autocorrelated, so a random split leaks the near future into training and
flatters every model. Taking the newest rows as hold-out asks the question
that matters (how well does the model predict what comes next), needs no
seed, and, because a champion was trained on the *start* of an earlier
window, it has never seen the current hold-out either, so the comparison is
fair when windows slide forward.

A window that cannot judge a challenger (see ``reasons``) leaves the champion
in place; the outcome carries the reason and the trainer counts it.
"""

from __future__ import annotations

import math
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Callable, Mapping, Sequence

import numpy as np

from .algorithms import ALGORITHMS, AUTO, CLASSIFICATION, algorithms_for, search
from .compiled import CompiledModel
from .config import TrainConfig
from .document import SCHEMA_VERSION
from .fleet import FLEET_KEY, FleetRows
from .metrics import score_key, scores
from .reasons import BadWindow
from .scaling import apply_minmax, fit_minmax
from .store import ModelStore

DEPLOYED = "deployed"
KEPT = "kept"
BAD = "bad"


@dataclass
class TrainOutcome:
    """What one window did to one entity.

    ``status`` is ``deployed`` (challenger became champion), ``kept`` (the
    champion scored better or equal) or ``bad`` (no challenger; see ``reason``).
    ``challenger`` is the challenger's document (None for a bad window);
    ``champion_score`` is the previous champion's score on the same hold-out
    (None when there was no comparable champion).
    """

    key: str
    status: str
    window_rows: int
    reason: str | None = None
    detail: str = ""
    challenger: dict | None = None
    challenger_score: dict | None = None
    champion_score: dict | None = None
    dropped_rows: int = 0

    @property
    def deployed(self) -> bool:
        return self.status == DEPLOYED


@dataclass
class _Window:
    X: np.ndarray
    y: np.ndarray
    n_train: int
    window_rows: int
    dropped_rows: int = 0


class Trainer:
    """Trains per-entity challengers and keeps the better model in a store.

    Parameters
    ----------
    config
        What to learn (see ``TrainConfig``).
    store
        Where champions live; shared with the predict process.
    fleet_max_rows, fleet_rows_per_window, fleet_retrain_every
        The fleet-wide model: rows kept, rows sampled per good window, and how
        many good windows between fleet retrains (0 turns the fleet model off).
    wall_clock
        Seconds since the epoch, for ``created`` (replaceable in tests).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> x = rng.random(100)
    >>> trainer = Trainer(TrainConfig(["x"], "y"), ModelStore())
    >>> outcome = trainer.train_window("dev-1", {"x": x, "y": 3 * x + 1})
    >>> outcome.status, round(trainer.store.model("dev-1").predict_row([0.5]), 6)
    ('deployed', 2.5)
    >>> trainer.train_window("dev-1", {"x": x, "y": np.ones(100)}).reason
    'constant_target'
    """

    def __init__(self, config: TrainConfig, store: ModelStore, *, fleet_max_rows: int = 50_000,
                 fleet_rows_per_window: int = 20, fleet_retrain_every: int = 100,
                 wall_clock: Callable[[], float] = time.time):
        self.config = config
        self.store = store
        self.fleet_max_rows = fleet_max_rows
        self.fleet_rows_per_window = fleet_rows_per_window
        self.fleet_retrain_every = fleet_retrain_every
        self.wall_clock = wall_clock
        self.counts_: Counter[str] = Counter()
        self.reasons_: Counter[str] = Counter()
        self.fleet_rows_ = FleetRows(len(config.features), fleet_max_rows, fleet_rows_per_window,
                                     config.seed) if fleet_retrain_every else None
        self._windows_since_fleet = 0

    # -- public ----------------------------------------------------------------

    def train_window(self, key: str, columns: Mapping[str, Sequence], times: Sequence | None = None) -> TrainOutcome:
        """Train on one entity's window given as ``field name -> values``.

        ``times`` (any sortable values, one per row) put rows in time order
        first; without them the rows are taken to be in time order already.
        """
        n = _length(columns)
        try:
            window = self._prepare(columns, times, n)
        except BadWindow as bad:
            return self._bad(key, n, bad)
        outcome = self._judge(key, window)
        if outcome.status != BAD and self.fleet_rows_ is not None:
            self.fleet_rows_.add(window.X, window.y)
            self._windows_since_fleet += 1
            if self._windows_since_fleet >= self.fleet_retrain_every:
                self.train_fleet()
        return outcome

    def train_fleet(self) -> TrainOutcome:
        """Train the fleet-wide model (key ``FLEET_KEY``) on the kept rows of all entities."""
        self._windows_since_fleet = 0
        X, y = self.fleet_rows_.rows() if self.fleet_rows_ is not None else (np.empty((0, 0)), np.empty(0))
        try:
            window = self._checked(X, y, window_rows=len(y), dropped=0)
        except BadWindow as bad:
            return self._bad(FLEET_KEY, len(y), bad)
        return self._judge(FLEET_KEY, window)

    def export_state(self) -> dict:
        """Counters and every model, JSON-able (for Kapacitor snapshots)."""
        return {"schema": SCHEMA_VERSION, "counts": dict(self.counts_), "reasons": dict(self.reasons_),
                "store": self.store.export_state()}

    def import_state(self, state: dict) -> None:
        """Restore :meth:`export_state`'s output; a bad state raises ValueError and changes nothing."""
        if not isinstance(state, dict) or state.get("schema") != SCHEMA_VERSION:
            raise ValueError(f"trainer state must be an object with schema {SCHEMA_VERSION}")
        counts, reasons = state.get("counts", {}), state.get("reasons", {})
        if not all(isinstance(v, int) for v in [*counts.values(), *reasons.values()]):
            raise ValueError("trainer state: counts and reasons must be integers")
        self.store.import_state(state.get("store"))
        self.counts_ = Counter(counts)
        self.reasons_ = Counter(reasons)

    # -- steps -----------------------------------------------------------------

    def _prepare(self, columns, times, n) -> _Window:
        config = self.config
        missing = [f for f in config.inputs if f not in columns]
        if missing:
            raise BadWindow("missing_field", f"window has no field {', '.join(map(repr, missing))}")
        arrays = {}
        for name in config.inputs:
            try:
                arrays[name] = np.asarray(columns[name], dtype=float)
            except (TypeError, ValueError):
                sample = next((v for v in columns[name] if not _is_number(v)), None)
                raise BadWindow("non_numeric", f"field {name!r} holds {sample!r}") from None
            if arrays[name].shape != (n,):
                raise ValueError(f"field {name!r} has shape {arrays[name].shape}, expected ({n},)")
            if not np.isfinite(arrays[name]).all():
                bad = arrays[name][~np.isfinite(arrays[name])][0]
                raise BadWindow("non_finite", f"field {name!r} holds {bad!r}")
        if times is not None:
            order = np.argsort(np.asarray(times), kind="stable")
            arrays = {k: v[order] for k, v in arrays.items()}
        X = np.column_stack([arrays[f] for f in config.features]) if n else np.empty((0, len(config.features)))
        if config.rule is not None:
            y = config.rule.apply(arrays)
        else:
            y = arrays[config.target]
            if config.task == CLASSIFICATION and not np.isin(y, (0.0, 1.0)).all():
                raise BadWindow("target_not_binary", f"{config.target!r} holds {y[~np.isin(y, (0.0, 1.0))][0]!r}")
        keep = config.transform.positive_rows(X, y)
        dropped = int(n - keep.sum())
        return self._checked(X[keep], y[keep], window_rows=n, dropped=dropped)

    def _checked(self, X, y, *, window_rows, dropped) -> _Window:
        config = self.config
        n, k = len(y), len(config.features)
        after = f" after dropping {dropped} non-positive rows for {config.transform.name}" if dropped else ""
        if n < k + 1:
            raise BadWindow("too_few_rows", f"{n} rows{after} for {k} features (need {k + 1})")
        if np.all(y == y[0]):
            raise BadWindow("constant_target", f"{config.target!r} is always {y[0]!r}")
        n_train = int(round(n * (1.0 - config.holdout_fraction)))
        if n_train < k + 1 or n_train >= n:
            raise BadWindow("too_few_rows", f"training part has {n_train} of {n} rows{after}; "
                                            f"need {k + 1} and at least one hold-out row")
        if np.all(y[:n_train] == y[0]):
            raise BadWindow("constant_target", f"{config.target!r} is always {y[0]!r} in the training part")
        return _Window(X, y, n_train, window_rows, dropped)

    def _judge(self, key: str, w: _Window) -> TrainOutcome:
        config = self.config
        X_fit, X_test, y_test = w.X[: w.n_train], w.X[w.n_train:], w.y[w.n_train:]
        try:
            doc, challenger = self._fit(key, X_fit, w.y[: w.n_train], w)
            challenger_score = scores(config.task, y_test, challenger.predict_rows(X_test))
        except BadWindow as bad:
            return self._bad(key, w.window_rows, bad)
        challenger_key = score_key(config.task, challenger_score)
        if challenger_key is None:
            reason = "zero_target_holdout" if config.task != CLASSIFICATION else "fit_failed"
            return self._bad(key, w.window_rows, BadWindow(reason, f"hold-out score {challenger_score}"))
        champion = self.store.model(key)
        champion_score = None
        if champion is not None and champion.features == tuple(config.features) \
                and champion.classify == (config.task == CLASSIFICATION):
            with np.errstate(all="ignore"):
                champion_score = scores(config.task, y_test, champion.predict_rows(X_test))
            champion_key = score_key(config.task, champion_score)
        else:
            champion_key = None  # no champion, or one for other inputs: nothing to defend
        doc["version"] = (champion.version if champion is not None else 0) + 1
        doc["metric"] = challenger_score
        doc["replaced"] = champion_score if champion_key is not None else None
        deploy = champion_key is None or challenger_key < champion_key
        if deploy:
            self.store.put(doc)
        status = DEPLOYED if deploy else KEPT
        self.counts_[status] += 1
        return TrainOutcome(key=key, status=status, window_rows=w.window_rows, challenger=doc,
                            challenger_score=challenger_score, champion_score=champion_score,
                            dropped_rows=w.dropped_rows)

    def _fit(self, key, X, y, w: _Window) -> tuple[dict, CompiledModel]:
        config = self.config
        Z = config.transform.features(X)
        lo, hi = fit_minmax(Z)
        Zs = apply_minmax(Z, lo, hi)
        yt = config.transform.target(y)
        try:
            if config.algorithm == AUTO:
                model = search(algorithms_for(config.task), Zs, yt, task=config.task,
                               modelruns=config.modelruns, seed=config.seed)
            else:
                model = ALGORITHMS[config.algorithm].create(config.task, config.seed).fit(Zs, yt)
        except (ValueError, np.linalg.LinAlgError, FloatingPointError) as exc:
            raise BadWindow("fit_failed", f"{config.algorithm}: {exc}") from None
        if not _all_finite(model.params_):
            raise BadWindow("fit_failed", f"{model.key} produced non-finite parameters")
        hyper = {k: v for k, v in model.hyperparameters().items() if k != "task"}
        doc = {
            "schema": SCHEMA_VERSION, "key": key, "version": 0, "algorithm": model.key,
            "task": config.task, "target": config.target, "features": list(config.features),
            "transform": config.transform.name, "min": lo.tolist(), "max": hi.tolist(),
            "params": model.params_, "hyper": hyper, "metric": {}, "rows": len(y),
            "window_rows": w.window_rows, "created": _iso(self.wall_clock()),
        }
        return doc, CompiledModel(doc)

    def _bad(self, key: str, n: int, bad: BadWindow) -> TrainOutcome:
        self.counts_[BAD] += 1
        self.reasons_[bad.reason] += 1
        return TrainOutcome(key=key, status=BAD, window_rows=n, reason=bad.reason, detail=bad.detail)


def _length(columns: Mapping[str, Sequence]) -> int:
    lengths = {len(v) for v in columns.values()}
    if len(lengths) > 1:
        raise ValueError(f"window columns have different lengths: {sorted(lengths)}")
    return lengths.pop() if lengths else 0


def _is_number(v) -> bool:
    try:
        float(v)
    except (TypeError, ValueError):
        return False
    return True


def _all_finite(value) -> bool:
    if isinstance(value, dict):
        return all(_all_finite(v) for v in value.values())
    if isinstance(value, list):
        return all(_all_finite(v) for v in value)
    if isinstance(value, float):
        return math.isfinite(value)
    return True


def _iso(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")
