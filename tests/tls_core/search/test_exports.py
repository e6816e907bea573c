"""Pin the public surface of tls_core.search and keep its import cheap."""

from __future__ import annotations

import subprocess
import sys

import tls_core.search


def test_search_exports():
    assert sorted(tls_core.search.__all__) == sorted(
        [
            "CaseHit",
            "CasePath",
            "CommonContact",
            "ContactCount",
            "IndexState",
            "PathResult",
            "RecordHit",
            "RecordHits",
            "RestrictedHit",
            "SearchResult",
            "TargetProfile",
            "TargetSummary",
            "path",
            "search",
            "target_profile",
        ]
    )
    for name in tls_core.search.__all__:
        assert hasattr(tls_core.search, name)


def test_importing_search_is_cheap():
    code = (
        "import sys, tls_core.search;"
        "heavy = [m for m in ('numba', 'duckdb', 'polars', 'deltalake', 'pyarrow.parquet')"
        " if m in sys.modules];"
        "print(heavy)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
