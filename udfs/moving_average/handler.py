"""moving_average: per-entity moving average over the last ``size`` points.

The classic Kapacitor UDF example, on our agent, and the sample that shows
state surviving a restart: each entity (the point's group, so the
TICKscript's ``groupBy`` decides what an entity is) keeps its last ``size``
values; Kapacitor snapshots them every ``[task] snapshot-interval`` and hands
them back when the task starts again, so the average goes on where it was.

Contract: wants stream, provides stream; options ``field`` (string), ``size``
(int, 1 to 100000), ``as`` (string, default ``<field>_moving_average``),
``max_entities`` (int). Every input point comes out with the ``as`` field
added, the average of the entity's last ``size`` values, including this one.
Snapshot: JSON, the window of every entity; when that is larger than a
restore accepts, of the most recently seen entities that fit.

>>> MovingAverage.info_response().info.wants == MovingAverage.info_response().info.provides
True
"""

from __future__ import annotations

from collections import deque

from udfs.agent import EntityStore, Handler, Option, new_point


class MovingAverage(Handler):
    """Average of each entity's last ``size`` values."""

    name = "moving_average"
    wants = "stream"
    provides = "stream"
    state_schema = 1
    options = (
        Option("field", "string", "value", help="Field to average."),
        Option("size", "int", 10, min=1, max=100_000, help="Number of most recent points averaged."),
        Option("as", "string", "", help="Output field; default <field>_moving_average."),
        Option("max_entities", "int", 100_000, min=1, help="Entities kept; the least recently seen go first."),
    )

    def setup(self):
        self.output = getattr(self.opts, "as") or f"{self.opts.field}_moving_average"
        self.windows = self._new_store()

    def _new_store(self, data=None):
        size = self.opts.size
        factory = lambda: deque(maxlen=size)  # noqa: E731
        if data is None:
            return EntityStore(factory, max_entities=self.opts.max_entities)
        return EntityStore.from_json(
            data, factory, decode=lambda values: deque(map(float, values), maxlen=size),
            max_entities=self.opts.max_entities,
        )

    def point(self, p):
        value = p.number(self.opts.field)
        window = self.windows.get(p.group, p.time)
        window.append(value)
        fields = dict(p.fields)
        fields[self.output] = sum(window) / len(window)
        self.emit(new_point(p, fields))

    def get_state(self):
        return self.windows.to_json(list)

    def shrink_state(self, state, size, limit):
        return EntityStore.most_recent(state, size, limit)

    def set_state(self, state):
        self.windows = self._new_store(state)

