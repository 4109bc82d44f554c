"""The code's layering: no import cycles, and the system under test knows nothing of the
harness (``system/`` never imports ``benchmarks/``, ``load/`` or ``reports/``)."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("system", "benchmarks", "load", "reports")


def _modules() -> dict[str, Path]:
    modules = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            modules[".".join(parts)] = path
    return modules


def _imports(modules: dict[str, Path]) -> dict[str, set[str]]:
    """Module → our modules it imports anywhere in its body (a function-level import is
    still a dependency); a package's submodule importing the package itself is left out."""
    def ours(name: str) -> str | None:
        while name and name not in modules:
            name = name.rpartition(".")[0]
        return name or None

    graph = {}
    for module, path in modules.items():
        found = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                found |= {ours(alias.name) for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                found |= {ours(f"{node.module}.{alias.name}") for alias in node.names}
        graph[module] = {m for m in found - {None, module} if not module.startswith(f"{m}.")}
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        for dep in sorted(graph[module]):
            if dep not in index:
                visit(dep)
                low[module] = min(low[module], low[dep])
            elif dep in stack:
                low[module] = min(low[module], index[dep])
        if low[module] == index[module]:
            component = []
            while True:
                top = stack.pop()
                component.append(top)
                if top == module:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for module in sorted(graph):
        if module not in index:
            visit(module)
    return found


def test_no_module_takes_part_in_an_import_cycle() -> None:
    assert _cycles(_imports(_modules())) == []


def test_the_system_under_test_never_imports_the_harness() -> None:
    graph = _imports(_modules())
    leaks = sorted(f"{module} → {dep}" for module, deps in graph.items()
                   if module.startswith("system") for dep in deps
                   if not dep.startswith("system"))
    assert leaks == []


def test_the_readme_names_every_link_toxic_and_process_a_fault_may_give() -> None:
    from system.stack import names

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    missing = [name for name in (*names.SHARED_LINKS, *names.TOXICS, *names.PROCESSES,
                                 "producer-kafka-N", "spark-kafka-N", "kafka-N-replication",
                                 "kafka-N-controller")
               if f"`{name}`" not in readme]
    assert missing == []
