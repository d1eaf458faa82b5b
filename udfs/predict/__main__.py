"""``python -m udfs.predict``: a process UDF on stdin/stdout, or with ``--socket PATH`` a socket UDF."""

import sys

from udfs.agent import main
from udfs.predict.handler import Predict

if __name__ == "__main__":
    sys.exit(main(Predict))
