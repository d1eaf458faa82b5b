"""null_batch: one point per batch, with the number of points, and no other work.

The ceiling of a batch → stream UDF (the shape of preprocess and train): what
Kapacitor's side of the UDF protocol and the agent cost when a window is
received and answered but nothing is computed (``bench/udf_ceiling.py``).

>>> NullBatch.info_response().info.wants, NullBatch.info_response().info.provides
(1, 0)
"""

from __future__ import annotations

import sys

from udfs.agent import Handler, main, new_point


class NullBatch(Handler):
    """Answer each batch with its size."""

    name = "null_batch"
    wants = "batch"
    provides = "stream"

    def batch(self, b):
        self.emit(new_point(b, {"Numberofmessages": len(b)}, time=b.tmax))


if __name__ == "__main__":
    sys.exit(main(NullBatch))
