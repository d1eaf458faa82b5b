"""py_classifier: pass on only points whose temperature is out of band.

What it wants, provides and takes: ``README.md`` beside this file; the handler: ``handler.py``.
Imported as ``udfs.py_classifier`` (the handler's names are re-exported), run as ``python -m udfs.py_classifier``.
"""

from udfs.py_classifier.handler import PyClassifier

__all__ = ["PyClassifier"]
