"""The no-harm guard: what is learned from the fleet is used only where the fleet's evidence shows a gain.

The rule, in one sentence: an option learned from the fleet (a strength of
shrinkage, a model form, each scored as it is deployed) is used only when,
over at least ``MIN_WINDOWS`` windows, the mean of its per-window log ratio
of rolling-origin loss to the entity's own least squares is below
``-MIN_GAIN`` and below zero by a one-sided paired t-test at ``LEVEL`` for
each decision (whether to shrink: all strengths together one claim; which
form: Bonferroni-corrected over the forms); of the strengths that pass, the
one whose gain is surest (the lowest t) is taken, of the forms that pass the
one with the lowest mean, and when none passes each entity's own least
squares stands (``lent``).

What passes is lent as a hedge, not outright (``shrinkage.BLEND``, the
entity's own least squares' share): the shrunk fit is averaged with the
entity's own least squares, and a form the fleet backs is taken outright
only where the entity's own window prefers it by one standard error, else
averaged with its own least squares when the average is one model
(``selection.hedged``); the board scores both in that averaged form
(``selection.averaged``), so the guard judges what is deployed. Why: the
test says whether borrowing helps inside the window, not how far to go
beyond it; on Cigar shrinkage alone passes at t down to -5 and loses
14-45 % on the later years, the averages lose less or gain (``shrinkage``
has the figures). Scoring the forms outright instead, as before, kept the
averages of a quadratic term from Chickweight and of ridge from Guns:
``auto`` 0.940 and 0.965 of least squares there instead of 0.792 and 0.907.

Why the surest strength and not the one with the lowest mean: the strengths
are nested versions of one claim, and the window's evidence overstates how
far to pull as it overstates how much; the lowest mean takes the strongest
pull that still looks good. On Spruce every strength passes (t from -1.9 to
-3.5) and the lowest mean took 16 or 32 prior rows, which lose 2 and 7 % on
the later rows, where 1 to 8 gain 2.5-4.4 %: ``auto`` 1.027 of least
squares by the lowest mean, 0.951 by the surest. Why a form that passes is
lent even where shrinkage gains more inside the window: the two are
different claims, and a form reaches an entity only as its own window
allows; on Guns requiring the form to beat shrinkage's mean kept ridge's
average from it (0.985 instead of 0.907).

Why paired log ratios: every window scores every option and its own least
squares on the same rows (``selection.rolling_losses``, each origin predicting
the rest of the window), so a window's noise cancels in the pair; the log of
the ratio makes a device of any scale weigh the same and tames the one window
where least squares on four rows explodes. Why a test and not the lowest mean:
the lowest mean of many options is below zero by chance on a small fleet; on
five public panels of 11 to 48 short windows the strength with the lowest
mean made ``auto`` 12 % worse than least squares on two (issue 25). Why
Bonferroni over the forms: the guard must hold for the best-looking form,
not for one named in advance. Why the strengths of shrinkage count once:
they are nested versions of one claim (pulling towards the fleet helps)
whose statistics move together, so the best of them is barely more extreme
than one of them. Why the two decisions are tested apart: they are taken
apart (a shrunk base and a form can both apply), and correcting each for the
other's options lends less on Munnell, Wage_panel, Chickweight and Spruce
(``auto`` 1.0001, 0.901, 0.834, 0.980 of least squares instead of 0.973,
0.888, 0.792, 0.951), with no panel where it saves a loss.

Where the origins start (``START``, a share of the window): the evidence
fits on the rows before an origin, fewer than the deployed model sees, and
fewer rows flatter shrinkage; later origins ask a question closer to the
deployed one, at the price of fewer rows to score.

How many windows the guard waits for (``MIN_WINDOWS``): a fleet's windows
arrive in no particular order, and what it lends, and to whom, depends on
it: the entities trained before the guard passes get their own least
squares, and on a small fleet the evidence of ten windows is the evidence
of a few entities. Scored over the panels as stored, the earlier setting
(ten windows, origins from the last quarter) gave ``auto`` 0.918 of least
squares on average and lost on none; over eight orders of each panel's
entities (``bench/ml_quality.py --orders 8``) it gave 0.949, and lost on
Bodyweight (16 rats: 1.023, up to 1.083 in one order) and Gasoline (18
countries: 1.001), 12 of the 88 panel-orders above 1.0. With fifteen
windows and origins from the middle, the smallest fleets (Grunfeld's 11
firms, Bodyweight's 16 rats) lend to one entity or none and stay at their
own least squares; over the eight orders Munnell, Gasoline, SumHes, Guns
and ChickWeight gain more (0.923, 0.991, 0.917, 0.916, 0.850 of least
squares instead of 0.976, 1.001, 0.927, 0.932, 0.959), and Wage_panel,
Cigar, Oxboys and Spruce less (0.924, 0.896, 1.000, 0.967 instead of
0.889, 0.853, 0.929, 0.956); 4 of the 88 panel-orders are above 1.0, the
worst Cigar's 1.019 in one order. As stored, the panels give 0.932 on
average instead of 0.918: the price of not resting on one order.

``MIN_WINDOWS``, ``LEVEL``, ``START`` and ``shrinkage.BLEND`` are the
setting with the fewest real panels of ``bench/ml_quality.py`` where
``auto``, averaged over eight orders of the entities, is worse than least
squares (none), then the lowest mean ratio (0.944); ``--loso --orders 8``
prints the leave-one-data-set-out check (chosen on the other panels,
scored on the one left out): ten of the eleven panels left out choose this
setting (Chickweight's the same with origins from the last quarter), and
none left out is worse than least squares. The figures in the paragraphs
above were measured when each of those choices was made, on the panels as
stored.

``FleetBoard`` keeps, per option, decayed sums of the windows' log ratios
(``memory`` windows of forgetting, so a fleet whose behaviour changes moves
its choice), and travels in the trainer's snapshot.
"""

