"""Handlers that exercise the agent, run as real socket UDFs by the tests.

Usage: ``python tests/unit/agent/agent_test_handlers.py <Handler> --socket PATH``
(with the repository root on PYTHONPATH).
"""

from __future__ import annotations

import sys
import time

import numpy as np

from udfs.agent import REQUIRED, BadPoint, EntityStore, Handler, Option, main, new_point


class Sleepy(Handler):
    """Forward each point after sleeping (or spinning on the CPU) for ``pause``."""

    options = (
        Option("pause", "duration", "3s"),
        Option("busy", "bool", False),
    )

    def point(self, p):
        seconds = self.opts.pause / 1e9
        if self.opts.busy:
            # Pure-Python work holds the GIL, unlike sleep: the harder case.
            end = time.monotonic() + seconds
            x = 0
            while time.monotonic() < end:
                x += sum(range(1000))
        else:
            time.sleep(seconds)
        self.forward(p)


class Counter(Handler):
    """Count points per entity; emit the running count with each point."""

    state_schema = 2
    options = (
        Option("max_entities", "int", 100, min=1),
        Option("entity_tag", "string", "device_id"),
    )

    def setup(self):
        self.store = EntityStore(lambda: {"n": 0}, max_entities=self.opts.max_entities)

    def point(self, p):
        state = self.store.get(p.group, p.time)
        state["n"] += 1
        self.emit(new_point(p, {"count": state["n"], "entity": p.tag(self.opts.entity_tag)}))

    def get_state(self):
        return self.store.to_json()

    def set_state(self, state):
        self.store = EntityStore.from_json(state, lambda: {"n": 0}, max_entities=self.opts.max_entities)


class BatchStats(Handler):
    """Per batch: a one-point batch with the mean and count of ``field``."""

    wants = "batch"
    provides = "batch"
    options = (Option("field", "string", "value"),)

    def batch(self, b):
        values = b.column(self.opts.field)
        good = values[~np.isnan(values)]
        if good.size == 0:
            raise BadPoint(f"batch without numbers in field {self.opts.field!r}")
        out = new_point(b, {"mean": float(good.mean()), "n": int(good.size), "skipped": int(values.size - good.size)})
        self.emit_batch(b, [out])


class Raiser(Handler):
    """Forward points, except that a point with ``boom`` set crashes the handler."""

    def point(self, p):
        if p.fields.get("boom"):
            raise RuntimeError("boom requested by the test")
        self.forward(p)


class Strict(Handler):
    """Options of every kind and constraint, for init validation tests."""

    options = (
        Option("label", "string", REQUIRED),
        Option("ratio", "double", 0.5, min=0.0, max=1.0),
        Option("mode", "string", "fast", choices=("fast", "exact")),
        Option("odd", "int", 1, check=(lambda v: v % 2 == 1, "an odd number")),
        Option("window", "duration", "10s"),
        Option("limit", ("string", "double"), ("x", 1.0)),
        Option("tag", "string", (), repeated=True),
    )

    def point(self, p):
        self.emit(new_point(p, {"label": self.opts.label, "ratio": self.opts.ratio, "window": self.opts.window,
                                "tags": ",".join(self.opts.tag)}))


class PassThrough(Handler):
    """Forward every point unchanged (used by the throughput bench too)."""

    def point(self, p):
        self.forward(p)


class Sparse(Handler):
    """Forward every ``every``-th point, after ``pause`` per point: a slow filter with a trickle of output."""

    options = (Option("pause", "duration", "20ms"), Option("every", "int", 10, min=1))

    def setup(self):
        self.seen = 0

    def point(self, p):
        time.sleep(self.opts.pause / 1e9)
        self.seen += 1
        if self.seen % self.opts.every == 0:
            self.forward(p)


HANDLERS = {cls.__name__: cls for cls in (Sleepy, Counter, BatchStats, Raiser, Strict, PassThrough, Sparse)}

if __name__ == "__main__":
    sys.exit(main(HANDLERS[sys.argv[1]], sys.argv[2:]))
