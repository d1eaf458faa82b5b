"""preprocess: window statistics per entity, named ``<field>_preprocessed_<Type>``.

What it wants, provides and takes: ``README.md`` beside this file; the handler: ``handler.py``.
Imported as ``udfs.preprocess`` (the handler's names are re-exported), run as ``python -m udfs.preprocess``.
"""

from udfs.preprocess.handler import Preprocess

__all__ = ["Preprocess"]
