"""moving_average: per-entity moving average over the last ``size`` points.

What it wants, provides and takes: ``README.md`` beside this file; the handler: ``handler.py``.
Imported as ``udfs.moving_average`` (the handler's names are re-exported), run as ``python -m udfs.moving_average``.
"""

from udfs.moving_average.handler import MovingAverage

__all__ = ["MovingAverage"]
