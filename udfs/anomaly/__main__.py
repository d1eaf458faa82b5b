"""``python -m udfs.anomaly``: a process UDF on stdin/stdout, or with ``--socket PATH`` a socket UDF."""

import sys

from udfs.agent import main
from udfs.anomaly.handler import Anomaly

if __name__ == "__main__":
    sys.exit(main(Anomaly))
