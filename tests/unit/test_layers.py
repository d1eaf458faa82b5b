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


def imports(path: Path, root: Path = ROOT) -> list[tuple[int, str]]:
    """Every module an import statement of ``path`` names, with its line, wherever the statement stands; a
    relative import as the absolute name it resolves to."""
    package = list(path.relative_to(root).with_suffix("").parts)[:-1]
    out = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            out += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = package[:len(package) - node.level + 1] if node.level else []
            module = ".".join([*base, *([node.module] if node.module else [])])
            # ``from a import b`` may name the module a.b: both, for the cycle check to trim.
            out += [(node.lineno, module)] + [(node.lineno, f"{module}.{alias.name}") for alias in node.names]
    return out


# The UDFs' libraries import no protocol: Kapacitor's agent is the handlers' business alone.
LIBRARIES = ("udfs/learn", "udfs/windowstats", "udfs/detect")


@pytest.mark.parametrize("folder", LIBRARIES)
def test_the_udf_libraries_import_no_protocol(folder):
    found = [f"{path.relative_to(ROOT)}:{line} imports {name}"
             for path in sorted((ROOT / folder).rglob("*.py"))
             for line, name in imports(path) if name == "udfs.agent" or name.startswith("udfs.agent.")]
    assert not found, "\n".join(found)


@pytest.mark.parametrize("package", sorted(BELOW))
def test_a_lower_package_imports_nothing_above_it(package):
    forbidden = BELOW[package]
    found = [f"{path.relative_to(ROOT)}:{line} imports {name}"
             for path in sorted((ROOT / package).rglob("*.py"))
             for line, name in sorted(set(imports(path))) if name.split(".")[0] in forbidden]
    assert not found, "\n".join(found)


def test_the_check_sees_an_import_inside_a_function_and_a_relative_one(tmp_path):
    module = tmp_path / "udfs" / "learn" / "m.py"
    module.parent.mkdir(parents=True)
    module.write_text("from ..agent import x\ndef f():\n    from tickml import secrets\n")
    assert sorted(imports(module, root=tmp_path)) == [(1, "udfs.agent"), (1, "udfs.agent.x"), (3, "tickml"),
                                                      (3, "tickml.secrets")]


def module_name(path: Path, root: Path = ROOT) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def cycles(package: str, root: Path = ROOT) -> list[list[str]]:
    """The import cycles among ``package``'s modules (every import, inside functions too): each strongly
    connected set of more than one module."""
    modules = {module_name(p, root): p for p in (root / package).rglob("*.py")}
    graph = {}
    for name, path in modules.items():
        targets = set()
        for _, imported in imports(path, root):
            # ``from a.b import c`` names a.b.c when c is a module, else a.b.
            while imported and imported not in modules:
                imported = imported.rpartition(".")[0]
            if imported and imported != name and not name.startswith(imported + "."):
                targets.add(imported)
        graph[name] = targets
    # Tarjan's strongly connected components.
    index, low, stack, on, out, counter = {}, {}, [], set(), [], [0]

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                out.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


@pytest.mark.parametrize("package", ["udfs", "devices", "tickml"])
def test_no_import_cycles(package):
    assert cycles(package) == []


def test_the_cycle_check_finds_one_closed_by_an_import_inside_a_function(tmp_path):
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "__init__.py").write_text("")
    (tmp_path / "pkg" / "a.py").write_text("from pkg import b\n")
    (tmp_path / "pkg" / "b.py").write_text("def f():\n    from pkg.a import g\n")
    assert cycles("pkg", root=tmp_path) == [["pkg.a", "pkg.b"]]


@pytest.mark.parametrize("init", sorted(str(p.relative_to(ROOT)) for p in (ROOT / "tickml").rglob("__init__.py")))
def test_a_tooling_package_imports_nothing_on_import(init):
    """Importing one of the tools' modules never loads its package's siblings (``import tickml.influx`` once
    started the whole runner): what a module needs, it imports itself."""
    assert imports(ROOT / init) == []
