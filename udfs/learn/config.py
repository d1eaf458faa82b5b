"""What to learn for every entity: the seed's STEP 5 options, checked once.

``TrainConfig`` holds the options a train UDF passes through (the names follow
the seed: dependent and independent variables, ``islogistic``, ``modelruns``,
``transformtype``, ``processlogic``). Every problem is reported in one
ValueError so a TICKscript author can fix them all at once.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .algorithms import ALGORITHMS, AUTO, CLASSIFICATION, REGRESSION
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

    Examples
    --------
    >>> c = TrainConfig("Voltage,Current", processlogic="classification_name=fail:Voltage=55,n", islogistic=1)
    >>> c.target, c.task, c.algorithm
    ('fail', 'classification', 'logistic')
    >>> TrainConfig("a", "y", islogistic=0, algorithm="logistic", modelruns=0)
    Traceback (most recent call last):
    ...
    ValueError: bad training options: algorithm 'logistic' does not support regression (islogistic=0); modelruns must be an integer >= 1, got 0
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

    features: tuple[str, ...] = field(init=False)
    target: str = field(init=False)
    task: str = field(init=False)
    transform: Transform = field(init=False)
    rule: ProcessLogic | None = field(init=False)

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
        if not 0.0 < self.holdout_fraction < 1.0:
            errors.append(f"holdout_fraction must be between 0 and 1, got {self.holdout_fraction!r}")
        if errors:
            raise ValueError("bad training options: " + "; ".join(errors))

    @property
    def inputs(self) -> tuple[str, ...]:
        """Every field a window must hold: features, then target or rule fields."""
        extra = self.rule.fields if self.rule is not None else (self.target,)
        return self.features + tuple(f for f in extra if f not in self.features)
