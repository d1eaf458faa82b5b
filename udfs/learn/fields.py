"""Field sets of the seed's JSON outputs, built from model documents.

- :func:`model_fields`: the seed's "trained model" JSON (STEP 5), one per
  window outcome: algorithm key, accuracy, parameter estimates, min-max,
  number of messages, deployed.
- :func:`prediction_fields`: the seed's prediction JSON (STEP 6).

Names follow the seed's capitalisation. Fields the seed lacks are added in
the same style: ``Modelversion``, ``Answeredby`` (``entity`` or ``fleet``),
``Metric``/``Metricvalue`` (the metric that judged and its hold-out value),
``Championaccuracy``, ``Trainingrows`` (rows the model was fitted on),
``Holdoutrows`` (rows that judged it), ``Shrinkage`` and ``Levelshrinkage``
(how many rows the fleet's slopes and level counted as, for a model shrunk
towards the fleet), ``Halflife`` (for least squares weighted towards the
newest rows: the weights' half-life as a share of the window), ``Blend``
(the share of the entity's own least squares averaged into a model borrowed
from the fleet); for
linear-in-parameters models (linear, ridge, logistic) ``coef_<feature>`` per
input and ``intercept``, TML's coefficients per field (below).
Values that would be missing are left out (InfluxDB fields cannot be null).
"""

from __future__ import annotations

from typing import Sequence

from .algorithms import ALGORITHMS, CLASSIFICATION
from .compiled import CompiledModel
from .metrics import DEFAULT_METRIC, forecast_accuracy, primary_metric
from .scaling import unscaled

_fieldnames: dict[tuple[str, ...], str] = {}


def algo_name(key: str, algorithm: str) -> str:
    """The seed's ``Algo``: the algorithm key plus the algorithm's short code.

    Examples
    --------
    >>> algo_name("dev-7", "logistic")
    'dev-7_lgt'
    """
    return f"{key}_{ALGORITHMS[algorithm].code}"


