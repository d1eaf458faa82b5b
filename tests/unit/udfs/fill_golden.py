"""Write the expected output of golden cases that have none yet: ``python tests/unit/udfs/fill_golden.py FILE...``.

Run from the project's root. It runs each case's options and input through
the handler (in process, with a temporary model root) and writes what came
out as ``expected``, and the agent's bad point counter as ``bad_points``.
What it writes is what the handler does today, not what it should do:
read it and check it by hand before it becomes the golden answer.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parents[1]), str(HERE.parents[2])]

import golden  # noqa: E402
import inprocess  # noqa: E402
import udfs.learn.paths  # noqa: E402
from udfs import registry  # noqa: E402
from udfs.confine import Root  # noqa: E402


def fill(path: Path) -> None:
    case = golden.load(path)
    udf = registry.get(path.parent.parent.name)
    with tempfile.TemporaryDirectory(prefix="tickml-golden-") as root:
        udfs.learn.paths.MODEL_ROOT = Root("model root", root, udfs.learn.paths.MODEL_ROOT_VARIABLE)
        out, conn = inprocess.run_case(udf, case, root)
    raw = json.loads(path.read_text())
    raw["expected"] = [without(item, case["ignore_fields"]) for item in out]
    raw["bad_points"] = conn.stats["bad_points"]
    path.write_text(golden.dump(raw))
    print(f"{path}: {len(out)} items, {raw['bad_points']} bad points")


def without(item: dict, ignore: list[str]) -> dict:
    """``item`` without the fields a case does not compare (a wall-clock time would only mislead a reader)."""
    if "batch" in item:
        return {"batch": {**item["batch"], "points": [without(p, ignore) for p in item["batch"]["points"]]}}
    return {**item, "fields": {k: v for k, v in item["fields"].items() if k not in ignore}}


if __name__ == "__main__":
    for name in sys.argv[1:]:
        fill(Path(name))