from __future__ import annotations

import math
from statistics import NormalDist
from typing import Sequence

import numpy as np

from .algorithms import LinearRegression
from .candidate import Candidate, Prior
from .selection import min_rows, origins, rolling_losses
from .shrinkage import grid_losses
from .transforms import Transform

LEVEL = 0.2   # of 0.05, 0.2 (0.01 before): see the module's docstring (bench/ml_quality.py --loso --orders 8)
START = 0.5   # ... of 0.5, 0.75 (0.75 before)
MIN_WINDOWS = 15  # ... of 10, 15, 20 (10 before)
MIN_GAIN = 0.005  # half a percent: a consistent gain of a millionth (a level pulled by 1e-6 rows) is no gain


def t_quantile(p: float, df: float) -> float:
    """Upper ``p`` quantile of Student's t with ``df`` degrees of freedom (Cornish-Fisher, ~1e-3 from df 5).

    Examples
    --------
    >>> round(t_quantile(0.05, 9), 2), round(t_quantile(0.05, 1e6), 3)
    (1.83, 1.645)
    """
    z = NormalDist().inv_cdf(1.0 - p)
    return z + (z**3 + z) / (4 * df) + (5 * z**5 + 16 * z**3 + 3 * z) / (96 * df**2) \
        + (3 * z**7 + 19 * z**5 + 17 * z**3 - 15 * z) / (384 * df**3)


