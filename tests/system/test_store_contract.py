"""The store contract is the one place a collection's name is spelled."""

from __future__ import annotations

import ast
from pathlib import Path

from system import store_contract

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("system", "benchmarks", "reports", "load")


def _collection_lookups(path: Path, names: set[str]) -> list[tuple[int, str]]:
    """``db["name"]``, ``client["name"]``, ``db.name``, ``client[x].name`` or
    ``database="name"`` for a name of the contract (a run folder's ``data.replays`` frame is
    not a lookup)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if (isinstance(node, ast.Subscript) and isinstance(node.slice, ast.Constant)
                and node.slice.value in names):
            found.append((node.lineno, node.slice.value))
        elif (isinstance(node, ast.Attribute) and node.attr in names
              and (isinstance(node.value, ast.Subscript)  # client[database].name
                   or getattr(node.value, "id", getattr(node.value, "attr", None)) == "db")):
            found.append((node.lineno, node.attr))
        elif (isinstance(node, ast.keyword) and node.arg in {"database", "collection"}
              and isinstance(node.value, ast.Constant) and node.value.value in names):
            found.append((node.lineno, node.value.value))
    return found


def test_no_module_but_the_contract_names_a_collection_or_the_database() -> None:
    names = {*store_contract.COLLECTIONS, store_contract.DATABASE}
    spelled = [f"{path.relative_to(ROOT)}:{line}: {name}"
               for package in PACKAGES for path in sorted((ROOT / package).rglob("*.py"))
               for line, name in _collection_lookups(path, names)]
    assert spelled == []


def test_every_indexed_collection_is_one_a_run_stores() -> None:
    assert set(store_contract.INDEXES) <= set(store_contract.COLLECTIONS)
    assert set(store_contract.BRIDGE_INDEXES) <= set(store_contract.COLLECTIONS)
