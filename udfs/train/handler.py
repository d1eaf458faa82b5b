"""train: one model per entity, retrained on every window, the better model kept.

Batch in: the TICKscript groups by the entity tag and slides a window; each
batch is one entity's window. For each window the learning library
(``udfs.learn``) trains a challenger on the window's first part and scores it
and the entity's champion on the rest; the challenger replaces the champion
only if it scores better, and is then fitted again on the whole window before
it is deployed. Models are JSON documents in a store on disk,
``<model_dir>/<model>/``, which the ``predict`` UDF reads. The store must be
inside the model root the UDF service sets (``TICKML_MODEL_ROOT``, default
``.stack/data/models``; ``udfs.learn.paths``): a task whose ``model_dir``
leads out of it, or whose model name (``model``, or the target when ``model``
is empty) is not a plain folder name, fails ``init`` and nothing is created.

Out, per window (stream): one point with the fields of the seed's trained-model
JSON (``Algokey``, ``Algo``, ``Forecastaccuracy``, ``ParameterEstimates``,
``Minmax``, ``Numberofmessages``, ``Deployed`` ...) plus ``Status``
(``deployed``, ``kept`` or ``bad``); a bad window (constant target, too few
rows, non-numeric or missing values) gives ``Status="bad"`` with ``Reason``
and ``Detail`` instead, is logged (rate-limited) and counted, and the entity
keeps its champion. A challenger that fails the accuracy gate
(``accuracythreshold``) is not deployed, not even as the entity's first model:
its point has ``Status="kept"``, ``Deployed=0``, ``Reason``
(``below_accuracythreshold``) and ``Detail`` (the threshold and the score). Linear
and logistic models add ``coef_<feature>`` and ``intercept`` (on the inputs'
original scale; ``udfs.learn.fields``). A window whose newest row is not newer than the newest of
the last window judged for the entity (``windows_until`` in its model
document: replayed history, a backfill's chunk lead-in, a repaired gap) is
skipped: nothing is trained and no point comes out.

Options: every field of ``udfs.learn.TrainConfig``, where each is declared
with its type, default, bounds and meaning (the seed's names:
``independentvariables``, ``dependentvariable``, ``islogistic``,
``algorithm``, ``modelruns``, ``seed``, ``transformtype``, ``processlogic``,
``holdout_fraction``, ``metric``, ``accuracythreshold``, ``shrinkage``); and, declared here,
``model`` (the model's name, default the target), ``model_dir`` (default the model root),
``max_resident``, ``snapshot_max_models``, ``fleet_retrain_every`` and
``fleet_rows_per_window`` (the fleet-wide model that answers entities without
a model of their own).

Snapshot: the counters and, up to ``snapshot_max_models``, the models (the
store on disk is the durable copy beyond that).

A shared home: when the UDF service sets ``TICKML_MODEL_KAFKA`` (a shard of
a larger deployment), every deployed champion is published to the model's
compacted Kafka topic, ``<TICKML_MODEL_TOPIC_PREFIX><model>``, before it is
stored here (``udfs.learn.shared``), and the topic is created at ``init``
if missing; a model whose name Kafka would refuse as a topic fails ``init``.

>>> Train.info_response().info.wants, Train.info_response().info.provides
(1, 0)
"""

from __future__ import annotations

import logging

import numpy as np

from udfs.agent import Handler, Option, RateLimitedLog, new_point
from udfs.agent.options import build_config, field_options
from udfs.agent.wire import PointFields
from udfs.entity import entity_of
from udfs.learn import SKIPPED, ModelStore, TrainConfig, Trainer, model_fields
from udfs.learn.paths import store_directory, store_problems
from udfs.learn.shared import SharedModelStore
from udfs.learn.store import StoreOptions
from udfs.learn.topic import MODEL_TOPICS, ModelTopic, ensure_topic, topic_problem
from udfs.learn.trainer import FLEET_RETRAIN_EVERY, FLEET_ROWS_PER_WINDOW

log = logging.getLogger(__name__)


