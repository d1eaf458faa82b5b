"""The layers, checked over every module's imports (inside functions too): the UDFs and the device library
stand on their own, and the tooling (tickml) sits above them."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# A package, and the packages of ours it may not import. The device library may use the UDF agent's framing
# (protobuf's varint, devices/otlp.py): both are below the tooling.
BELOW = {"udfs": ("tickml", "devices"), "devices": ("tickml",)}


def imports(path: Path) -> list[tuple[int, str]]:
    """Every module an import statement of ``path`` names, with its line, wherever the statement stands."""
    out = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            out += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            out.append((node.lineno, node.module))
    return out


@pytest.mark.parametrize("package", sorted(BELOW))
def test_a_lower_package_imports_nothing_above_it(package):
    forbidden = BELOW[package]
    found = [f"{path.relative_to(ROOT)}:{line} imports {name}"
             for path in sorted((ROOT / package).rglob("*.py"))
             for line, name in imports(path) if name.split(".")[0] in forbidden]
    assert not found, "\n".join(found)


def test_the_check_sees_an_import_inside_a_function(tmp_path):
    module = tmp_path / "m.py"
    module.write_text("def f():\n    from tickml import secrets\n")
    assert imports(module) == [(2, "tickml")]
