"""predict: each point answered by its entity's champion model.

Stream in: for every point, the model the ``train`` UDF keeps for the point's
entity (``<model_dir>/<model>/``, shared through the store on disk, re-read
when train replaces it) predicts from the point's fields. An entity with no
model yet is answered by the fleet-wide model trained on all entities; the
output says which (``Answeredby``: ``entity`` or ``fleet``).

Out (stream), one point per input point with the fields of the seed's
prediction JSON: ``Hyperprediction``; for classification ``Probability1`` and
``Probability0``; ``Algokey``, ``Algo``, ``Modelversion``, ``Answeredby``,
``Inputdata``, ``Fieldnames``. A point before any model exists, or lacking an
input field, is logged (rate-limited), counted and skipped.

Options: ``model`` (the name train stores under: its ``model`` option or its
target), ``model_dir``, ``max_resident``, ``refresh`` (how often a model held
in memory is checked against the disk).

>>> Predict.info_response().info.wants, Predict.info_response().info.provides
(0, 0)
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

from udfs.agent import BadPoint, Handler, Option, main, new_point
from udfs.entity import entity_of
from udfs.learn import ModelStore, NoModel, Predictor
from udfs.train import DEFAULT_MODEL_DIR

log = logging.getLogger(__name__)


class Predict(Handler):
    """Per-entity prediction from the shared model store."""

    name = "predict"
    wants = "stream"
    provides = "stream"
    options = (
        Option("model", "string", help="Model name, as the train task stores it."),
        Option("model_dir", "string", DEFAULT_MODEL_DIR, help="Directory of model stores."),
        Option("max_resident", "int", 100_000, min=1, help="Models kept in memory."),
        Option("refresh", "duration", "1s", min=0, help="How often a model in memory is checked against disk."),
    )

    def setup(self):
        directory = Path(self.opts.model_dir) / self.opts.model
        store = ModelStore(directory, max_resident=self.opts.max_resident, refresh_seconds=self.opts.refresh / 1e9)
        self.predictor = Predictor(store)

    def point(self, p):
        try:
            fields = self.predictor.predict_one(entity_of(p), p.fields)
        except NoModel:
            raise BadPoint(f"no model yet: neither entity {entity_of(p)!r} nor the fleet has a {self.opts.model!r} model") from None
        except ValueError as exc:
            raise BadPoint(f"cannot predict: {exc}") from None
        self.emit(new_point(p, fields))


if __name__ == "__main__":
    sys.exit(main(Predict))
