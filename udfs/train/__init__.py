"""train: one model per entity, retrained on every window, the better model kept.

What it wants, provides and takes: ``README.md`` beside this file; the handler: ``handler.py``.
Imported as ``udfs.train`` (the handler's names are re-exported), run as ``python -m udfs.train``.
"""

from udfs.train.handler import Train

__all__ = ["Train"]
