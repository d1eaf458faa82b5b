"""Golden cases: a UDF's options, input points and expected output points, as JSON beside the UDF.

A case is ``udfs/<name>/golden/<case>.json``::

    {
      "about": "what the case shows",
      "options": {"field": "temperature", "low": 20.0},
      "before": [{"udf": "train", "options": {...}, "input": [...]}],   (optional: runs first, same model root)
      "input": [ITEM, ...],
      "expected": [ITEM, ...],
      "bad_points": 0,                       (optional: the agent's bad point counter afterwards)
      "ignore_fields": ["Deployed"],         (optional: fields whose value changes run to run)
      "tolerance": 1e-9                      (optional: relative, for doubles)
    }

``golden.schema.json`` beside this module is the format's schema; ``load`` checks a case against it, so a
misspelt key or a point without ``time`` fails as such, not as a puzzling difference.

An ITEM is a stream point ``{"time": ns, "tags": {...}, "fields": {...}}``
(``dimensions``, the group-by tags, default to every tag; ``name``
defaults to ``m``) or a batch ``{"batch": {"tags": {...}, "tmax": ns,
"points": [POINT, ...]}}``. A field's Kapacitor type is its JSON type:
``1.0`` a double, ``1`` an integer, ``"x"`` a string, ``true`` a boolean;
``NaN`` is a double that is not a number. Expected items are compared
with the same types: an integer where a double was expected is a
difference.
"""

from __future__ import annotations

import functools
import json
import math
from pathlib import Path
from typing import Any

import jsonschema

from udfs.agent import udf_pb2

SCHEMA = Path(__file__).with_name("golden.schema.json")


class CaseError(ValueError):
    """A golden case that does not follow the format; the message names the file and the place."""


@functools.cache
def _validator() -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(json.loads(SCHEMA.read_text()))


def load(path: Path) -> dict:
    """A case, checked against the schema, with its defaults filled in."""
    case = json.loads(path.read_text())
    errors = sorted(_validator().iter_errors(case), key=lambda e: list(e.absolute_path))
    if errors:
        raise CaseError(f"{path}: " + "; ".join(f"at {'/'.join(map(str, e.absolute_path)) or 'the top'}: {e.message}"
                                                for e in errors[:5]))
    case.setdefault("before", [])
    case.setdefault("ignore_fields", [])
    case.setdefault("tolerance", 1e-9)
    return case


def dump(case: dict) -> str:
    """A case as JSON a reviewer can read: one key per line, one ITEM (a batch's point) per line."""
    def items_text(items: list, indent: str) -> str:
        lines = []
        for item in items:
            if "batch" in item:
                batch = item["batch"]
                head = json.dumps({k: v for k, v in batch.items() if k != "points"})[:-1]
                points = f",\n{indent}   ".join(json.dumps(p) for p in batch["points"])
                lines.append(f'{{"batch": {head}, "points": [\n{indent}   {points}]}}}}')
            else:
                lines.append(json.dumps(item))
        return "[\n" + ",\n".join(indent + " " + line for line in lines) + f"\n{indent}]" if lines else "[]"

    parts = []
    for key, value in case.items():
        if key in ("input", "expected"):
            parts.append(f'  "{key}": {items_text(value, "  ")}')
        elif key == "before":
            steps = [f'{{"udf": {json.dumps(s["udf"])}, "options": {json.dumps(s["options"])}, '
                     f'"input": {items_text(s["input"], "    ")}}}' for s in value]
            parts.append('  "before": [\n    ' + ",\n    ".join(steps) + "\n  ]")
        else:
            parts.append(f"  {json.dumps(key)}: {json.dumps(value)}")
    return "{\n" + ",\n".join(parts) + "\n}\n"


# -- to the protocol -----------------------------------------------------------

def group_of(tags: dict[str, str], dimensions: list[str]) -> str:
    """The group Kapacitor gives a point grouped by ``dimensions`` (the tag values, in tag-name order)."""
    return ",".join(f"{d}={tags.get(d, '')}" for d in sorted(dimensions)) + ","


def point_message(item: dict) -> udf_pb2.Point:
    tags = dict(item.get("tags", {}))
    dimensions = list(item.get("dimensions", sorted(tags)))
    p = udf_pb2.Point(time=item["time"], name=item.get("name", "m"), group=group_of(tags, dimensions), tags=tags,
                      dimensions=dimensions, database="telemetry", retentionPolicy="autogen")
    for key, value in item.get("fields", {}).items():
        if isinstance(value, bool):
            p.fieldsBool[key] = value
        elif isinstance(value, int):
            p.fieldsInt[key] = value
        elif isinstance(value, float):
            p.fieldsDouble[key] = value
        else:
            p.fieldsString[key] = value
    return p


