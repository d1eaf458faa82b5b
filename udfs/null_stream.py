"""null_stream: every point passed on as the bytes it came in, nothing else.

The ceiling of a stream → stream UDF: what Kapacitor's side of the UDF
protocol and the agent cost with no work at all (``bench/udf_ceiling.py``
measures each shipped UDF beside it). Also the smallest UDF there is.

>>> NullStream.info_response().info.wants, NullStream.info_response().info.provides
(0, 0)
"""

from __future__ import annotations

import sys

from udfs.agent import Handler, main


class NullStream(Handler):
    """Forward every point unchanged."""

    name = "null_stream"
    wants = "stream"
    provides = "stream"

    def point(self, p):
        self.forward(p)


if __name__ == "__main__":
    sys.exit(main(NullStream))
