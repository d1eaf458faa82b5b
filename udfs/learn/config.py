"""What to learn for every entity: the seed's STEP 5 options, declared once, checked once.

To add a training option: add a ``TrainConfig`` field below with ``_option``
(Kapacitor type, default, bounds or choices, help) and use it; the train UDF
offers every such field, and ``tests/unit/test_train_udf_options.py``
holds both to one declaration.

The names follow the seed: dependent and independent variables,
``islogistic``, ``modelruns``, ``transformtype``, ``processlogic``. Each field
carries what the train UDF's option table needs (plain metadata that
``udfs.agent.options.field_options`` reads), so this package is configured
without importing the agent and its protobuf code. Every problem is reported
in one ValueError so a TICKscript author can fix them all at once.
"""

from __future__ import annotations

from dataclasses import MISSING, dataclass, field, fields

from .algorithms import ALGORITHMS, AUTO, CLASSIFICATION, REGRESSION, LinearRegression
from .metrics import DEFAULT_METRIC, REGRESSION_METRICS
from .processlogic import ProcessLogic, parse
from .transforms import TRANSFORMS, Transform, get_transform


def _option(kind: str, default=MISSING, **option):
    """A field the train UDF offers as an option of Kapacitor type ``kind``; ``option`` holds the rest of
    ``udfs.agent.Option``'s keyword arguments (``min``, ``max``, ``choices``, ``help``)."""
    return field(default=default, metadata={"option": {"type": kind, **option}})


def _names(value) -> tuple[str, ...]:
    if isinstance(value, str):
        return tuple(v.strip() for v in value.split(",") if v.strip())
    return tuple(str(v).strip() for v in value)


# Python callers may pass an int for a double; a bool is never a number here.
_NUMBERS = {"int": ("an integer", (int,)), "double": ("a number", (int, float))}


def _number_problems(config) -> list[str]:
    """Numeric fields outside their declared type or bounds: what the agent checks in a TICKscript's options,
    checked again for callers that build a TrainConfig themselves."""
    problems = []
    for f in fields(config):
        option = f.metadata.get("option", {})
        if option.get("type") not in _NUMBERS:
            continue
        what, kinds = _NUMBERS[option["type"]]
        low, high, value = option.get("min"), option.get("max"), getattr(config, f.name)
        if not (isinstance(value, kinds) and not isinstance(value, bool)
                and (low is None or value >= low) and (high is None or value <= high)):
            bounds = " and ".join([f">= {low}"] * (low is not None) + [f"<= {high}"] * (high is not None))
            problems.append(f"{f.name} must be {what}{' ' + bounds if bounds else ''}, got {value!r}")
    return problems


@dataclass(frozen=True)
class TrainConfig:
    """Training options for one train task (shared by all its entities).

    Each option field's ``help`` says what it means. Python callers may pass
    ``independentvariables`` as a list and ``islogistic`` as 0/1, and
    ``transformtype`` in any case or as ``none``; a TICKscript gives exactly
    the declared types and choices.

    Examples
    --------
    >>> c = TrainConfig("Voltage,Current", processlogic="classification_name=fail:Voltage=55,n", islogistic=1)
    >>> c.target, c.task, c.algorithm
    ('fail', 'classification', 'logistic')
    >>> TrainConfig("a", "y", islogistic=0, algorithm="logistic", modelruns=0)
    Traceback (most recent call last):
    ...
    ValueError: bad training options: algorithm 'logistic' does not support regression (islogistic=0); modelruns must be an integer >= 1 and <= 1000, got 0
    >>> TrainConfig("a", "y", algorithm="auto").prior_rows, TrainConfig("a", "y", shrinkage="8").prior_rows
    ('auto', 8.0)
    """

    independentvariables: tuple[str, ...] | str = _option(
        "string", help="Feature fields, comma-separated (or a list); their order is the model's input order.")
    dependentvariable: str = _option("string", "", help="Target field; may be empty when processlogic names the label.")
    islogistic: bool = _option("bool", False, help="1/true: classification of a 0/1 target; 0/false: regression.")
    algorithm: str = _option("string", "", help=f"{', '.join([*ALGORITHMS, AUTO])}; empty means logistic when "
                                                "islogistic, else linear.")
    modelruns: int = _option("int", 10, min=1, max=1000, help="Candidates auto tries (the other algorithms ignore it).")
    seed: int = _option("int", 0, help="Seed of every random choice (search, trees, network weights).")
    transformtype: str = _option("string", "", choices=tuple(TRANSFORMS),
                                 help="Log transform of the target, the features or both (see transforms).")
    processlogic: str = _option("string", "", help="The seed's rule deriving a 0/1 label from thresholds "
                                                   "(see processlogic); implies islogistic.")
    holdout_fraction: float = _option("double", 0.25, min=0.05, max=0.9,
                                      help="Share of each window, taken from its end, that judges challengers.")
    metric: str = _option("string", "", choices=("", *REGRESSION_METRICS),
                          help="What judges regression models (see metrics); empty is mape, the seed's. "
                               "Classification is judged by accuracy, then log-loss.")
    accuracythreshold: float = _option("double", 0.0, min=0.0,
                                       help="The accuracy gate, in the judging metric's own terms: a challenger "
                                            "whose hold-out accuracy is below it (classification) or whose "
                                            "regression metric is above it (mape and smape as fractions, mae "
                                            "and rmse in the target's units) is not deployed, an entity's first "
                                            "model too; the point's Reason says so. 0: off.")
    shrinkage: str = _option("string", "", help="Borrowing strength from the fleet (see shrinkage), for linear and "
                                                "auto regression: off, auto (the slopes' strength chosen from the "
                                                "fleet's evidence) or a number of prior rows for the slopes (0: levels "
                                                "only); levels are always shrunk by empirical Bayes. Empty: auto for "
                                                "algorithm auto, off otherwise.")

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
        errors.extend(_number_problems(self))
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
        if task == CLASSIFICATION and isinstance(self.accuracythreshold, (int, float)) \
                and self.accuracythreshold > 1:
            errors.append(f"accuracythreshold {self.accuracythreshold!r} is above 1, which no classifier's "
                          "accuracy reaches; give a share between 0 and 1 (0: off)")
        put("prior_rows", self._prior_rows(task, algorithm, errors))
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
