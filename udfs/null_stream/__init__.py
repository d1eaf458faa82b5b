"""null_stream: every point passed on as the bytes it came in, nothing else.

What it wants, provides and takes: ``README.md`` beside this file. Its handler is written once with
its pair's in ``udfs/agent/null.py`` (it exercises nothing but the agent); run as ``python -m udfs.null_stream``.
"""

from udfs.agent.null import NullStream

__all__ = ["NullStream"]
