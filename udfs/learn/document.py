"""The model document: one small, versioned JSON object per entity model.

Fields (schema version 1)::

    schema       1
    key          the entity (store key) the model belongs to
    version      model version counter for this key (1 = first champion)
    algorithm    registry key, e.g. "logistic"
    task         "regression" | "classification"
    target       dependent variable name
    features     independent variable names, in input order
    transform    "", "log-lin", "lin-log" or "log-log"
    min, max     min-max scaling of the (transformed) inputs, per feature
    params       exported algorithm parameters (see ``algorithms``)
    hyper        the algorithm's hyperparameters
    metric       hold-out scores of the judged fit, e.g. {"mape": 0.04} or {"accuracy": .9, "logloss": .3}
    replaced     (optional) the previous champion's scores on the same hold-out rows, or null
    rows         rows the model was fitted on: the whole window once deployed (judge, then
                 refit), the training part for a challenger that lost
    window_rows  rows in the window
    created      UTC time of training, ISO 8601

Optional fields, added within schema 1 (documents without them stay valid, and
readers that do not know them ignore them)::

    holdout_rows    newest rows of the window that judged the fit
    primary_metric  the regression metric that judged ("mape" when absent)
    until           time of the newest row the model was fitted on, as the
                    window gave it (nanoseconds from Kapacitor); the next
                    champion/challenger comparison uses only later rows
    windows_until   time of the newest row of the newest window this entity's
                    training has judged (deployed or kept); a window whose newest
                    row is not newer is skipped, so history replayed again (a
                    resumed backfill, a chunk's lead-in, a repaired gap) trains
                    no window twice. Without it, ``until`` stands in.
    windows         windows judged for this entity (deployed or kept), carried
                    from champion to challenger

Documents are plain dicts; ``encode``/``decode`` are the only way to bytes
and back, and ``decode`` refuses documents of another schema version.
``supersedes`` orders two documents of one key, the same way wherever they
meet (a store, a shard materialising the shared model topic).

Bounds: a document may come from another process, or another shard through
Kafka, and one that passes ``validate`` must compile and predict, and order
against others (``supersedes``), without an error. So, besides the fields'
types: at most ``MAX_DOCUMENT_BYTES`` encoded; ``version``, ``rows``,
``window_rows``, ``holdout_rows`` and ``windows`` whole numbers in
``[0, MAX_COUNT)`` (a ``version`` of 2**63 would not fit the int64 field
predictions carry it in, and a champion that high could never be replaced);
``until`` and ``windows_until`` within int64 nanoseconds; no NaN or Infinity
anywhere, and every number a reader uses finite (``min``, ``max``, the
parameters, ``metric``, ``hyper``, ``replaced``); features named by strings;
and ``params`` what its algorithm can run on that many features
(``Algorithm.check``: shapes, tree layout and depth, split features in
range, sizes). Anything else is a ValueError naming what is wrong, which a
reader counts as a bad document and skips.
"""

from __future__ import annotations

import json
import math
from typing import Any

from .algorithms import ALGORITHMS, TASKS
from .algorithms.base import numbers
from .transforms import TRANSFORMS

SCHEMA_VERSION = 1
MAX_DOCUMENT_BYTES = 4 * 2**20
MAX_COUNT = 2**62  # versions and row counts stay below; +1 never overflows an int64
_COUNTS = ("version", "rows", "window_rows", "holdout_rows", "windows")
_TIMES = ("until", "windows_until")

_REQUIRED: dict[str, type | tuple[type, ...]] = {
    "schema": int, "key": str, "version": int, "algorithm": str, "task": str, "target": str,
    "features": list, "transform": str, "min": list, "max": list, "params": dict,
    "hyper": dict, "metric": dict, "rows": int, "window_rows": int, "created": str,
}
_OPTIONAL: dict[str, type | tuple[type, ...]] = {"holdout_rows": int, "primary_metric": str, "until": (int, float),
                                                 "windows_until": (int, float), "windows": int}


def validate(doc: Any) -> dict:
    """Return ``doc`` if it is a model document this code can use, else ValueError.

    Examples
    --------
    >>> validate({"schema": 99})
    Traceback (most recent call last):
    ...
    ValueError: model document has schema version 99; this tickml reads version 1
    """
    if not isinstance(doc, dict):
        raise ValueError(f"model document must be a JSON object, got {type(doc).__name__}")
    if doc.get("schema") != SCHEMA_VERSION:
        raise ValueError(f"model document has schema version {doc.get('schema')!r}; "
                         f"this tickml reads version {SCHEMA_VERSION}")
    problems = [f"{k} missing" for k in _REQUIRED if k not in doc]
    problems += [f"{k} must be {_REQUIRED[k].__name__}, got {type(doc[k]).__name__}"
                 for k in _REQUIRED if k in doc and not isinstance(doc[k], _REQUIRED[k])]
    problems += [f"{k} must be {getattr(t, '__name__', 'a number')}, got {type(doc[k]).__name__}"
                 for k, t in _OPTIONAL.items() if doc.get(k) is not None and not isinstance(doc[k], t)]
    if not problems:
        if doc["algorithm"] not in ALGORITHMS:
            problems.append(f"unknown algorithm {doc['algorithm']!r}")
        if doc["task"] not in TASKS:
            problems.append(f"unknown task {doc['task']!r}")
        if doc["transform"] not in TRANSFORMS:
            problems.append(f"unknown transform {doc['transform']!r}")
        k = len(doc["features"])
        if k == 0 or len(doc["min"]) != k or len(doc["max"]) != k:
            problems.append("features, min and max must be non-empty and of equal length")
    if not problems:
        problems += _out_of_bounds(doc, k)
    if problems:
        raise ValueError(f"bad model document for key {doc.get('key')!r}: " + "; ".join(problems))
    return doc


