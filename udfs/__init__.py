"""Kapacitor UDFs for per-entity streaming machine learning.

Each UDF is a module of this package, named like its ``@function()`` in
kapacitor.conf and runnable as ``python -m udfs.<name>`` (a process UDF) or
``python -m udfs.<name> --socket PATH`` (a socket UDF). The UDF modules are
thin: options, the entity, the output point; the work is in the libraries:

- ``udfs.agent``: Kapacitor's UDF protocol, servers and the handler API.
- ``udfs.windowstats``: the window statistics of ``@preprocess()``, one registry.
- ``udfs.learn``: per-entity models, their JSON store, champion/challenger,
  for ``@train()`` and ``@predict()``.

Adding a statistic, an algorithm or a UDF: ``CONTRIBUTING.md``.
"""
