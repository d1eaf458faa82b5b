"""null_batch: one point per batch, with the number of points, and no other work.

The ceiling of a batch → stream UDF (the shape of preprocess and train): what
Kapacitor's side of the UDF protocol and the agent cost when a window is
received and answered but nothing is computed (``bench/udf_ceiling.py``).
Its handler, and null_stream's, are in ``udfs/agent/null.py``.
"""

import sys

from udfs.agent import main
from udfs.agent.null import NullBatch

if __name__ == "__main__":
    sys.exit(main(NullBatch))
