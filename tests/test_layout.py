"""The package's layout: imports go one way, and no module reaches into another's private names.

Parsed from the source (no import runs): every ``import`` / ``from ... import`` of a fastgd
module, at module level or inside a function, is an edge of the import graph.
"""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "fastgd"


def _module_name(path):
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES = {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _is_package(name):
    return MODULES[name].name == "__init__.py"


def _resolve(importer, node):
    """The absolute module a ``from ... import`` names (relative levels resolved)."""
    if node.level == 0:
        return node.module
    base = importer.split(".")
    if not _is_package(importer):
        base = base[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def _private(part):
    return part.startswith("_") and not part.startswith("__")


def _imports(name):
    """(imported fastgd module, the names taken from it or None, the import node) of module ``name``."""
    tree = ast.parse(MODULES[name].read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "fastgd":
                    yield alias.name, None, node
        elif isinstance(node, ast.ImportFrom):
            module = _resolve(name, node)
            if module is None or module.split(".")[0] != "fastgd":
                continue
            for alias in node.names:
                sub = f"{module}.{alias.name}"
                if sub in MODULES:  # ``from . import api``: the module itself
                    yield sub, None, node
                else:
                    yield module, alias.name, node


def _module_aliases(name):
    """Local names bound to fastgd modules in ``name`` (``from . import api``, ``import fastgd.x as y``)."""
    aliases = {}
    for node in ast.walk(ast.parse(MODULES[name].read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            module = _resolve(name, node)
            for alias in node.names:
                if module and f"{module}.{alias.name}" in MODULES:
                    aliases[alias.asname or alias.name] = f"{module}.{alias.name}"
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.asname and alias.name in MODULES:
                    aliases[alias.asname] = alias.name
    return aliases


def test_the_parser_sees_the_package():
    assert {"fastgd", "fastgd.api", "fastgd.engine", "fastgd.options", "fastgd.kernels.sgd"} <= set(MODULES)
    edges = {target for target, _, _ in _imports("fastgd.api")}
    assert {"fastgd.engine", "fastgd.options", "fastgd._validation"} <= edges


def test_no_import_cycle():
    graph = {name: sorted({target for target, _, _ in _imports(name) if target in MODULES}) for name in MODULES}
    state, stack = {}, []

    def visit(name):
        state[name] = "open"
        stack.append(name)
        for target in graph[name]:
            if state.get(target) == "open":
                cycle = [*stack[stack.index(target) :], target]
                pytest.fail("import cycle: " + " -> ".join(cycle))
            if target not in state:
                visit(target)
        stack.pop()
        state[name] = "done"

    for name in MODULES:
        if name not in state:
            visit(name)


@pytest.mark.parametrize("name", sorted(MODULES))
def test_no_private_name_of_another_module(name):
    """No ``from x import _y``, no ``x._y`` on an imported module, and a private module
    (``kernels._config``) is imported only from inside its own package."""
    own_package = name if _is_package(name) else name.rpartition(".")[0]
    problems = []
    for module, imported, node in _imports(name):
        if imported is not None and _private(imported):
            problems.append(f"line {node.lineno}: from {module} import {imported}")
        parts = module.split(".")
        for depth, part in enumerate(parts):
            if _private(part):
                home = ".".join(parts[:depth])
                if not (own_package == home or own_package.startswith(home + ".")):
                    problems.append(f"line {node.lineno}: imports {module}, private to {home}")
    aliases = _module_aliases(name)
    for node in ast.walk(ast.parse(MODULES[name].read_text(encoding="utf-8"))):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and _private(node.attr):
            if node.value.id in aliases:
                problems.append(f"line {node.lineno}: {node.value.id}.{node.attr} ({aliases[node.value.id]})")
    assert not problems, f"{name} reaches into private names:\n" + "\n".join(problems)


def test_the_face_is_thin():
    """api.py holds fit's signature and docstring, and hands the work on."""
    lines = (PACKAGE / "api.py").read_text(encoding="utf-8").splitlines()
    assert len(lines) < 300