class FleetBoard:
    """Per option, the fleet's paired evidence against each entity's own least squares.

    Examples
    --------
    >>> board = FleetBoard(["shrink", "curve"])
    >>> board.choice(["shrink", "curve"]) is None     # no evidence yet
    True
    >>> rng = np.random.default_rng(0)
    >>> for _ in range(30):      # shrinking wins every window by about 10 %; the curve is noise
    ...     board.add({"shrink": np.log(0.9) + rng.normal(0, 0.05), "curve": rng.normal(0, 0.3)})
    >>> board.choice(["shrink", "curve"]), board.choice(["curve"])
    ('shrink', None)
    """

    def __init__(self, options: Sequence[str], memory: int = 1000, level: float | None = None,
                 corrections: Sequence[int] | None = None):
        self.options = tuple(options)
        self.level = LEVEL if level is None else level
        # Per option, how many claims its decision is Bonferroni-corrected over (default: every option's).
        self.corrections = tuple(corrections) if corrections is not None else (len(self.options),) * len(self.options)
        if len(self.corrections) != len(self.options) or min(self.corrections, default=1) < 1:
            raise ValueError("fleet board: one correction >= 1 per option")
        self.decay = 1.0 - 1.0 / memory
        k = len(self.options)
        self._weight = np.zeros(k)   # windows that scored the option (decayed)
        self._sum = np.zeros(k)      # sum of log ratios
        self._squares = np.zeros(k)  # sum of squared log ratios
        self._index = {name: i for i, name in enumerate(self.options)}

    @property
    def windows(self) -> float:
        """Windows that brought evidence (decayed)."""
        return float(self._weight.max()) if len(self._weight) else 0.0

    def add(self, ratios: dict[str, float]) -> None:
        """One window's log ratio of loss to its own least squares' per option (missing or non-finite: none)."""
        self._weight *= self.decay
        self._sum *= self.decay
        self._squares *= self.decay
        for name, value in ratios.items():
            i = self._index.get(name)
            if i is None or not math.isfinite(value):
                continue
            self._weight[i] += 1.0
            self._sum[i] += value
            self._squares[i] += value * value

    def statistics(self) -> dict[str, tuple[float, float, float]]:
        """Per option with evidence: ``(windows, mean log ratio, t statistic)`` (negative t: the option gains)."""
        out = {}
        for name, i in self._index.items():
            n = self._weight[i]
            if n < 2:
                continue
            mean = self._sum[i] / n
            var = max(self._squares[i] / n - mean * mean, 0.0) * n / (n - 1.0)
            se = math.sqrt(var / n)
            out[name] = (float(n), float(mean), (mean / se) if se > 0 else (-math.inf if mean < 0 else math.inf))
        return out

    def passing(self, stats: dict[str, tuple[float, float, float]] | None = None) -> dict[str, float]:
        """Options whose gain is beyond noise by the rule of this module, with their mean log ratio (from
        ``stats``, the board's ``statistics()`` when the caller has them already)."""
        if stats is None:
            stats = self.statistics()
        return {name: mean for name, (n, mean, t) in stats.items()
                if n >= MIN_WINDOWS and mean < -MIN_GAIN
                and t < -t_quantile(self.level / self.corrections[self._index[name]], n - 1.0)}

    def choice(self, among: Sequence[str]) -> str | None:
        """Of ``among``, the passing option with the lowest mean log ratio; None: own least squares stands."""
        passed = {k: v for k, v in self.passing().items() if k in among}
        return min(passed, key=passed.get) if passed else None

    def export_state(self) -> dict:
        return {"options": list(self.options), "weight": self._weight.tolist(), "sum": self._sum.tolist(),
                "squares": self._squares.tolist()}

    def same_options(self, state) -> bool:
        """Whether a saved board weighed these options (one saved by an older version may have weighed others,
        e.g. shrinkage before it was blended, whose evidence says nothing about these)."""
        return isinstance(state, dict) and isinstance(state.get("options"), list) \
            and list(state["options"]) == list(self.options)

    def import_state(self, state: dict) -> None:
        if list(state["options"]) != list(self.options):
            raise ValueError(f"fleet board options {state['options']} differ from {list(self.options)}")
        arrays = [np.asarray(state[name], dtype=float) for name in ("weight", "sum", "squares")]
        if any(a.shape != (len(self.options),) or not np.isfinite(a).all() for a in arrays):
            raise ValueError(f"fleet board state must hold {len(self.options)} finite values per sum")
        self._weight, self._sum, self._squares = arrays



