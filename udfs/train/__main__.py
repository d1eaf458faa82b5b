"""``python -m udfs.train``: a process UDF on stdin/stdout, or with ``--socket PATH`` a socket UDF."""

import sys

from udfs.agent import main
from udfs.train.handler import Train

if __name__ == "__main__":
    sys.exit(main(Train))
