"""null_batch: one point per batch, with the number of points, and no other work.

What it wants, provides and takes: ``README.md`` beside this file. Its handler is written once with
its pair's in ``udfs/agent/null.py`` (it exercises nothing but the agent); run as ``python -m udfs.null_batch``.
"""

from udfs.agent.null import NullBatch

__all__ = ["NullBatch"]
