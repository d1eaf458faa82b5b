"""What to learn for every entity: the seed's STEP 5 options, checked once.

``TrainConfig`` holds the options a train UDF passes through (the names follow
the seed: dependent and independent variables, ``islogistic``, ``modelruns``,
``transformtype``, ``processlogic``). Every problem is reported in one
ValueError so a TICKscript author can fix them all at once.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .algorithms import ALGORITHMS, AUTO, CLASSIFICATION, REGRESSION, LinearRegression
from .metrics import DEFAULT_METRIC, REGRESSION_METRICS
from .processlogic import ProcessLogic, parse
from .transforms import Transform, get_transform


def _names(value) -> tuple[str, ...]:
    if isinstance(value, str):
        return tuple(v.strip() for v in value.split(",") if v.strip())
    return tuple(str(v).strip() for v in value)


@dataclass(frozen=True)
class TrainConfig:
    """Training options for one train task (shared by all its entities).

    Parameters
    ----------
    independentvariables
        Feature fields, a list or a comma-separated string; their order is the
        model's input order.
    dependentvariable
        Target field. May be empty when ``processlogic`` names the label.
    islogistic
        1/True: classification of a 0/1 target; 0/False: regression.
    algorithm
        ``logistic``, ``linear``, ``gradient_boosting``, ``ridge``,
        ``neural_network`` or ``auto``; empty means ``logistic`` when
        ``islogistic`` else ``linear``.
    modelruns
        Candidates ``auto`` tries (ignored by the other algorithms).
    seed
        Seed of every random choice (search, trees, network weights).
    transformtype
        ``""``, ``log-lin``, ``lin-log`` or ``log-log`` (see ``transforms``).
    processlogic
        The seed's labelling rule (see ``processlogic``); implies ``islogistic``.
    holdout_fraction
        Share of each window, taken from its end, used to judge challengers.
    metric
        What judges regression models: ``mape`` (the seed's, default),
        ``smape``, ``mae`` or ``rmse`` (see ``metrics``). Classification is
        judged by accuracy, then log-loss.
    shrinkage
        Borrowing strength from the fleet (see ``shrinkage``), for ``linear``
        and ``auto`` regression: ``off``, ``auto`` (the slopes' strength chosen
        from the fleet's evidence) or a number of prior rows for the slopes
        (0: levels only). Levels are always shrunk by empirical Bayes. Empty means ``auto``
        for ``algorithm=auto`` and ``off`` otherwise.

    Examples
    --------
    >>> c = TrainConfig("Voltage,Current", processlogic="classification_name=fail:Voltage=55,n", islogistic=1)
    >>> c.target, c.task, c.algorithm
    ('fail', 'classification', 'logistic')
    >>> TrainConfig("a", "y", islogistic=0, algorithm="logistic", modelruns=0)
    Traceback (most recent call last):
    ...
    ValueError: bad training options: algorithm 'logistic' does not support regression (islogistic=0); modelruns must be an integer >= 1, got 0
    >>> TrainConfig("a", "y", algorithm="auto").prior_rows, TrainConfig("a", "y", shrinkage="8").prior_rows
    ('auto', 8.0)
    """

    independentvariables: tuple[str, ...] | str
    dependentvariable: str = ""
    islogistic: bool = False
    algorithm: str = ""
    modelruns: int = 10
    seed: int = 0
    transformtype: str = ""
    processlogic: str = ""
    holdout_fraction: float = 0.25
    metric: str = ""
    shrinkage: str = ""

    features: tuple[str, ...] = field(init=False)
    target: str = field(init=False)
    task: str = field(init=False)
    transform: Transform = field(init=False)
    rule: ProcessLogic | None = field(init=False)
    prior_rows: str | float | None = field(init=False)  # None (off), "auto" or a number of rows

    def __post_init__(self):
        errors: list[str] = []
        put = lambda name, value: object.__setattr__(self, name, value)  # noqa: E731 (frozen)
        features = _names(self.independentvariables)
        put("independentvariables", features)
        put("features", features)
        if not features:
            errors.append("independentvariables must name at least one field")
        if len(set(features)) != len(features):
            errors.append(f"independentvariables has duplicates: {', '.join(features)}")
        rule = None
        if self.processlogic:
            try:
                rule = parse(self.processlogic)
            except ValueError as exc:
                errors.append(str(exc))
        put("rule", rule)
        target = self.dependentvariable.strip()
        if rule is not None:
            if target and target != rule.label:
                errors.append(f"dependentvariable {target!r} differs from the processlogic label "
                              f"{rule.label!r}; leave it empty or make them equal")
            target = rule.label
            if not self.islogistic:
                errors.append("processlogic derives a 0/1 label, so islogistic must be 1")
        if not target:
            errors.append("dependentvariable must be set (or processlogic given)")
        if target in features:
            errors.append(f"dependentvariable {target!r} is also an independent variable")
        put("target", target)
        task = CLASSIFICATION if self.islogistic else REGRESSION
        put("task", task)
        algorithm = (self.algorithm or "").strip() or ("logistic" if self.islogistic else "linear")
        put("algorithm", algorithm)
        if algorithm != AUTO and algorithm not in ALGORITHMS:
            errors.append(f"algorithm must be one of {', '.join([*ALGORITHMS, AUTO])}, got {algorithm!r}")
        elif algorithm != AUTO and task not in ALGORITHMS[algorithm].tasks:
            errors.append(f"algorithm {algorithm!r} does not support {task} "
                          f"(islogistic={int(bool(self.islogistic))})")
        if not isinstance(self.modelruns, int) or self.modelruns < 1:
            errors.append(f"modelruns must be an integer >= 1, got {self.modelruns!r}")
        if not isinstance(self.seed, int):
            errors.append(f"seed must be an integer, got {self.seed!r}")
        try:
            transform = get_transform(self.transformtype)
            if transform.log_target and task == CLASSIFICATION:
                errors.append(f"transformtype {self.transformtype!r} logs the dependent variable, "
                              "which is 0/1 for islogistic=1; use 'lin-log' or none")
        except ValueError as exc:
            transform = get_transform("")
            errors.append(str(exc))
        put("transform", transform)
        metric = (self.metric or "").strip().lower() or DEFAULT_METRIC
        if task == CLASSIFICATION and self.metric.strip():
            errors.append(f"metric {self.metric!r} is for regression; classification is judged by accuracy, "
                          "then log-loss (leave metric empty)")
        elif metric not in REGRESSION_METRICS:
            errors.append(f"metric must be one of {', '.join(REGRESSION_METRICS)}, got {self.metric!r}")
        put("metric", metric)
        put("prior_rows", self._prior_rows(task, algorithm, errors))
        if not 0.0 < self.holdout_fraction < 1.0:
            errors.append(f"holdout_fraction must be between 0 and 1, got {self.holdout_fraction!r}")
        if errors:
            raise ValueError("bad training options: " + "; ".join(errors))

    def _prior_rows(self, task, algorithm, errors) -> str | float | None:
        value = str(self.shrinkage or "").strip().lower()
        shrinkable = task == REGRESSION and algorithm in (AUTO, LinearRegression.key)
        if not value:
            return "auto" if shrinkable and algorithm == AUTO else None
        if value == "off":
            return None
        if not shrinkable:
            errors.append(f"shrinkage {self.shrinkage!r} applies to regression with algorithm linear or auto, "
                          f"not {algorithm!r} (islogistic={int(bool(self.islogistic))})")
            return None
        if value == "auto":
            return "auto"
        try:
            rows = float(value)
        except ValueError:
            rows = -1.0
        if not (rows >= 0.0 and rows < float("inf")):
            errors.append(f"shrinkage must be 'off', 'auto' or a number of prior rows >= 0, got {self.shrinkage!r}")
            return None
        return rows

    @property
    def inputs(self) -> tuple[str, ...]:
        """Every field a window must hold: features, then target or rule fields."""
        extra = self.rule.fields if self.rule is not None else (self.target,)
        return self.features + tuple(f for f in extra if f not in self.features)
