"""Random SIGKILLs during commits: the row count is always before or before + n."""

from __future__ import annotations

import multiprocessing as mp
import random

import pytest
import storekit as k

from tls_core.store import Repository

N = 20


def _loop(tmp_path, iterations, seed):
    ctx = mp.get_context("forkserver")
    ctx.set_forkserver_preload(["storekit", "tls_core.store", "deltalake", "duckdb", "pyarrow.parquet"])
    root = tmp_path / "repo"
    repo = Repository.open(root)
    rng = random.Random(seed)
    expected = {}
    before = 0
    for i in range(iterations):
        source = f"s{i}.csv"
        child = ctx.Process(target=k.child_commit, args=(str(root), source, N))
        child.start()
        child.join(rng.uniform(0.0, 0.35))
        if child.is_alive():
            child.kill()
        child.join(30)
        assert child.exitcode in (0, -9), child.exitcode
        after = repo.snapshot().row_count("call_records")
        assert after in (before, before + N), (i, before, after)
        before = after
        expected[source] = N
        if i % 25 == 24:
            assert repo.verify().ok
            assert k.count(repo) == after
    for source in expected:
        k.commit(repo, source, N)
    assert k.count(repo) == N * len(expected)
    report = repo.verify()
    assert report.ok, report.problems
    assert report.orphans == ()


def test_random_kills(tmp_path):
    _loop(tmp_path, 100, seed=5)


@pytest.mark.slow
def test_random_kills_many(tmp_path):
    _loop(tmp_path, 500, seed=6)
