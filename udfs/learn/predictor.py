"""Predictions for entities from the shared store, with the fleet model as fallback.

The predict UDF handler calls :meth:`Predictor.predict_one` for every point
(or :meth:`Predictor.predict_batch` for many rows of one entity). The entity's
own champion answers when it exists; otherwise the fleet-wide model (store
key ``FLEET_KEY``, which no entity key equals: a device whose id is
``__fleet__`` has a model of its own) does, and ``Answeredby`` says which.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np

from .compiled import CompiledModel
from .fields import prediction_fields
from .fleet import FLEET_KEY, FleetKey, document_key
from .store import ModelStore

ENTITY = "entity"
FLEET = "fleet"


class NoModel(LookupError):
    """Neither the entity nor the fleet has a model yet."""


class Predictor:
    """Answers prediction requests from a :class:`ModelStore`.

    Examples
    --------
    >>> store = ModelStore()
    >>> store.put({"schema": 1, "key": "__fleet__", "version": 1, "algorithm": "linear",
    ...            "task": "regression", "target": "y", "features": ["x"], "transform": "",
    ...            "min": [0.0], "max": [1.0], "params": {"coef": [2.0], "intercept": 1.0},
    ...            "hyper": {}, "metric": {"mape": 0.1}, "rows": 30, "window_rows": 40,
    ...            "created": "2024-01-01T00:00:00.000Z"}, FLEET_KEY)
    True
    >>> p = Predictor(store)
    >>> f = p.predict_one("new-device", {"x": 0.5})
    >>> f["Hyperprediction"], f["Answeredby"], f["Algokey"]
    (2.0, 'fleet', '__fleet__')
    >>> p.predict_one("__fleet__", {"x": 0.5})["Answeredby"]   # a device of that name has no model yet
    'fleet'
    """

    def __init__(self, store: ModelStore, *, use_fleet: bool = True):
        self.store = store
        self.use_fleet = use_fleet

    def model_for(self, key: str | FleetKey) -> tuple[str, CompiledModel, str]:
        """``(answering model's document key, model, "entity" | "fleet")``; NoModel if there is none."""
        model = self.store.model(key)
        if model is not None:
            return (key, model, ENTITY) if key is not FLEET_KEY else (document_key(key), model, FLEET)
        if self.use_fleet:
            model = self.store.model(FLEET_KEY)
            if model is not None:
                return document_key(FLEET_KEY), model, FLEET
        raise NoModel(f"no model for {key!r} and no fleet model yet")

    def predict_one(self, key: str, row: Mapping[str, float] | Sequence[float]) -> dict:
        """Prediction fields (seed's STEP 6 JSON) for one row.

        ``row`` maps field names to values (the model picks its features), or
        is a sequence already in the model's feature order.
        """
        answer_key, model, answered_by = self.model_for(key)
        if isinstance(row, Mapping):
            try:
                values = [float(row[f]) for f in model.features]
            except KeyError as exc:
                raise ValueError(f"point for {key!r} lacks field {exc.args[0]!r} "
                                 f"(model inputs: {', '.join(model.features)})") from None
        else:
            values = [float(v) for v in row]
        value = model.predict_row(values)
        return prediction_fields(answer_key, model, value, values, answered_by)

    def predict_batch(self, key: str, X: np.ndarray | Mapping[str, Sequence[float]]) -> tuple[np.ndarray, str, CompiledModel]:
        """Vectorised predictions for many rows of one entity.

        Returns ``(values, answered_by, model)``; values are P(1) for
        classification. ``X`` is a 2-D array in feature order or a mapping of
        field name to column.
        """
        _, model, answered_by = self.model_for(key)
        if isinstance(X, Mapping):
            X = np.column_stack([np.asarray(X[f], dtype=float) for f in model.features])
        with np.errstate(all="ignore"):
            return model.predict_rows(np.asarray(X, dtype=float)), answered_by, model
