"""``python -m udfs.moving_average``: a process UDF on stdin/stdout, or with ``--socket PATH`` a socket UDF."""

import sys

from udfs.agent import main
from udfs.moving_average.handler import MovingAverage

if __name__ == "__main__":
    sys.exit(main(MovingAverage))
