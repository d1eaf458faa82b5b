"""predict: each point answered by its entity's champion model.

Stream in: for every point, the model the ``train`` UDF keeps for the point's
entity (``<model_dir>/<model>/``, shared through the store on disk, re-read
when train replaces it) predicts from the point's fields. An entity with no
model yet is answered by the fleet-wide model trained on all entities; the
output says which (``Answeredby``: ``entity`` or ``fleet``).

Out (stream), each input point with its fields and tags, plus the fields of
the seed's prediction JSON: ``Hyperprediction`` (for classification the probability of
1, as in the seed); for classification ``Probability1`` and ``Probability0``;
``Algokey``, ``Algo``, ``Modelversion``, ``Answeredby``, ``Islogistic``,
``MachineLearningAlgorithm``, ``Inputdata``, ``Fieldnames``. A point before any
model exists, lacking an input field, with a NaN or infinite input, or with
an input <= 0 under a log transform, is logged (rate-limited), counted and
skipped: a bad point, never a handler error or a NaN prediction.

Options: ``model`` (the name train stores under: its ``model`` option or its
target), ``model_dir`` (default the model root), ``max_resident``, ``refresh``
(how often a model held in memory is checked against the disk), ``fallback``
(``fleet``, the default, or ``none``: whether the fleet model answers an
entity without a champion of its own, which is also an entity whose every
challenger failed train's ``accuracythreshold``). The store
must be inside the model root the UDF service sets (``TICKML_MODEL_ROOT``,
default ``.stack/data/models``; ``udfs.learn.paths``): a ``model_dir`` that
leads out of it, or a ``model`` that is not a plain folder name, fails
``init`` and nothing is created.

>>> Predict.info_response().info.wants, Predict.info_response().info.provides
(0, 0)
"""

from __future__ import annotations

import logging
import math
import time

from google.protobuf.message import DecodeError

from udfs.agent import BadPoint, Handler, Option, new_point
from udfs.agent.numbers_only import NumbersRequest
from udfs.agent.options import field_options
from udfs.agent.wire import DoubleField, StringField, point_bytes
from udfs.entity import entity_key
from udfs.learn import ModelStore, NoModel, Predictor, prediction_fields
from udfs.learn.paths import store_directory, store_problems
from udfs.learn.store import StoreOptions

log = logging.getLogger(__name__)

# Fields that change from point to point; every other prediction field is
# constant for one entity and model version and is serialized once.
_HYPER, _P1, _P0, _INPUT = (DoubleField("Hyperprediction"), DoubleField("Probability1"),
                            DoubleField("Probability0"), StringField("Inputdata"))
_VARYING = ("Hyperprediction", "Probability1", "Probability0", "Inputdata")
_numbers = NumbersRequest.FromString


class _Group:
    """What predict keeps of one group: its entity, the store's last answer for it (the answering key, model
    and who answered), asked again once it is ``refresh`` old (the store checks its disk no more often), and
    that answer's constant fields, serialized; a point answered as the last one was looks up nothing more."""

    __slots__ = ("key", "answer", "asked", "constants")

    def __init__(self, key: str):
        self.key = key
        self.answer: tuple | None = None
        self.asked = 0.0
        self.constants: bytes | None = None


class Predict(Handler):
    """Per-entity prediction from the shared model store."""

    name = "predict"
    wants = "stream"
    provides = "stream"
    options = (
        Option("model", "string", help="Model name, as the train task stores it."),
        *field_options(StoreOptions),
        Option("refresh", "duration", "1s", min=0, help="How often a model in memory is checked against disk."),
        Option("fallback", "string", "fleet", choices=("fleet", "none"),
               help="Who answers an entity without a champion of its own (none trained yet, or none passed "
                    "train's accuracythreshold): fleet, the fleet model; none, nobody (the point is skipped "
                    "and counted)."),
    )

    def check_options(self, opts):
        return store_problems(opts.model_dir, opts.model)

    def setup(self):
        directory = store_directory(self.opts.model_dir, self.opts.model)
        store = ModelStore(directory, max_resident=self.opts.max_resident, refresh_seconds=self.opts.refresh / 1e9)
        self.predictor = Predictor(store, use_fleet=self.opts.fallback == "fleet")
        self._refresh = self.opts.refresh / 1e9
        self._groups: dict[str, _Group] = {}
        self._constants: dict[tuple, bytes] = {}  # (answering key, version, answered by) -> serialized constants

    def point(self, p):
        # Only the group and the numbers are decoded (Point.numeric without its wrapper's calls); tags once
        # per new group.
        raw = p.raw
        try:
            msg = _numbers(raw).point
        except DecodeError as exc:
            raise BadPoint(f"undecodable point request: {exc}") from exc
        group = self._groups.get(msg.group)
        if group is None:
            full = p.msg
            group = self._remember(self._groups, msg.group, _Group(entity_key(full.tags, full.dimensions)))
        key = group.key
        now = time.monotonic()
        if group.answer is None or now - group.asked >= self._refresh:
            try:
                answer_key, model, answered_by = group.answer = self.predictor.model_for(key)
            except NoModel:
                if not self.predictor.use_fleet:
                    raise BadPoint(f"no model yet: entity {key!r} has no {self.opts.model!r} champion of its own "
                                   "(fallback 'none')") from None
                raise BadPoint(f"no model yet: neither entity {key!r} nor the fleet has a {self.opts.model!r} "
                               "model") from None
            group.asked = now
            group.constants = self._constants.get((answer_key, model.version, answered_by))
        else:
            answer_key, model, answered_by = group.answer
        doubles = msg.fieldsDouble
        ints = None
        values = []
        for f in model.features:
            # .get, never [f]: indexing a protobuf map with a missing key
            # inserts and returns 0, which would be predicted from silently.
            v = doubles.get(f)
            if v is None:
                if ints is None:
                    ints = msg.fieldsInt
                v = ints.get(f)
                if v is None:
                    raise BadPoint(f"cannot predict: point for {key!r} lacks field {f!r} "
                                   f"(model inputs: {', '.join(model.features)})")
                v = float(v)
            elif not math.isfinite(v):
                raise BadPoint(f"cannot predict: point for {key!r} has {f}={v!r}")
            values.append(v)
        try:
            value = model.predict_row(values)
        except ValueError as exc:  # a log transform met a value <= 0
            raise BadPoint(f"cannot predict: point for {key!r}: {exc}") from None

        if group.constants is None:
            fields = prediction_fields(answer_key, model, value, values, answered_by)
            group.constants = self._remember(self._constants, (answer_key, model.version, answered_by),
                                             new_point(None, {k: v for k, v in fields.items() if k not in _VARYING})
                                             .SerializeToString())
        # The input point as it came, then the prediction's fields: the
        # concatenation decodes as one point carrying both.
        inputs = _INPUT.encode(repr(values[0]) if len(values) == 1 else ",".join(map(repr, values)))
        if model.classify:
            self.emit_serialized(b"".join((point_bytes(raw), group.constants, _HYPER.encode(value),
                                           _P1.encode(value), _P0.encode(1.0 - value), inputs)))
        else:
            self.emit_serialized(b"".join((point_bytes(raw), group.constants, _HYPER.encode(value), inputs)))

    def _remember(self, cache: dict, key, value):
        if len(cache) >= self.opts.max_resident:
            cache.clear()  # bounded; refilled from the live entities
        cache[key] = value
        return value

