"""``python -m udfs.preprocess``: a process UDF on stdin/stdout, or with ``--socket PATH`` a socket UDF."""

import sys

from udfs.agent import main
from udfs.preprocess.handler import Preprocess

if __name__ == "__main__":
    sys.exit(main(Preprocess))
