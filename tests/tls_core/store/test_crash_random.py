"""Random SIGKILLs during commits: the row count is always before or before + n."""

from __future__ import annotations

import multiprocessing as mp
import random
import time

import storekit as k

from tls_core.store import Repository

N = 20


def _loop(tmp_path, iterations, seed, rerun_sample=None):
    ctx = mp.get_context("forkserver")
    ctx.set_forkserver_preload(
        ["storekit", "tls_core.store", "deltalake", "duckdb", "pyarrow.parquet"]
    )
    root = tmp_path / "repo"
    repo = Repository.open(root)
    rng = random.Random(seed)
    # Calibrate: how long does one whole commit take here (child start included)? Kill times
    # are drawn up to 1.5x that, so some kills land inside commits and some commits complete
    # whatever the machine's load.
    start = time.perf_counter()
    calibration = ctx.Process(target=k.child_commit, args=(str(root), "calibration.csv", N))
    calibration.start()
    calibration.join(120)
    span = 1.5 * (time.perf_counter() - start)
    assert calibration.exitcode == 0
    expected = {}
    before = repo.snapshot().row_count("call_records")
    assert before == N
    for i in range(iterations):
        source = f"s{i}.csv"
        child = ctx.Process(target=k.child_commit, args=(str(root), source, N))
        child.start()
        child.join(rng.uniform(0.0, span))
        if child.is_alive():
            child.kill()
        child.join(30)
        assert child.exitcode in (0, -9), child.exitcode
        after = repo.snapshot().row_count("call_records")
        assert after in (before, before + N), (i, before, after)
        expected[source] = after > before
        before = after
        if i % 25 == 24:
            assert repo.verify().ok
            assert k.count(repo) == after
    # Re-run killed commits (each must load exactly N) and completed ones (each a no-op): all
    # of them in the slow tier; in the default tier a sample, to stay within a minute.
    killed = [s for s, visible in expected.items() if not visible]
    completed = [s for s, visible in expected.items() if visible]
    assert killed, "no kill landed inside a commit"
    assert completed, "no commit ever completed"
    if rerun_sample is not None:
        killed = rng.sample(killed, min(rerun_sample, len(killed)))
        completed = rng.sample(completed, min(rerun_sample // 3, len(completed)))
    for source in killed + completed:
        report = k.commit(repo, source, N)
        assert report.loaded == (0 if expected[source] else N)
        assert report.noop is expected[source]
    assert k.count(repo) == N * (1 + sum(expected.values()) + len(killed))
    report = repo.verify()
    assert report.ok, report.problems
    assert report.orphans == ()


def test_random_kills(tmp_path):
    _loop(tmp_path, 100, seed=5, rerun_sample=30)


# The 500-kill tier runs through ingest (tests/tls_core/store/test_ingest_crash.py), whose
# every kill also lands in this commit path; a second 500-kill loop here only doubled CI time.
