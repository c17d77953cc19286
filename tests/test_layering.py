"""The package's layers: dependencies point inward, compute and agent import each other one way only, no cycles.

Every ``ml_lifecycle`` import of every module counts, those inside functions too (they are dependencies as well).
"""

from __future__ import annotations

import ast
import sys
from collections import defaultdict
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "operators"

# Package-level modules any layer may use: the error hierarchy, settings read from the environment, and the boto3
# clients built from an Airflow connection (stores and registries reach AWS through them).
SHARED = (
    "ml_lifecycle.errors",
    "ml_lifecycle.settings",
    "ml_lifecycle.aws_clients",
    "ml_lifecycle.secret_sources",
    "ml_lifecycle.secret_sources.values",
    "ml_lifecycle",
)
# What each layer may import besides itself and SHARED (core may import only core).
ALLOWED = {
    "core": (),
    "stores": ("core",),
    "registries": ("core", "stores"),
    "compute": ("core", "stores", "registries"),
    "agent": ("core", "stores", "registries", "compute"),
}


def _module_name(path: Path) -> str:
    """Return the dotted name of a module file.

    :param path: a .py file below the package.
    """
    parts = path.relative_to(PACKAGE).with_suffix("").parts
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(("ml_lifecycle", *parts))


def _all_imports(path: Path) -> set[str]:
    """Return every module a file imports (names inside ``from`` imports too), wherever in the file.

    :param path: the file.
    """
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.add(node.module)
            if node.module.startswith("ml_lifecycle"):
                found.update(f"{node.module}.{a.name}" for a in node.names)
    return found


def _imports(path: Path) -> set[str]:
    """Return every ml_lifecycle module a file imports, wherever in the file.

    :param path: the file.
    """
    return {name for name in _all_imports(path) if name.startswith("ml_lifecycle")}


def _layer(module: str) -> str:
    """Return a module's layer: its first package below ml_lifecycle, or ``glue`` for the Airflow side.

    :param module: the dotted name.
    """
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[1] in ALLOWED else "glue"


MODULES = {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _known(name: str) -> str | None:
    """Return the module an imported name refers to (a module, or a name inside one), or None.

    :param name: ``ml_lifecycle.x.y`` or ``ml_lifecycle.x.y.SomeClass``.
    """
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


GRAPH = {module: {m for m in map(_known, _imports(path)) if m and m != module} for module, path in MODULES.items()}


@pytest.mark.parametrize("layer", sorted(ALLOWED))
def test_each_layer_imports_only_what_lies_inward(layer: str) -> None:
    wrong = sorted(
        f"{module} imports {target}"
        for module, targets in GRAPH.items()
        if _layer(module) == layer
        for target in targets
        if target not in SHARED and _layer(target) not in (layer, *ALLOWED[layer])
    )
    assert wrong == []


def test_core_imports_nothing_of_ours_outside_core() -> None:
    wrong = sorted(
        f"{module} imports {target}"
        for module, targets in GRAPH.items()
        if _layer(module) == "core"
        for target in targets
        if _layer(target) != "core"
    )
    assert wrong == []


def test_compute_never_imports_the_agent_or_the_airflow_glue() -> None:
    wrong = sorted(
        f"{module} imports {target}"
        for module, targets in GRAPH.items()
        if _layer(module) == "compute"
        for target in targets
        if _layer(target) in ("agent", "glue") and target not in SHARED
    )
    assert wrong == []


def test_no_module_imports_itself_back_through_others() -> None:
    layers: dict[str, set[str]] = defaultdict(set)
    for module, targets in GRAPH.items():
        for target in targets:
            if target not in SHARED and _layer(module) != _layer(target):
                layers[_layer(module)].add(_layer(target))
    cycles = sorted(f"{a} <-> {b}" for a, targets in layers.items() for b in targets if a in layers.get(b, set()))
    assert cycles == []
    assert _module_cycles() == []


def _module_cycles() -> list[list[str]]:
    """Return the import cycles between modules (strongly connected groups of more than one module)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in GRAPH.get(node, ()):
            if target in SHARED and target != "ml_lifecycle":
                continue
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for module in GRAPH:
        if module not in index and module != "ml_lifecycle":
            visit(module)
    return [g for g in groups if "ml_lifecycle" not in g]


def test_the_root_holds_few_modules_and_no_file_is_long() -> None:
    root = sorted(p.name for p in PACKAGE.glob("*.py"))
    assert len(root) <= 17, root  # the six operators and later process/tune (ARCHITECTURE.md's layout)
    long = sorted(
        f"{p.relative_to(PACKAGE)}: {n}" for p in PACKAGE.rglob("*.py") if (n := len(p.read_text().splitlines())) > 400
    )
    assert long == []


def test_core_imports_only_the_standard_library() -> None:
    wrong = sorted(
        f"{module} imports {name}"
        for module, path in MODULES.items()
        if _layer(module) == "core"
        for name in _all_imports(path)
        if not name.startswith("ml_lifecycle") and name.split(".")[0] not in sys.stdlib_module_names
    )
    assert wrong == []


# Bundled modules that reach Airflow only on the Airflow side, lazily (a connection lookup; masking a secret, which
# does nothing where Airflow is missing), as the shared aws_clients does.
AIRFLOW_SIDE_ONLY = {"ml_lifecycle.registries.credentials"}


def test_what_runs_on_an_instance_needs_neither_airflow_nor_the_launch_side() -> None:
    bundled = [
        m
        for m in MODULES
        if _layer(m) != "glue" and not m.startswith("ml_lifecycle.compute.ec2") and m not in AIRFLOW_SIDE_ONLY
    ]
    wrong = sorted(
        f"{module} imports {name}"
        for module in bundled
        for name in _all_imports(MODULES[module])
        if name.split(".")[0] == "airflow"
        or name.startswith("ml_lifecycle.compute.ec2")
        or (name.startswith("ml_lifecycle.") and _layer(_known(name) or name) == "glue" and _known(name) not in SHARED)
    )
    assert wrong == []
