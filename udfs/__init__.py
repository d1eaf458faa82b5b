"""Kapacitor UDFs for per-entity streaming machine learning.

Each UDF is a folder of this package, ``udfs/<name>/``, named like its
``@function()`` in kapacitor.conf: ``handler.py`` (the handler class),
``__main__.py`` (so ``python -m udfs.<name>`` is a process UDF and
``python -m udfs.<name> --socket PATH`` a socket UDF), ``README.md`` (what it
wants, provides and takes) and ``golden/`` (options, input and expected
output, replayed by the conformance suite). ``udfs/registry.py`` lists them
all, one line each; the stack, kapacitor.conf's check and the test suites
read it. The UDF modules are thin: options, the entity, the output point;
the work is in the libraries:

- ``udfs.agent``: Kapacitor's UDF protocol, servers and the handler API.
- ``udfs.windowstats``: the window statistics of ``@preprocess()``, one registry.
- ``udfs.learn``: per-entity models, their JSON store, champion/challenger,
  for ``@train()`` and ``@predict()``.

Beside them, helpers the UDFs share: ``udfs.entity`` (the entity key of a
point or batch) and ``udfs.confine`` (paths kept inside the service's roots).

Adding a statistic, an algorithm or a UDF: ``CONTRIBUTING.md``.
"""
