"""Kapacitor UDFs for per-entity streaming machine learning.

Subpackages:

- ``udfs.agent``: Kapacitor's UDF protocol, servers and the handler API.
- ``udfs.preprocess``: window statistics, one registry.
- ``udfs.learn``: per-entity models, their JSON store, champion/challenger.

Each UDF is a module runnable as ``python -m udfs.<name>``.
"""
