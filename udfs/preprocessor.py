"""Deprecated name of the ``preprocess`` UDF: use ``python -m udfs.preprocess``.

Kept one release so that a ``tickml-udf@preprocessor`` unit keeps working. (A
kapacitor.conf whose ``preprocess`` socket is still ``preprocessor.sock`` needs
nothing from here: the runner serves each function of ``udfs/registry.py``,
``udfs.preprocess`` for ``preprocess``, on the path kapacitor.conf names.) Not a
UDF folder and not in the registry: an alias, not a UDF of its own.
"""

import logging
import sys

from udfs.agent import main
from udfs.preprocess import Preprocess

if __name__ == "__main__":
    logging.getLogger(__name__).warning("udfs.preprocessor is deprecated: run python -m udfs.preprocess")
    sys.exit(main(Preprocess))
