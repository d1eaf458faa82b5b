"""Handlers that do no work: the ceiling every UDF on this agent is measured against.

:class:`NullStream` forwards every point as the bytes it came in (stream →
stream, the shape of the classifiers and predict); :class:`NullBatch`
answers each batch with one point holding its size (batch → stream, the
shape of preprocess and train). What they cost is what Kapacitor's side of
the UDF protocol and this agent cost when nothing is computed
(``bench/udf_ceiling.py`` measures each shipped UDF beside them). They are
served as ``udfs.null_stream`` and ``udfs.null_batch``, and are also the
smallest UDFs there are.

Separate from those two entry modules so that the pair is written once, as
one idea; here, because they exercise nothing but the agent.

>>> NullStream.info_response().info.wants, NullStream.info_response().info.provides
(0, 0)
>>> NullBatch.info_response().info.wants, NullBatch.info_response().info.provides
(1, 0)
"""

from __future__ import annotations

from .handler import Handler
from .points import new_point

__all__ = ["NullBatch", "NullStream"]


class NullStream(Handler):
    """Forward every point unchanged."""

    name = "null_stream"
    wants = "stream"
    provides = "stream"

    def point(self, p):
        self.forward(p)


class NullBatch(Handler):
    """Answer each batch with its size."""

    name = "null_batch"
    wants = "batch"
    provides = "stream"

    def batch(self, b):
        self.emit(new_point(b, {"Numberofmessages": len(b)}, time=b.tmax))
