"""Two processes committing at once: exactly once, versions dense."""

from __future__ import annotations

import multiprocessing as mp

import pytest
import storekit as k

from tls_core.errors import ConflictError
from tls_core.store import Repository
from tls_core.store._lock import commit_lock

N = 40


def _race(root, sources):
    ctx = mp.get_context("forkserver")
    ctx.set_forkserver_preload(
        ["storekit", "tls_core.store", "deltalake", "duckdb", "pyarrow.parquet"]
    )
    barrier, results = ctx.Barrier(len(sources)), ctx.Queue()
    children = [
        ctx.Process(target=k.race_commit, args=(str(root), s, N, barrier, results)) for s in sources
    ]
    for child in children:
        child.start()
    out = [results.get(timeout=60) for _ in children]
    for child in children:
        child.join(30)
        assert child.exitcode == 0
    return out


@pytest.mark.parametrize("attempt", range(2))
def test_same_file_race_is_exactly_once(tmp_path, attempt):
    root = tmp_path / "repo"
    Repository.open(root)
    out = _race(root, ["same.csv", "same.csv"])
    assert sorted(o[0] for o in out) == ["ok", "ok"]
    assert len({o[1] for o in out}) == 1
    assert sorted(o[2] for o in out) == [0, N]
    assert sorted(o[3] for o in out) == [False, True]
    repo = Repository.open(root)
    assert k.count(repo) == N
    assert repo.verify().ok


@pytest.mark.parametrize("attempt", range(2))
def test_different_file_race_both_commit(tmp_path, attempt):
    root = tmp_path / "repo"
    Repository.open(root)
    out = _race(root, ["one.csv", "two.csv"])
    assert [o[0] for o in out] == ["ok", "ok"]
    assert sorted(o[4] for o in out) == [1, 2]  # registry versions dense, no gap
    repo = Repository.open(root)
    assert k.count(repo) == 2 * N
    assert repo.verify().ok


def test_a_writer_that_waits_too_long_gets_a_conflict(tmp_path):
    root = tmp_path / "repo"
    repo = Repository.open(root, lock_timeout=0.2)
    with commit_lock(root / "_tls" / "lock", timeout=1), pytest.raises(ConflictError) as caught:
        k.commit(repo, "a.csv", 3)
    assert caught.value.reason == "lock_timeout"
    assert k.count(repo) == 0
    assert k.commit(repo, "a.csv", 3).loaded == 3
