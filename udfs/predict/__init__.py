"""predict: each point answered by its entity"s champion model.

What it wants, provides and takes: ``README.md`` beside this file; the handler: ``handler.py``.
Imported as ``udfs.predict`` (the handler's names are re-exported), run as ``python -m udfs.predict``.
"""

from udfs.predict.handler import Predict

__all__ = ["Predict"]
