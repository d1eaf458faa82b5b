"""``python -m udfs.humidity_classifier``: a process UDF on stdin/stdout, or with ``--socket PATH`` a socket UDF."""

import sys

from udfs.agent import main
from udfs.humidity_classifier.handler import HumidityClassifier

if __name__ == "__main__":
    sys.exit(main(HumidityClassifier))
