"""Architecture rules from ARCHITECTURE.md and STYLE.md, checked on the source tree."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("tls_core", "penlink_adapters", "icm_bridge")

# Engines stay in their stage.
ENGINE_HOMES = {
    "numba": (
        "tls_core/identifiers/_kernels.py",
        "tls_core/identifiers/_dedup.py",
        "tls_core/store/_index_kernel.py",
        "tls_core/store/_few_kernel.py",
        "penlink_adapters/_kernels.py",
        "penlink_adapters/_time_kernel.py",
        "penlink_adapters/_convert_kernel.py",
        "penlink_adapters/_code_kernel.py",
        "penlink_adapters/_block_kernel.py",
        "penlink_adapters/_memo_kernel.py",
        "penlink_adapters/_record_id_kernel.py",
    ),
    "duckdb": (
        "tls_core/store",
        "tls_core/link",
        "tls_core/search",
        "tls_core/_store",
        "tls_core/_link",
        "tls_core/_search",
    ),
}

# tls_core modules allowed to import penlink_adapters (lazily, inside a function).
ADAPTER_USERS = frozenset({"tls_core/store/_ingest.py"})


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


SOURCES = sorted(p for pkg in PACKAGES for p in (ROOT / pkg).rglob("*.py"))


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(ROOT)))
def test_engines_are_imported_only_in_their_stage(path):
    rel = path.relative_to(ROOT).as_posix()
    for name in _imports(path):
        engine = name.split(".")[0]
        if engine in ENGINE_HOMES:
            assert rel.startswith(ENGINE_HOMES[engine]), f"{rel} imports {engine}"


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(ROOT)))
def test_data_flows_one_way(path):
    rel = path.relative_to(ROOT).as_posix()
    imported = {name.split(".")[0] for name in _imports(path)}
    if rel.startswith("tls_core/") and not rel.startswith("tls_core/cli/"):
        # tls_core declares Protocols; icm_bridge implements them; only the CLI wires them.
        # One allowance: Repository.ingest reads files with the adapters (ARCHITECTURE.md).
        forbidden = {"icm_bridge"} if rel in ADAPTER_USERS else {"icm_bridge", "penlink_adapters"}
        assert not imported & forbidden, rel
    if rel.startswith("penlink_adapters/"):
        assert "icm_bridge" not in imported, rel


@pytest.mark.parametrize("rel", sorted(ADAPTER_USERS))
def test_the_adapter_allowance_is_a_lazy_import(rel):
    """Importing tls_core.store must not import the adapters: only inside functions."""
    tree = ast.parse((ROOT / rel).read_text())
    for node in tree.body:
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            continue  # typing only, never executed
        for sub in ast.walk(node):
            if isinstance(sub, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
                break
            names = []
            if isinstance(sub, ast.Import):
                names = [alias.name for alias in sub.names]
            elif isinstance(sub, ast.ImportFrom) and sub.module:
                names = [sub.module]
            assert not any(n.split(".")[0] == "penlink_adapters" for n in names), rel


def test_no_star_imports():
    for path in SOURCES:
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom):
                assert all(alias.name != "*" for alias in node.names), path