def requests(items: list[dict]) -> list[udf_pb2.Request]:
    """The requests Kapacitor sends for ``items``: a point each, a batch as begin, its points, end."""
    out = []
    for item in items:
        if "batch" not in item:
            out.append(udf_pb2.Request(point=point_message(item)))
            continue
        batch = item["batch"]
        tags = dict(batch.get("tags", {}))
        group = group_of(tags, sorted(tags))
        points = [point_message({"tags": tags, **p}) for p in batch["points"]]
        tmax = batch.get("tmax", max((p.time for p in points), default=0))
        out.append(udf_pb2.Request(begin=udf_pb2.BeginBatch(name="m", group=group, tags=tags, size=len(points))))
        out += [udf_pb2.Request(point=p) for p in points]
        out.append(udf_pb2.Request(end=udf_pb2.EndBatch(name="m", group=group, tags=tags, tmax=tmax)))
    return out


def option_messages(options: dict[str, Any]) -> list[udf_pb2.Option]:
    """InitRequest options from JSON values: the Kapacitor type follows the JSON type."""
    out = []
    for name, value in options.items():
        v = udf_pb2.OptionValue()
        if isinstance(value, bool):
            v.type, v.boolValue = udf_pb2.BOOL, value
        elif isinstance(value, int):
            v.type, v.intValue = udf_pb2.INT, value
        elif isinstance(value, float):
            v.type, v.doubleValue = udf_pb2.DOUBLE, value
        else:
            v.type, v.stringValue = udf_pb2.STRING, value
        out.append(udf_pb2.Option(name=name, values=[v]))
    return out


# -- from the protocol ---------------------------------------------------------

def point_item(p: udf_pb2.Point) -> dict:
    fields: dict[str, Any] = {}
    for typed in (p.fieldsDouble, p.fieldsInt, p.fieldsString, p.fieldsBool):
        fields.update(typed)
    return {"time": p.time, "tags": dict(p.tags), "fields": fields}


def items(responses: list[udf_pb2.Response]) -> list[dict]:
    """The data in ``responses`` as ITEMs (a batch's points inside it); other answers left out."""
    out: list[dict] = []
    open_batch = None
    for r in responses:
        kind = r.WhichOneof("message")
        if kind == "begin":
            open_batch = {"tags": dict(r.begin.tags), "points": []}
        elif kind == "point" and open_batch is not None:
            point = point_item(r.point)
            point.pop("tags")  # a batch's points carry its tags
            open_batch["points"].append(point)
        elif kind == "point":
            out.append(point_item(r.point))
        elif kind == "end" and open_batch is not None:
            out.append({"batch": {**open_batch, "tmax": r.end.tmax}})
            open_batch = None
    return out


# -- comparing -----------------------------------------------------------------

def differences(expected: list[dict], got: list[dict], ignore: list[str] = (), tolerance: float = 1e-9) -> list[str]:
    """What differs between two lists of ITEMs, as readable lines; empty when they match."""
    if len(expected) != len(got):
        return [f"{len(got)} items out, expected {len(expected)}: got {got}"]
    out = []
    for i, (want, have) in enumerate(zip(expected, got)):
        if ("batch" in want) != ("batch" in have):
            out.append(f"item {i}: expected a {'batch' if 'batch' in want else 'point'}, got {have}")
            continue
        if "batch" in want:
            w, h = want["batch"], have["batch"]
            if w.get("tags", {}) != h["tags"]:
                out.append(f"item {i}: batch tags {h['tags']}, expected {w.get('tags', {})}")
            if "tmax" in w and w["tmax"] != h["tmax"]:
                out.append(f"item {i}: batch tmax {h['tmax']}, expected {w['tmax']}")
            out += [f"item {i}: {line}" for line in differences(w["points"], h["points"], ignore, tolerance)]
            continue
        if want["time"] != have["time"]:
            out.append(f"item {i}: time {have['time']}, expected {want['time']}")
        if "tags" in want and want["tags"] != have["tags"]:
            out.append(f"item {i}: tags {have['tags']}, expected {want['tags']}")
        wf = {k: v for k, v in want["fields"].items() if k not in ignore}
        hf = {k: v for k, v in have["fields"].items() if k not in ignore}
        if wf.keys() != hf.keys():
            out.append(f"item {i}: fields {sorted(hf)}, expected {sorted(wf)}")
        for key in sorted(wf.keys() & hf.keys()):
            if not same_value(wf[key], hf[key], tolerance):
                out.append(f"item {i}: {key}={hf[key]!r}, expected {wf[key]!r}")
    return out


def same_value(want: Any, have: Any, tolerance: float) -> bool:
    """Equal, of the same Kapacitor type; doubles within ``tolerance`` (relative), NaN equal to NaN."""
    if type(want) is not type(have):
        return False
    if isinstance(want, float):
        if math.isnan(want) or math.isnan(have):
            return math.isnan(want) and math.isnan(have)
        return math.isclose(want, have, rel_tol=tolerance, abs_tol=tolerance)
    return want == have