def lent(board: FleetBoard, options: Sequence[Candidate], shrinkable: bool = True
         ) -> tuple[Candidate | None, Candidate | None]:
    """What the fleet lends now by the rule of this module: of ``options`` (the board's), the passing strength
    of shrinkage with the lowest t (None: none, or not ``shrinkable``: no prior yet) and the passing form with
    the lowest mean (None: least squares).

    Examples
    --------
    >>> from udfs.learn.selection import base_candidate, forms
    >>> from udfs.learn.transforms import TRANSFORMS
    >>> options = [base_candidate("regression", TRANSFORMS[""], r, 0.25) for r in (1.0, 8.0)]
    >>> options.append(forms("regression", TRANSFORMS[""], search_transforms=False)[0])   # ridge
    >>> board = FleetBoard([c.name for c in options], corrections=[1, 1, 1])
    >>> rng = np.random.default_rng(1)
    >>> for _ in range(40):   # 8 rows gain more on average, 1 row more surely; ridge loses
    ...     board.add({options[0].name: -0.05 + rng.normal(0, 0.02), options[1].name: -0.1 + rng.normal(0, 0.3),
    ...                options[2].name: 0.1 + rng.normal(0, 0.05)})
    >>> [None if c is None else c.name for c in lent(board, options)]
    ['linear(prior_rows=1.0,blend=0.25)', None]
    >>> lent(board, options, shrinkable=False)
    (None, None)
    """
    stats = board.statistics()
    passed = board.passing(stats)
    by_name = {c.name: c for c in options}
    strengths = [n for n in passed if n in by_name and by_name[n].shrunk] if shrinkable else []
    found = [n for n in passed if n in by_name and not by_name[n].shrunk]
    strength = min(strengths, key=lambda n: stats[n][2], default=None)
    form = min(found, key=passed.get, default=None)
    return (None if strength is None else by_name[strength]), (None if form is None else by_name[form])


def window_ratios(X: np.ndarray, y: np.ndarray, options: Sequence[Candidate], transform: Transform, *,
                  task: str, metric: str, features: Sequence[str], prior: Prior | None = None) -> dict[str, float]:
    """One window's evidence: per option, the log ratio of its mean rolling-origin loss to least squares'.

    Least squares is the entity's own (in the configured ``transform``,
    unshrunk), what it deploys when the guard abstains. Both are scored at the
    same origins, each origin predicting the rest of the window (the option's
    origins leave it enough rows for its parameters). Shrunk options come
    from ``shrinkage.grid_losses`` (every strength in one solve per origin);
    an option that cannot fit the window (a log of a value <= 0, a failed
    fold) brings no evidence.
    """
    k = X.shape[1]
    own = Candidate(LinearRegression, (), transform)
    own_means: dict[tuple, float | None] = {}

    def own_mean(at: np.ndarray) -> float | None:
        if tuple(at) not in own_means:
            losses = rolling_losses(own, X, y, at, task=task, metric=metric, features=features, rest=True)
            own_means[tuple(at)] = None if losses is None else float(losses.mean())
        return own_means[tuple(at)]

    out: dict[str, float] = {}
    shrunk = [c for c in options if c.shrunk]
    at = origins(len(y), first=k + 2, start=START)
    if shrunk and prior is not None and len(at) and own_mean(at) is not None:
        strengths = np.array([dict(c.hyper)["prior_rows"] for c in shrunk])
        blends = np.array([c.blend for c in shrunk])
        grid = grid_losses(X, y, at, prior, transform, task=task, metric=metric, grid=strengths, blend=blends)
        if grid is not None:
            out.update({c.name: _log_ratio(value, own_mean(at)) for c, value in zip(shrunk, grid)})
    for c in options:
        if c.shrunk or not c.usable(X, y):
            continue
        at = origins(len(y), first=min_rows(k, [c]), start=START)
        if not len(at) or own_mean(at) is None:
            continue
        losses = rolling_losses(c, X, y, at, task=task, metric=metric, features=features, rest=True)
        if losses is not None:
            out[c.name] = _log_ratio(float(losses.mean()), own_mean(at))
    return out


def _log_ratio(loss: float, own: float) -> float:
    """log(loss / own); 0 when both are 0 (a perfect fit either way); NaN when it means nothing."""
    if loss == own:
        return 0.0
    return math.log(loss / own) if loss > 0 and own > 0 and math.isfinite(loss) and math.isfinite(own) else math.nan
