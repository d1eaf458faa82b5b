"""anomaly: a per-entity streaming anomaly score for every point.

What it wants, provides and takes: ``README.md`` beside this file; the handler: ``handler.py``; the
detector: ``udfs/detect``. Imported as ``udfs.anomaly``, run as ``python -m udfs.anomaly``.
"""

from udfs.anomaly.handler import Anomaly

__all__ = ["Anomaly"]
