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
    import shutil

    from tls_core.search._index import index_dir

    def build():  # type: ignore[no-untyped-def]
        shutil.rmtree(index_dir(repo), ignore_errors=True)
        return open_index(repo, snap)[0]

    index = benchmark.pedantic(build, rounds=2, iterations=1)
    assert sum(run.occurrences.rows for run in index.runs) == 2 * RECORDS


def test_index_refresh_after_one_commit(benchmark, built):
    """What an ingest costs the index: one level-0 run for the new batch, nothing else."""
    import numpy as np

    from benchmarks.search_scale import BATCH, batch_table

    repo, _ = built
    rng = np.random.default_rng(11)
    counter = itertools.count(1000)

    def setup():  # type: ignore[no-untyped-def]
        case = next(counter)
        repo.commit_batch(
            batch_table(case, BATCH, rng),
            source_sha256=f"{case:064x}",
            source_name=f"case{case}.csv",
            case_ids=[f"C-{case}"],
            actor="bench",
        )
        return (repo, repo.snapshot()), {}

    index = benchmark.pedantic(lambda r, s: open_index(r, s)[0], setup=setup, rounds=3)
    assert index.runs
