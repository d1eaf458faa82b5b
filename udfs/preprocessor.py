"""Deprecated name of the ``preprocess`` UDF: use ``python -m udfs.preprocess``.

Kept one release so that a kapacitor.conf whose socket is still
``preprocessor.sock`` (the runner serves ``udfs.<socket name>``) and a
``tickml-udf@preprocessor`` unit keep working.
"""

import logging
import sys

from udfs.agent import main
from udfs.preprocess import Preprocess

if __name__ == "__main__":
    logging.getLogger(__name__).warning("udfs.preprocessor is deprecated: run python -m udfs.preprocess")
    sys.exit(main(Preprocess))
