"""Pin the public surface of penlink_adapters."""

from __future__ import annotations

import penlink_adapters


def test_exported_members() -> None:
    assert sorted(penlink_adapters.__all__) == sorted(
        [
            "MIN_CONFIDENCE",
            "REJECT_REASONS",
            "Candidate",
            "IdentifierMemo",
            "InterchangeFile",
            "Layout",
            "ReadReport",
            "RejectReason",
            "ReturnScan",
            "Scenario",
            "detect",
            "get_layout_or_raise",
            "list_layouts",
            "load_layout",
            "read_interchange",
            "read_return",
            "scan_return",
            "write_interchange",
            "write_scenario",
        ]
    )
    for name in penlink_adapters.__all__:
        assert getattr(penlink_adapters, name) is not None


def test_reject_reasons_are_the_documented_closed_set() -> None:
    assert set(penlink_adapters.REJECT_REASONS) == {
        "bad_date",
        "dst_ambiguous",
        "dst_nonexistent",
        "lossy_number",
        "missing_identifier",
        "bad_value",
        "bad_row",
    }


def test_importing_is_cheap() -> None:
    import subprocess
    import sys

    code = (
        "import sys, penlink_adapters;"
        "heavy = [m for m in ('polars', 'pyarrow', 'numba', 'duckdb') if m in sys.modules];"
        "print(heavy)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_docstring_examples() -> None:
    import doctest
    import importlib
    import pkgutil

    for info in pkgutil.iter_modules(penlink_adapters.__path__, "penlink_adapters."):
        module = importlib.import_module(info.name)
        assert doctest.testmod(module).failed == 0, info.name
