"""rfc_classifier: a random forest trained at start from a CSV, a prediction per point.

What it wants, provides and takes: ``README.md`` beside this file; the handler: ``handler.py``.
Imported as ``udfs.rfc_classifier`` (the handler's names are re-exported), run as ``python -m udfs.rfc_classifier``.
"""

from udfs.rfc_classifier.handler import (
    DATA_SET_ROOT, DATA_SET_ROOT_VARIABLE, RfcClassifier, column_fill, read_data_set, train_forest,
)

__all__ = ["DATA_SET_ROOT", "DATA_SET_ROOT_VARIABLE", "RfcClassifier", "column_fill", "read_data_set", "train_forest"]
