"""null_stream: every point passed on as the bytes it came in, nothing else.

The ceiling of a stream → stream UDF: what Kapacitor's side of the UDF
protocol and the agent cost with no work at all (``bench/udf_ceiling.py``
measures each shipped UDF beside it). Its handler, and null_batch's, are
in ``udfs/agent/null.py``.
"""

import sys

from udfs.agent import main
from udfs.agent.null import NullStream

if __name__ == "__main__":
    sys.exit(main(NullStream))
