"""``python -m udfs.py_classifier``: a process UDF on stdin/stdout, or with ``--socket PATH`` a socket UDF."""

import sys

from udfs.agent import main
from udfs.py_classifier.handler import PyClassifier

if __name__ == "__main__":
    sys.exit(main(PyClassifier))
