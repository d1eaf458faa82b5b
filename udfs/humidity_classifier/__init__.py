"""humidity_classifier: pass on only points whose humidity is above a threshold.

What it wants, provides and takes: ``README.md`` beside this file; the handler: ``handler.py``.
Imported as ``udfs.humidity_classifier`` (the handler's names are re-exported), run as ``python -m udfs.humidity_classifier``.
"""

from udfs.humidity_classifier.handler import HumidityClassifier

__all__ = ["HumidityClassifier"]