def _out_of_bounds(doc: dict, k: int) -> list[str]:
    """The bounds of a document whose fields have the right types (module docstring)."""
    problems = [f"{name} must be a whole number in [0, 2**62), got {_shown(doc[name])}" for name in _COUNTS
                if doc.get(name) is not None and (isinstance(doc[name], bool) or not 0 <= doc[name] < MAX_COUNT)]
    problems += [f"{name} must be a finite number of nanoseconds within int64, got {_shown(doc[name])}"
                 for name in _TIMES if doc.get(name) is not None
                 and (isinstance(doc[name], bool) or abs(doc[name]) >= 2**63 or not math.isfinite(doc[name]))]
    if not all(isinstance(name, str) for name in doc["features"]):
        problems.append("features must be names (strings)")
    for name in ("min", "max"):
        try:
            numbers(doc[name], name)
        except ValueError as exc:
            problems.append(str(exc))
    # The small free-form parts: no NaN or infinity however they are nested.
    for name in ("metric", "hyper", "replaced"):
        if not _finite(doc.get(name)):
            problems.append(f"{name} holds a number that is NaN or infinite")
    if not problems:
        try:
            ALGORITHMS[doc["algorithm"]].check(doc["params"], k)
        except KeyError as exc:
            problems.append(f"params of a {doc['algorithm']} model lack {exc}")
        except (ValueError, TypeError) as exc:
            problems.append(f"params of a {doc['algorithm']} model: {exc}")
    return problems


def _finite(value: Any) -> bool:
    pending = [value]  # a stack, not recursion: nesting is as deep as the sender made it
    while pending:
        item = pending.pop()
        if isinstance(item, float) and not math.isfinite(item):
            return False
        if isinstance(item, dict):
            pending += item.values()
        elif isinstance(item, list):
            pending += item
    return True


def _shown(value: Any) -> str:
    # An int of thousands of digits is neither worth printing nor printable (Python limits int to str).
    return f"an integer of {value.bit_length()} bits" if isinstance(value, int) and value.bit_length() > 64 \
        else repr(value)


def encode(doc: dict) -> bytes:
    """Compact UTF-8 JSON. Floats use ``repr``, so decoding gives the same numbers.

    A document larger than ``MAX_DOCUMENT_BYTES`` is a ValueError, here as in
    :func:`decode`: a model stored here could not be read back, nor by a shard.

    Examples
    --------
    >>> encode({"a": [0.1, 2]})
    b'{"a":[0.1,2]}'
    """
    return _bounded(json.dumps(doc, separators=(",", ":"), allow_nan=False).encode())


def decode(data: bytes | str) -> dict:
    """Parse and validate a document written by :func:`encode`; ValueError for anything else.

    >>> decode(b'{"schema": 1, "version": NaN}')
    Traceback (most recent call last):
    ...
    ValueError: model document holds NaN; its numbers must be finite
    """
    data = _bounded(data.encode() if isinstance(data, str) else data)
    try:
        doc = json.loads(data, parse_constant=_refuse_constant)
    except json.JSONDecodeError as exc:
        raise ValueError(f"model document is not valid JSON: {exc}") from None
    except RecursionError:
        raise ValueError("model document is not valid JSON: nested too deeply") from None
    return validate(doc)


def _bounded(blob: bytes) -> bytes:
    if len(blob) > MAX_DOCUMENT_BYTES:
        raise ValueError(f"model document is {len(blob):,} bytes, more than MAX_DOCUMENT_BYTES "
                         f"({MAX_DOCUMENT_BYTES:,} bytes)")
    return blob


def _refuse_constant(name: str) -> None:
    # json reads NaN, Infinity and -Infinity (never written by encode) through here.
    raise ValueError(f"model document holds {name}; its numbers must be finite")


def supersedes(doc: dict, current: dict | None) -> bool:
    """Whether ``doc`` replaces ``current`` as the champion of their key.

    The higher ``version`` wins, so a champion never goes back to an older
    one. The same version carries on with newer marks of what was judged
    (a kept window advances ``windows_until``): the newer mark wins. Two
    shards can both deploy a key's next version when its partition moves in
    the middle of a window (both closed it); the tie goes to the later
    ``created``, then to the larger encoding, so every store that sees both
    keeps the same one whatever order they arrive in. A document does not
    supersede itself.

    Examples
    --------
    >>> old = {"version": 3, "created": "2026-01-01T00:00:00.000Z"}
    >>> supersedes(dict(old, version=4), old), supersedes(old, dict(old, version=4)), supersedes(old, old)
    (True, False, False)
    >>> supersedes(dict(old, created="2026-01-01T00:00:01.000Z"), old), supersedes(old, None)
    (True, True)
    >>> supersedes(dict(old, windows_until=20), dict(old, windows_until=10, created="2027-01-01T00:00:00.000Z"))
    True
    """
    if current is None:
        return True
    return _order(doc) > _order(current)


def _order(doc: dict) -> tuple:
    judged = doc.get("windows_until", doc.get("until"))
    return doc["version"], float("-inf") if judged is None else judged, doc["created"], encode(doc)
