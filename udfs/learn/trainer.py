"""Champion/challenger training, one entity window at a time: judge, then refit.

For each window the trainer fits a *challenger* on the first
``1 - holdout_fraction`` of the rows in time order and scores it on the rest
(the hold-out). The entity's current *champion* is scored on the same
hold-out rows; the challenger replaces it only if it scores strictly better
(``metrics.score_key``, with the ``metric`` option). The hold-out only
judges: a challenger that wins is fitted again, the same candidate on every
row of the window, before it is deployed, so the deployed model has seen the
newest rows too. Its document keeps the judged score.

Why a time-ordered split and not a random one: rows in a window are
autocorrelated, so a random split leaks the near future into training and
flatters every model. Taking the newest rows as hold-out asks the question
that matters (how well does the model predict what comes next) and needs no
seed.

Why the champion is judged only on hold-out rows newer than its own: since
deployed models are fitted on their whole window, a champion from an
overlapping earlier window may have seen some of this hold-out. With times,
each document records its newest row (``until``), and the comparison uses the
hold-out rows after it; a champion that saw every one cannot be judged and
the challenger, fitted on newer data, is deployed.

What is fitted: the configured algorithm, or for ``auto`` the candidate
``selection`` chooses on the training part; for regression with shrinkage,
least squares pulled towards the fleet's slopes (``shrinkage``), with the
strength the fleet's evidence chose. What the fleet chooses (the strength,
and for ``auto`` a model form the fleet's windows prefer) passes the no-harm
guard of ``evidence`` first; a form the fleet chose is then one more
candidate for the entity, taken only if its own rolling-origin error beats
its least squares' by more than a standard error (``selection``), since a
form that suits most of a fleet need not suit every device in it.

A window that cannot judge a challenger (see ``reasons``) leaves the champion
in place; the outcome carries the reason and the trainer counts it.

The accuracy gate (``accuracythreshold``, off at 0): a challenger whose
hold-out score, the one its point reports as ``Metricvalue``, fails the
threshold (``metrics.below_threshold``) is not deployed, whatever the champion
scored and also when there is no champion: an entity's first model must pass
too, and until one does the entity has no champion, so predict answers it with
the fleet model (or not at all). The outcome is ``kept`` with the reason
``below_accuracythreshold``. The fleet model passes the same gate, so a
pooled model that fails it answers nobody. A gated window of an entity
without a champion records nothing in the store (there is no document to
carry ``windows_until``), so a replay of it is judged again.

A pinned champion (``tickml models pin``, kept in the store's history) is
never replaced: a challenger that would have been deployed is ``kept`` with
the reason ``pinned``. Every judged window leaves a record in the entity's
history (``history``): the version deployed and why, with its document, or the
challenger kept out and why.

Why a window is skipped when the entity's training has seen its newest row:
history replayed through the task again (a backfill resumed after a stop, the
lead-in a chunk of history starts with, a gap refilled from InfluxDB) brings
windows the entity has been trained or judged on. Training them again would
count them twice and refit the champion on older rows than it has seen. The
champion's document records the newest row of the newest window judged
(``windows_until``, kept up to date also when the champion is kept), and a
window whose newest row is not newer changes nothing (``skipped``). Live
windows always bring a newer row, except a window of a device that fell
silent for a whole ``every``: it holds only rows an earlier window held.
"""

from __future__ import annotations

import time
from collections import Counter
from datetime import datetime, timezone
from typing import Callable, Mapping, Sequence

import numpy as np

from .algorithms import ALGORITHMS, AUTO, CLASSIFICATION
from .candidate import Candidate, Fitted, Prior
from .config import TrainConfig
from .document import SCHEMA_VERSION
from .fleet import FLEET_KEY, FleetKey, FleetRows, document_key
from .metrics import below_threshold, score_key, scores
from .outcome import BAD, DEPLOYED, KEPT, SKIPPED, TrainOutcome
from .history import model_record
from .reasons import BELOW_THRESHOLD, PINNED, BadWindow
from .evidence import FleetBoard, lent, window_ratios
from .selection import averaged, base_candidate, candidates, forms, hedged, outright, search
from . import shrinkage
from .shrinkage import GRID, FleetPrior
from .store import ModelStore
from .window import Window, checked, prepare, window_length