def model_fields(doc: dict, *, deployed: bool) -> dict:
    """Trained-model fields for a challenger document (``Deployed`` = it became champion).

    ``Forecastaccuracy`` is accuracy for classification and ``max(0, 1 - MAPE)``
    for regression (left out when every hold-out target was 0); ``ParameterEstimates`` (constant first, on min-max scaled
    inputs, as in the seed) exist for linear models only.

    Linear models also get ``coef_<feature>`` and ``intercept``: the same
    model on the original scale of each input (the min-max scaling folded
    in, as the predictions use it), so ``intercept + sum(coef_f * f)`` is
    the model's linear predictor for raw inputs. Under a log transform the
    sum is over ``log(f)`` (``lin-log``, ``log-log``) and gives ``log`` of the
    target (``log-lin``, ``log-log``); for logistic models it is the log-odds
    of 1.

    Examples
    --------
    >>> doc = {"key": "d1", "version": 2, "algorithm": "logistic", "task": "classification",
    ...        "target": "failure_prob", "features": ["V", "C"], "transform": "", "min": [27.774, 27.592],
    ...        "max": [82.392, 82.013], "params": {"coef": [0.8076427, 2.7328265], "intercept": -2.828493},
    ...        "metric": {"accuracy": 0.747, "logloss": 0.5}, "rows": 179, "window_rows": 239,
    ...        "created": "2024-08-15T22:05:55.692Z", "replaced": None}
    >>> f = model_fields(doc, deployed=True)
    >>> f["Minmax"], f["ParameterEstimates"], f["Forecastaccuracy"], f["Numberofmessages"], f["Deployed"]
    ('27.774:82.392,27.592:82.013', '-2.8284930,0.8076427,2.7328265', 0.747, 239, 1)
    >>> round(f["coef_V"], 6), round(f["coef_C"], 6), round(f["intercept"], 6)
    (0.014787, 0.050216, -4.624761)
    """
    cls = ALGORITHMS[doc["algorithm"]]
    task = doc["task"]
    metric = doc["metric"]
    judged_by = primary_metric(task, doc.get("primary_metric", DEFAULT_METRIC))
    fields = {
        "Algokey": doc["key"],
        "Algo": algo_name(doc["key"], doc["algorithm"]),
        "DependentVariable": doc["target"],
        "Fieldnames": ",".join(doc["features"]),
        "Deployed": int(deployed),
        "Created": doc["created"],
        "Minmax": ",".join(f"{lo:.3f}:{hi:.3f}" for lo, hi in zip(doc["min"], doc["max"])),
        "MachineLearningAlgorithm": cls.label,
        "HasConstantTerm": int(cls.linear),
        "Islogistic": int(task == CLASSIFICATION),
        "Transformtype": doc["transform"],
        "Numberofmessages": doc["window_rows"],
        "Trainingrows": doc["rows"],
        "Modelversion": doc["version"],
        "Metric": judged_by,
        "Metricvalue": metric[judged_by],
    }
    accuracy = forecast_accuracy(task, metric)
    if accuracy is not None:
        fields["Forecastaccuracy"] = accuracy
    if "holdout_rows" in doc:
        fields["Holdoutrows"] = doc["holdout_rows"]
    if "halflife" in doc.get("hyper", {}):
        fields["Halflife"] = float(doc["hyper"]["halflife"])
    if "prior_rows" in doc.get("hyper", {}):
        fields["Shrinkage"] = float(doc["hyper"]["prior_rows"])
        fields["Levelshrinkage"] = float(doc["hyper"]["level_rows"])
    if "blend" in doc.get("hyper", {}):
        fields["Blend"] = float(doc["hyper"]["blend"])
    if cls.linear:
        estimates = [doc["params"]["intercept"], *doc["params"]["coef"]]
        fields["ParameterEstimates"] = ",".join(f"{v:.7f}" for v in estimates)
        intercept, coef = unscaled(doc["params"]["coef"], doc["params"]["intercept"], doc["min"], doc["max"])
        fields.update({f"coef_{name}": float(c) for name, c in zip(doc["features"], coef)})
        fields["intercept"] = float(intercept)
    if "logloss" in metric:
        fields["Logloss"] = metric["logloss"]
    if doc.get("replaced") and forecast_accuracy(task, doc["replaced"]) is not None:
        fields["Championaccuracy"] = forecast_accuracy(task, doc["replaced"])
    return fields


def prediction_fields(key: str, model: CompiledModel, value: float, inputs: Sequence[float],
                      answered_by: str) -> dict:
    """Prediction fields for one row; ``key`` is the key of the model that answered.

    Examples
    --------
    >>> doc = {"algorithm": "logistic", "task": "classification", "features": ["V", "C"],
    ...        "transform": "", "min": [0, 0], "max": [1, 1], "params": {"coef": [0, 0], "intercept": 0},
    ...        "version": 3}
    >>> prediction_fields("d1", CompiledModel(doc), 0.25, [1.0, 2.5], "entity")
    {'Hyperprediction': 0.25, 'Algokey': 'd1', 'Algo': 'd1_lgt', 'Modelversion': 3, 'Answeredby': 'entity', 'Islogistic': 1, 'MachineLearningAlgorithm': 'Logistic Regression', 'Inputdata': '1.0,2.5', 'Fieldnames': 'V,C', 'Probability1': 0.25, 'Probability0': 0.75}
    """
    names = model.features
    fieldnames = _fieldnames.get(names)
    if fieldnames is None:
        fieldnames = _fieldnames.setdefault(names, ",".join(names))
    algorithm = model.algorithm
    fields = {
        "Hyperprediction": value,
        "Algokey": key,
        "Algo": f"{key}_{algorithm.code}",
        "Modelversion": model.version,
        "Answeredby": answered_by,
        "Islogistic": int(model.classify),
        "MachineLearningAlgorithm": algorithm.label,
        "Inputdata": ",".join(map(repr, inputs)),
        "Fieldnames": fieldnames,
    }
    if model.classify:
        fields["Probability1"] = value
        fields["Probability0"] = 1.0 - value
    return fields
