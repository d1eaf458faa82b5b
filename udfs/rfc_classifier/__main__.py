"""``python -m udfs.rfc_classifier``: a process UDF on stdin/stdout, or with ``--socket PATH`` a socket UDF."""

import sys

from udfs.agent import main
from udfs.rfc_classifier.handler import RfcClassifier

if __name__ == "__main__":
    sys.exit(main(RfcClassifier))