__all__ = ["BAD", "DEPLOYED", "FLEET_MAX_ROWS", "FLEET_RETRAIN_EVERY", "FLEET_ROWS_PER_WINDOW", "KEPT",
           "SKIPPED", "TrainOutcome", "Trainer"]

# The fleet-wide model's defaults, here and for the train UDF's options.
FLEET_MAX_ROWS = 50_000
FLEET_ROWS_PER_WINDOW = 20
FLEET_RETRAIN_EVERY = 100


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
        often it is retrained: after the 1st, 2nd, 4th, 8th ... good window
        (so a small fleet has one early), then every ``fleet_retrain_every``
        good windows (0 turns the fleet model off).
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

    def __init__(self, config: TrainConfig, store: ModelStore, *, fleet_max_rows: int = FLEET_MAX_ROWS,
                 fleet_rows_per_window: int = FLEET_ROWS_PER_WINDOW, fleet_retrain_every: int = FLEET_RETRAIN_EVERY,
                 wall_clock: Callable[[], float] = time.time):
        self.config = config
        self.store = store
        self.fleet_retrain_every = fleet_retrain_every
        self.wall_clock = wall_clock
        self.counts_: Counter[str] = Counter()
        self.reasons_: Counter[str] = Counter()
        self.fleet_rows_ = FleetRows(len(config.features), fleet_max_rows, fleet_rows_per_window,
                                     config.seed) if fleet_retrain_every else None
        self.fleet_prior_ = FleetPrior(len(config.features), config.transform) if config.prior_rows else None
        self.options_ = self._board_options()
        self.board_ = FleetBoard([c.name for c in self.options_], corrections=_corrections(self.options_)) \
            if self.options_ else None
        self._good_windows = 0

    # -- public ----------------------------------------------------------------

    def train_window(self, key: str, columns: Mapping[str, Sequence], times: Sequence | None = None) -> TrainOutcome:
        """Train on one entity's window given as ``field name -> values``.

        ``times`` (any sortable values, one per row) put rows in time order
        first; without them the rows are taken to be in time order already.
        With numeric times, a window whose newest row is not newer than the
        newest of the last window judged for the entity is ``skipped``.
        """
        n = window_length(columns)
        newest = _newest(times)
        # The champion's document, decoded once for this window (a decode is a tenth of a linear window's cost).
        current = self.store.document(key)
        if newest is not None and self._seen(current, newest):
            self.counts_[SKIPPED] += 1
            return TrainOutcome(key=key, status=SKIPPED, window_rows=n)
        try:
            window = prepare(self.config, columns, times, n)
        except BadWindow as bad:
            return self._bad(key, n, bad)
        prior = self._prior()
        outcome = self._judge(key, window, prior, current, newest)
        if outcome.status != BAD:
            if self.board_ is not None:
                self._score_fleet(window, prior)
            if self.fleet_prior_ is not None:
                self.fleet_prior_.add(window.X, window.y)
            if self.fleet_rows_ is not None:
                self.fleet_rows_.add(window.X, window.y)
                self._good_windows += 1
                if self._fleet_due(self._good_windows):
                    self.train_fleet()
        return outcome

    def train_fleet(self) -> TrainOutcome:
        """Train the fleet-wide model (store key ``FLEET_KEY``, a namespace no entity reaches) on the kept
        rows of all entities."""
        X, y = self.fleet_rows_.rows() if self.fleet_rows_ is not None else (np.empty((0, 0)), np.empty(0))
        try:
            window = checked(self.config, X, y, window_rows=len(y), dropped=0)
        except BadWindow as bad:
            return self._bad(FLEET_KEY, len(y), bad)
        return self._judge(FLEET_KEY, window, None, self.store.document(FLEET_KEY))

    def export_state(self, models: bool = True) -> dict:
        """Counters, the fleet's prior and evidence, and every model (unless ``models=False``),
        JSON-able (for Kapacitor snapshots)."""
        state = {"schema": SCHEMA_VERSION, "counts": dict(self.counts_), "reasons": dict(self.reasons_),
                 "store": self.store.export_state(models)}
        if self.fleet_prior_ is not None:
            state["fleet_prior"] = self.fleet_prior_.export_state()
        if self.board_ is not None:
            state["fleet_board"] = self.board_.export_state()
        return state

    def import_state(self, state: dict) -> None:
        """Restore :meth:`export_state`'s output; a bad state raises ValueError and changes nothing."""
        if not isinstance(state, dict) or state.get("schema") != SCHEMA_VERSION:
            raise ValueError(f"trainer state must be an object with schema {SCHEMA_VERSION}")
        counts, reasons = state.get("counts", {}), state.get("reasons", {})
        if not all(isinstance(v, int) for v in [*counts.values(), *reasons.values()]):
            raise ValueError("trainer state: counts and reasons must be integers")
        prior, board = self.fleet_prior_, self.board_
        try:
            if prior is not None and "fleet_prior" in state:
                prior = FleetPrior(len(self.config.features), self.config.transform)
                prior.import_state(state["fleet_prior"])
            # A snapshot from before the board (its "shrinkage_board" kept no paired evidence) starts it empty.
            if board is not None and "fleet_board" in state:
                board = FleetBoard(self.board_.options, corrections=self.board_.corrections)
                # A board that weighed other options (saved before they changed) starts empty too.
                if board.same_options(state["fleet_board"]):
                    board.import_state(state["fleet_board"])
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"trainer state: bad fleet prior or fleet board: {exc}") from None
        self.store.import_state(state.get("store"))
        self.counts_ = Counter(counts)
        self.reasons_ = Counter(reasons)
        self.fleet_prior_, self.board_ = prior, board

    # -- steps -----------------------------------------------------------------

    def _seen(self, doc: dict | None, newest) -> bool:
        """Whether the entity's comparable champion (its document ``doc``) has judged a window reaching ``newest``
        already."""
        if doc is None or doc["features"] != list(self.config.features) \
                or (doc["task"] == CLASSIFICATION) != (self.config.task == CLASSIFICATION):
            return False
        judged = doc.get("windows_until", doc.get("until"))
        return judged is not None and newest <= judged

    def _judge(self, key: str | FleetKey, w: Window, prior: Prior | None, current: dict | None,
               newest=None) -> TrainOutcome:
        """Judge ``w``'s challenger against the champion, whose document (``current``, decoded once for the
        window by the caller) gives its marks, what it saw and what stays if it is kept."""
        config = self.config
        X_fit, y_fit = w.X[: w.n_train], w.y[: w.n_train]
        X_test, y_test = w.X[w.n_train:], w.y[w.n_train:]
        try:
            candidate = self._choose(X_fit, y_fit, prior)
            judged = self._fit(candidate, X_fit, y_fit, prior)
        except BadWindow as bad:
            return self._bad(key, w.window_rows, bad)
        predicted = judged.predict(X_test)
        challenger_score = scores(config.task, y_test, predicted, config.metric)
        challenger_key = score_key(config.task, challenger_score, config.metric)
        if challenger_key is None:
            reason = "zero_target_holdout" if config.task != CLASSIFICATION else "fit_failed"
            return self._bad(key, w.window_rows, BadWindow(reason, f"hold-out score {challenger_score}"))
        champion = self.store.model(key)
        champion_score = champion_key = None
        if champion is not None and champion.features == tuple(config.features) \
                and champion.classify == (config.task == CLASSIFICATION):
            unseen = self._unseen(current, w)
            if unseen.any():
                with np.errstate(all="ignore"):
                    champion_score = scores(config.task, y_test[unseen], champion.predict_rows(X_test[unseen]),
                                            config.metric)
                champion_key = score_key(config.task, champion_score, config.metric)
                if champion_key is not None and not unseen.all():
                    # Judge both on the same rows.
                    challenger_key = score_key(config.task, scores(config.task, y_test[unseen], predicted[unseen],
                                                                   config.metric), config.metric)
        # The accuracy gate: a challenger that fails it is never deployed, not even as an entity's first model.
        gated = below_threshold(config.task, challenger_score, config.accuracythreshold, config.metric)
        deploy = gated is None and (champion_key is None or
                                    (challenger_key is not None and challenger_key < champion_key))
        # A pinned champion (``tickml models pin``) stays whatever the challenger scored.
        pinned = deploy and champion is not None and key is not FLEET_KEY and self.store.pinned(key)
        deploy = deploy and not pinned
        fitted, rows = judged, w.n_train
        if deploy:
            try:
                fitted, rows = self._fit(candidate, w.X, w.y, prior), len(w.y)
            except BadWindow as bad:
                return self._bad(key, w.window_rows, bad)
        doc = self._document(key, fitted, champion, rows, w)
        doc["metric"] = challenger_score
        doc["replaced"] = champion_score if champion_key is not None else None
        # What the entity's training has judged so far goes with whichever model stays champion.
        marked = self._judged_marks(key, newest, current)
        doc.update(marked)
        stored = doc if deploy else None
        kept = None if deploy else current
        if kept is not None and marked:  # (none when a gated challenger had no champion to keep)
            stored = {**kept, **marked}
        if stored is not None:
            try:
                # False: a store shared between shards (``shared``) already holds a newer champion, come
                # from another shard since this one read it; that one stays.
                if not self.store.put(stored, key):
                    deploy = False
            except OSError as exc:
                return self._bad(key, w.window_rows, BadWindow("store_unwritable", f"{type(exc).__name__}: {exc}"))
        status = DEPLOYED if deploy else KEPT
        self.counts_[status] += 1
        reason, detail = None, ""
        if gated is not None:
            reason, detail = BELOW_THRESHOLD, gated
        elif pinned:
            reason, detail = PINNED, f"champion version {champion.version} is pinned (tickml models unpin)"
        if reason:
            self.reasons_[reason] += 1
        if key is not FLEET_KEY:
            self._record(key, stored if deploy else doc, deploy, reason, champion, champion_key)
        return TrainOutcome(key=key, status=status, window_rows=w.window_rows, challenger=doc,
                            challenger_score=challenger_score, champion_score=champion_score,
                            dropped_rows=w.dropped_rows, reason=reason, detail=detail)

    def _record(self, key: str, doc: dict, deployed: bool, reason: str | None, champion, champion_key) -> None:
        """The entity's history: the version deployed and why (``first``, ``better``, ``unjudged``: the
        champion had seen every hold-out row), with its document; or the challenger kept out and why."""
        if deployed:
            why = "first" if champion is None else "better" if champion_key is not None else "unjudged"
            self.store.record(key, model_record(DEPLOYED, doc, why), doc, stored=True)
        else:
            # The version a kept record names is the champion's that stayed (none: a gated first model).
            self.store.record(key, model_record(KEPT, doc, reason or "not_better",
                                                version=champion.version if champion is not None else None))

    def _judged_marks(self, key: str | FleetKey, newest, current: dict | None) -> dict:
        """``windows_until`` and ``windows`` after judging a window whose newest row is ``newest`` (``current``:
        the champion's document)."""
        if newest is None or key is FLEET_KEY:
            return {}
        before = (current or {}).get("windows", 0)
        return {"windows_until": newest, "windows": before + 1}

    def _unseen(self, current: dict | None, w: Window) -> np.ndarray:
        """Hold-out rows newer than the champion's newest training row (all rows when times are unknown);
        ``current`` is the champion's document."""
        holdout = len(w.y) - w.n_train
        if w.times is None:
            return np.ones(holdout, dtype=bool)
        until = (current or {}).get("until")
        if until is None:
            return np.ones(holdout, dtype=bool)
        return w.times[w.n_train:] > until

    def _prior(self) -> Prior | None:
        return self.fleet_prior_.prior() if self.fleet_prior_ is not None else None

    def _choose(self, X: np.ndarray, y: np.ndarray, prior: Prior | None) -> Candidate:
        """The candidate to fit on this window's training part."""
        config = self.config
        shrunk, form = self._fleet_choice(prior)
        prior_rows = None
        if prior is not None:
            prior_rows = shrunk if config.prior_rows == "auto" else float(config.prior_rows)
        blend = shrinkage.BLEND if config.prior_rows == "auto" else 0.0
        if config.algorithm != AUTO:
            cls = ALGORITHMS[config.algorithm]
            return base_candidate(config.task, config.transform, prior_rows, blend) if cls is ALGORITHMS["linear"] \
                else Candidate(cls, (), config.transform)
        base = base_candidate(config.task, config.transform, prior_rows, blend)
        found = candidates(config.task, base, len(y), modelruns=config.modelruns, seed=config.seed,
                           search_transforms=not config.transformtype.strip())
        if form is not None:
            found = [base, form, *(c for c in found[1:] if c != form)]
        chosen, _ = search(found, X, y, task=config.task, metric=config.metric, features=config.features,
                           seed=config.seed, prior=prior)
        return hedged(chosen, base, form, shrinkage.BLEND)

    def _board_options(self) -> list[Candidate]:
        """What the fleet's board weighs against each entity's own least squares: the strengths of shrinkage
        (``shrinkage='auto'``) and, for ``auto``, the closed forms (``selection.forms``)."""
        config = self.config
        if config.task == CLASSIFICATION:
            return []
        found = [base_candidate(config.task, config.transform, r, shrinkage.BLEND) for r in GRID] \
            if config.prior_rows == "auto" else []
        if config.algorithm == AUTO:
            own = base_candidate(config.task, config.transform)
            found += [averaged(f, own, shrinkage.BLEND)
                      for f in forms(config.task, config.transform, search_transforms=not config.transformtype.strip())]
        return found

    def fleet_choice(self) -> tuple[float | None, Candidate | None]:
        """What the fleet's evidence lets every entity borrow now: the strength of shrinkage (None: none,
        not even the level) and a model form (None: least squares), both through the guard of ``evidence``."""
        return self._fleet_choice(self._prior())

    def _fleet_choice(self, prior: Prior | None) -> tuple[float | None, Candidate | None]:
        if self.board_ is None:
            return None, None
        shrunk, form = lent(self.board_, self.options_, shrinkable=prior is not None)
        # The board scored the form averaged as deployed; the entity's own window judges the form itself.
        return (None if shrunk is None else float(dict(shrunk.hyper)["prior_rows"]),
                None if form is None else outright(form))

    def _score_fleet(self, w: Window, prior: Prior | None) -> None:
        """Add this window's evidence to the fleet's board: every option's rolling-origin error on the whole
        window against its own least squares'.

        It runs after the window was judged, so a window's own rows never
        chose what its challenger was judged with.
        """
        config = self.config
        ratios = window_ratios(w.X, w.y, self.options_, config.transform, task=config.task, metric=config.metric,
                               features=config.features, prior=prior)
        self.board_.add(ratios)

    def _fit(self, candidate: Candidate, X, y, prior: Prior | None) -> Fitted:
        return candidate.fit(X, y, task=self.config.task, features=self.config.features, seed=self.config.seed,
                             prior=prior if candidate.shrunk else None)

    def _document(self, key: str | FleetKey, fitted: Fitted, champion, rows: int, w: Window) -> dict:
        config = self.config
        doc = {
            "schema": SCHEMA_VERSION, "key": document_key(key), "version": (champion.version if champion is not None else 0) + 1,
            **fitted.parts, "task": config.task, "target": config.target, "features": list(config.features),
            "metric": {}, "rows": rows, "window_rows": w.window_rows, "holdout_rows": len(w.y) - w.n_train,
            "created": _iso(self.wall_clock()),
        }
        if config.task != CLASSIFICATION:
            doc["primary_metric"] = config.metric
        if w.times is not None and rows == len(w.y):
            doc["until"] = w.times[-1].item()
        return doc

    def _fleet_due(self, good: int) -> bool:
        every = self.fleet_retrain_every
        return good % every == 0 or (good < every and good & (good - 1) == 0)

    def _bad(self, key: str | FleetKey, n: int, bad: BadWindow) -> TrainOutcome:
        self.counts_[BAD] += 1
        self.reasons_[bad.reason] += 1
        return TrainOutcome(key=key, status=BAD, window_rows=n, reason=bad.reason, detail=bad.detail)


def _corrections(options: list[Candidate]) -> list[int]:
    """What the guard corrects each option for: whether to shrink is one claim, whatever the strength; which
    form, one claim per form."""
    forms = sum(1 for c in options if not c.shrunk)
    return [1 if c.shrunk else forms for c in options]


def _newest(times) -> int | float | None:
    """The newest of numeric window times, as a JSON number; None without times or when they are not numbers."""
    if times is None or len(times) == 0:
        return None
    times = np.asarray(times)
    if not np.issubdtype(times.dtype, np.number):
        return None
    return times.max().item()


def _iso(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")
