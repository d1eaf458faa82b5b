"""anomaly: a score for every point of every entity, from that entity's own past (``udfs.detect``).

Stream in, stream out. Each entity (the point's group: the TICKscript's
``groupBy`` decides what an entity is) has a detector of its own; every input
point comes out with its fields and tags and:

- ``anomaly_score`` (double, 0 to 1): 0.5 and above is an alarm on every
  series (the score is relative to the largest novelty the entity has shown
  recently), so one alert threshold fits every device;
- ``anomaly_raw`` (double): the novelty before calibration;
- ``anomaly_expected`` (double): the value the nearest familiar pattern had
  at this point, once there is one;
- ``anomaly_learning`` (bool): true while the entity's detector has seen
  fewer than ``learning`` points; its score is then 0.

A point whose field is missing, NaN, infinite or not a number is logged,
counted and skipped; it does not reach the detector. Snapshot: JSON, every
entity's detector (about 10 KB each once its memory is full); when that is
larger than a restore accepts, the most recently seen entities that fit. A
restored detector takes the task's current ``learning`` and ``sensitivity``.

>>> Anomaly.info_response().info.wants == Anomaly.info_response().info.provides
True
"""

from __future__ import annotations

import logging
import math

from udfs.agent import BadPoint, EntityStore, Handler, Option
from udfs.agent.wire import BoolField, DoubleField, point_bytes
from udfs.detect import Detector, Params

log = logging.getLogger(__name__)

_DEFAULTS = Params()
_SCORE, _RAW, _EXPECTED = DoubleField("anomaly_score"), DoubleField("anomaly_raw"), DoubleField("anomaly_expected")
_LEARNING = BoolField("anomaly_learning")


class Anomaly(Handler):
    """Per-entity streaming anomaly score."""

    name = "anomaly"
    wants = "stream"
    provides = "stream"
    state_schema = 1
    options = (
        Option("field", "string", "value", help="Field scored."),
        Option("learning", "int", _DEFAULTS.learning, min=0, max=1_000_000,
               help="Points an entity's detector learns from before it scores."),
        Option("sensitivity", "double", _DEFAULTS.sensitivity, min=0.01, max=100.0,
               help="Above 1 scores higher (earlier alarms, more of them); below 1 lower."),
        Option("idle", "duration", "24h", min=0,
               help="An entity silent this long in stream time is forgotten (0: only max_entities bounds them)."),
        Option("max_entities", "int", 10_000, min=1,
               help="Entities kept (about 10 KB each); the least recently seen go first."),
    )

    def setup(self):
        self.params = Params(learning=self.opts.learning, sensitivity=self.opts.sensitivity)
        self.detectors = self._new_store()

    def _new_store(self, data=None):
        bounds = {"max_entities": self.opts.max_entities, "idle_ns": self.opts.idle or None}
        factory = lambda: Detector(self.params)  # noqa: E731
        if data is None:
            return EntityStore(factory, **bounds)
        # The options the task runs with now, not those of the snapshot: a user who changes the
        # sensitivity and restarts keeps what each device has learned.
        params = self.params.to_dict()
        dropped: list[str] = []
        store = EntityStore.from_json(data, factory, decode=lambda s: Detector.restore({**s, "params": params}),
                                      dropped=dropped, **bounds)
        if dropped:
            # One entity's state this code cannot read (another version, damage) must not keep the task from
            # starting: that entity learns afresh.
            log.error("%s: %d of %d entities' detector states not restored, each learns afresh: %s",
                      self.task_id or "anomaly", len(dropped), len(data["entities"]), "; ".join(dropped[:3]))
        return store

    def point(self, p):
        msg = p.numeric()
        value = p.number(self.opts.field)
        if not math.isfinite(value):
            raise BadPoint(f"field {self.opts.field!r} is {value!r}")
        score = self.detectors.get(msg.group, msg.time).update(value, msg.time)
        out = point_bytes(p.raw) + _SCORE.encode(score.anomaly_score) + _RAW.encode(score.raw)
        if score.expected is not None:
            out += _EXPECTED.encode(score.expected)
        self.emit_serialized(out + _LEARNING.encode(score.learning))

    def get_state(self):
        return self.detectors.to_json(Detector.state)

    def shrink_state(self, state, size, limit):
        return EntityStore.most_recent(state, size, limit)

    def set_state(self, state):
        self.detectors = self._new_store(state)
