"""Per-entity learning: algorithms, model documents, store, champion/challenger.

No protobuf here: a train handler passes each entity window as
``{field: values}`` to :meth:`Trainer.train_window`; a predict handler asks
:meth:`Predictor.predict_one`. Both share a :class:`ModelStore` directory.

Modules, one concept each:

- ``algorithms``: the algorithm registry
- ``config``: ``TrainConfig``, the seed's STEP 5 options, checked once
- ``processlogic``, ``transforms``, ``scaling``: label rule, log transforms, min-max
- ``candidate``: algorithm + hyperparameters + transform, fitted to raw rows
- ``selection``: ``auto``, rolling-origin error and the one-standard-error rule
- ``shrinkage``: the fleet's slopes and how strongly entities borrow them
- ``metrics``: MAPE, sMAPE, MAE, RMSE, accuracy, log-loss, and which score is better
- ``reasons``: why a window is bad
- ``document``: the versioned JSON model document
- ``compiled``: a document turned into arrays for fast prediction
- ``store``: bounded, durable, shared store of documents, and ``StoreOptions`` (where it lives)
- ``topic``, ``shared``, ``materialise``: the store's shared home across shards, a compacted Kafka
  topic per model (names and keys, the store that publishes, the copy every shard keeps)
- ``signing``: the HMAC every record of the shared home carries, and the key file it comes from
- ``paths``: the model root a store must stay inside (``TICKML_MODEL_ROOT``)
- ``fleet``: rows for the fleet-wide model
- ``window``: a window's rows made ready and checked before any fit
- ``outcome``: ``TrainOutcome`` and the status names (deployed, kept, bad, skipped)
- ``trainer``: champion/challenger per entity window
- ``predictor``, ``fields``: predictions and the seed's output fields
"""

from .algorithms import ALGORITHMS, AUTO, CLASSIFICATION, REGRESSION
from .compiled import CompiledModel
from .config import TrainConfig
from .document import SCHEMA_VERSION, decode, encode, validate
from .fields import model_fields, prediction_fields
from .fleet import FLEET_KEY
from .predictor import NoModel, Predictor
from .processlogic import ProcessLogic, parse as parse_processlogic
from .reasons import REASONS, BadWindow
from .store import ModelStore
from .trainer import BAD, DEPLOYED, KEPT, SKIPPED, TrainOutcome, Trainer
from .transforms import TRANSFORMS, get_transform

__all__ = [
    "ALGORITHMS", "AUTO", "BAD", "BadWindow", "CLASSIFICATION", "CompiledModel", "DEPLOYED",
    "FLEET_KEY", "KEPT", "ModelStore", "NoModel", "Predictor", "ProcessLogic", "REASONS",
    "REGRESSION", "SCHEMA_VERSION", "SKIPPED", "TRANSFORMS", "TrainConfig", "TrainOutcome", "Trainer",
    "decode", "encode", "get_transform", "model_fields", "parse_processlogic", "prediction_fields",
    "validate",
]
