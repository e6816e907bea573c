"""pytest-benchmark suite for search (not part of the default test run).

Run: .venv/bin/python -m pytest benchmarks/test_bench_search.py --benchmark-only
The 1 M / 5 M figures with the DuckDB-scan baseline are in ``benchmarks.search_scale``.
Workloads are named by stress shape: a typical identifier, the busiest one (a hub in 5% of
records), and the plain DuckDB scan a search without the index would run.
"""

from __future__ import annotations

import itertools

import pytest

from benchmarks.search_scale import _SCAN_SQL, HUB, build_repo, engine_lookup
from tls_core.search._index import open_index

RECORDS = 200_000


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    repo, typical = build_repo(tmp_path_factory.mktemp("search") / "repo", RECORDS)
    open_index(repo, repo.snapshot())
    return repo, typical


def test_lookup_typical_identifier(benchmark, built):
    repo, typical = built
    values = itertools.cycle(typical)
    total, read = benchmark(lambda: engine_lookup(repo, next(values)))
    assert total >= 1
    assert read >= 1


def test_lookup_busiest_identifier(benchmark, built):
    repo, _ = built
    total, read = benchmark(lambda: engine_lookup(repo, HUB))
    assert total > RECORDS // 25
    assert read <= 2 * 4096


def test_duckdb_scan_typical_identifier_baseline(benchmark, built):
    repo, typical = built
    con = repo.snapshot().connect()
    values = itertools.cycle(typical)
    rows = benchmark(lambda: con.execute(_SCAN_SQL, {"v": next(values)}).fetchall())
    assert rows
    con.close()


def test_index_build(benchmark, built):
    repo, _ = built
    snap = repo.snapshot()
    from tls_core.search._index import _build, index_dir, index_key

    manifest = benchmark.pedantic(
        lambda: _build(index_dir(repo), snap, index_key(snap)), rounds=2, iterations=1
    )
    assert manifest["files"]["occurrences"]["rows"] == 2 * RECORDS
