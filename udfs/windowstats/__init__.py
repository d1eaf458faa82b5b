"""Window preprocessing: every preprocessing type of the TML seed, one registry.

Pure statistics over one window of one field; no protobuf, no Kapacitor.

- ``compute(type_name, values, times=None, **params)``: one type, one window.
- ``compute_many(types, values, times=None)`` / ``Plan(types).compute(...)``:
  several types over one window, values converted once; the result carries
  ``skipped`` and ``fields(field_name)``, the output fields to write.
- ``compute_batch(types, rows, times=None)``: many equal-length windows, one
  per row of a 2-D array, vectorised for the common types.
- ``parse_type(name, **params)``, ``output_names(field, name)``: names.
- ``REGISTRY``: type name -> ``PreprocessType`` (function, view read,
  parameters, outputs, minimum length); ``type_names()``.

>>> compute("anomprob", [10.0, 10.1, 9.9, 10.0, 55.0]) > 99
True
>>> output_names("Current_preprocessed_AnomProb", "avg")
('Current_preprocessed_AnomProb_preprocessed_Avg',)
"""

from .batch import BatchResult, compute_batch
from .evaluate import Plan, WindowResult, compute, compute_many
from .registry import REGISTRY, PreprocessType, TypeSpec, output_names, parse_type, type_names

__all__ = [
    "REGISTRY",
    "BatchResult",
    "Plan",
    "PreprocessType",
    "TypeSpec",
    "WindowResult",
    "compute",
    "compute_batch",
    "compute_many",
    "output_names",
    "parse_type",
    "type_names",
]