class Train(Handler):
    """Champion/challenger training per entity window."""

    name = "train"
    wants = "batch"
    provides = "stream"
    state_schema = 1
    options = (
        *field_options(TrainConfig),
        Option("model", "string", "", help="Model name; default the target. predict names the same."),
        *field_options(StoreOptions),
        Option("snapshot_max_models", "int", 1_000, min=0, help="Models carried in a Kapacitor snapshot."),
        Option("fleet_retrain_every", "int", FLEET_RETRAIN_EVERY, min=1,
               help="Fleet-wide model retrained after good windows 1, 2, 4, ... then every this many."),
        Option("fleet_rows_per_window", "int", FLEET_ROWS_PER_WINDOW, min=1,
               help="Rows each good window adds to the fleet sample."),
    )

    def check_options(self, opts):
        try:
            config = build_config(TrainConfig, opts)
        except ValueError as exc:
            # Without a config there is no target to name the model after; check what can be checked.
            return [str(exc), *store_problems(opts.model_dir, opts.model or None)]
        model = opts.model or config.target
        problems = store_problems(opts.model_dir, model, named_after="" if opts.model else "its target")
        shared = topic_problem(MODEL_TOPICS, model)
        return problems + [shared] if shared else problems

    def setup(self):
        self.config = build_config(TrainConfig, self.opts)
        self.model_name = self.opts.model or self.config.target
        directory = store_directory(self.opts.model_dir, self.model_name)
        if MODEL_TOPICS is None:
            self.store = ModelStore(directory, max_resident=self.opts.max_resident)
        else:
            ensure_topic(MODEL_TOPICS, self.model_name)
            self.store = SharedModelStore(directory, ModelTopic(MODEL_TOPICS, self.model_name),
                                          max_resident=self.opts.max_resident)
        self.trainer = Trainer(
            self.config, self.store,
            fleet_retrain_every=self.opts.fleet_retrain_every,
            fleet_rows_per_window=self.opts.fleet_rows_per_window,
        )
        self.limited = RateLimitedLog(log)
        self._fields = PointFields()
        self.prefix = f"[{self.task_id}/{self.node_id}] "
        log.info("%smodel %r in %s%s", self.prefix, self.model_name, directory,
                 f", shared in Kafka topic {self.store.topic.topic}" if MODEL_TOPICS else "")

    def batch(self, b):
        key = entity_of(b)
        # Numbers decode in one call per window; a window holding anything else
        # (a string, a missing value) is read point by point, so the bad-window
        # reason can quote it.
        columns = {name: b.column(name) for name in self.config.inputs}
        if any(np.isnan(c).any() for c in columns.values()):
            columns = {name: [p.fields.get(name) for p in b.points] for name in self.config.inputs}
        outcome = self.trainer.train_window(key, columns, times=b.times())
        if outcome.status == SKIPPED:
            # History the entity has been trained on, replayed again: no point, so none written before is
            # overwritten by a window seen partly (a chunk's lead-in).
            return
        if outcome.status == "bad":
            self.limited.warning(
                f"window kept the champion: {outcome.reason}",
                f"entity {key!r}: {outcome.detail}",
                prefix=self.prefix,
            )
            fields = {"Status": "bad", "Numberofmessages": len(b.points), "Algokey": key}
        else:
            fields = model_fields(outcome.challenger, deployed=outcome.deployed)
            fields["Status"] = outcome.status
            fields["Model"] = self.model_name
        if outcome.reason:  # a bad window's, or why a judged challenger was not deployed (the accuracy gate)
            fields["Reason"], fields["Detail"] = outcome.reason, outcome.detail
        # The window's series and time, then the fields encoded by name (two dozen of them): the same point
        # as new_point(b, fields), for a third of its cost.
        encoded = self._fields.encode(fields)
        if encoded is None:
            self.emit(new_point(b, fields))
        else:
            self.emit_serialized(new_point(b).SerializeToString() + encoded)

    def get_state(self):
        # Beyond the bound the store on disk is the durable copy; a snapshot
        # of every model every few seconds would cost more than the training
        # it protects, so only a bounded count of directory entries is read.
        bound = self.opts.snapshot_max_models
        return self.trainer.export_state(models=self.store.count(bound) <= bound)

    def shrink_state(self, state, size, limit):
        # Models are on disk anyway: what must survive is the fleet's evidence.
        state["store"]["models"] = []
        return state

    def set_state(self, state):
        if state is not None:  # None: a snapshot too large to keep anything (see shrink_state)
            self.trainer.import_state(state)

