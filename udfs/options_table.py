"""Every UDF option in one table, for README.md's UDF section: each name once, with its UDFs, type and default.

Built from the options tables of the UDFs' own READMEs (``udfs/<name>/README.md``, whose rows the conformance
suite holds to each handler's declared options), so the phrasing of a default lives in one place. Where UDFs
share an option name with different defaults, the default cell names each.

Run ``python -m udfs.options_table`` to rewrite the table in README.md; ``tests/unit/test_docs.py`` checks it.
"""

from __future__ import annotations

import re
from pathlib import Path

from udfs.registry import FOLDER, UDFS

README = FOLDER.parent / "README.md"
START, END = "<!-- options table: python -m udfs.options_table -->", "<!-- end of the options table -->"
_ROW = re.compile(r"^\| `(?P<name>[a-z_]+)` \| (?P<type>[a-z, ]+) \| (?P<default>[^|]+?) \| ")


def options(udf_readme: Path) -> list[tuple[str, str, str]]:
    """``(name, type, default)`` of each row of a UDF README's options table (the section ``## Options``)."""
    text = udf_readme.read_text()
    section = text.split("## Options", 1)[1].split("\n## ", 1)[0] if "## Options" in text else ""
    return [(m["name"], m["type"], m["default"]) for line in section.splitlines() if (m := _ROW.match(line))]


def render() -> str:
    by_name: dict[str, list[tuple[str, str, str]]] = {}
    for udf in UDFS:
        for name, kind, default in options(udf.folder / "README.md"):
            by_name.setdefault(name, []).append((udf.name, kind, default))
    lines = ["| option | `@function()` | type | default |", "|---|---|---|---|"]
    for name, uses in by_name.items():
        udfs = ", ".join(f"[`{u}`](udfs/{u}/README.md#options)" for u, _, _ in uses)
        kinds = " / ".join(dict.fromkeys(k for _, k, _ in uses))
        defaults = list(dict.fromkeys(d for _, _, d in uses))
        default = defaults[0] if len(defaults) == 1 else "; ".join(f"{u}: {d}" for u, _, d in uses)
        lines.append(f"| `{name}` | {udfs} | {kinds} | {default} |")
    return "\n".join(lines)


def in_readme(text: str) -> str:
    """What README.md holds between the table's markers."""
    return text.split(START, 1)[1].split(END, 1)[0].strip()


def main() -> None:
    text = README.read_text()
    head, rest = text.split(START, 1)
    README.write_text(f"{head}{START}\n{render()}\n{END}{rest.split(END, 1)[1]}")
    print(f"wrote the options table of {README} ({len(render().splitlines()) - 2} options)")


if __name__ == "__main__":
    main()
