"""A child process killed at every named commit step: nothing half-visible, rerun gives n."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import get_args

import pytest
import storekit as k

from tls_core.store import CommitStep, Repository

STEPS = get_args(CommitStep)
KIT = str(Path(k.__file__))


def _child(root, source, n, step):
    return subprocess.run(
        [sys.executable, KIT, str(root), source, str(n), step],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize("step", STEPS)
def test_kill_at_step(tmp_path, step):
    root = tmp_path / "repo"
    repo = Repository.open(root)
    k.commit(repo, "base.csv", 10)
    before = k.count(repo)
    for attempt in range(3):
        source = f"{step}-{attempt}.csv"
        done = _child(root, source, 25, step)
        assert done.returncode == -9, done.stderr
        after = k.count(Repository.open(root))
        visible = step == "marker_committed"
        assert after == before + (25 if visible else 0)
        assert Repository.open(root).verify().ok
        rerun = k.commit(Repository.open(root), source, 25)
        assert rerun.noop is visible
        assert rerun.loaded == (0 if visible else 25)
        before += 25
        assert k.count(Repository.open(root)) == before
        assert k.count(Repository.open(root), "rejects") == 2 * (attempt + 2)
    report = Repository.open(root).verify()
    assert report.ok, report.problems
    assert report.orphans == ()


def test_crash_leftovers_are_collected(tmp_path):
    root = tmp_path / "repo"
    Repository.open(root)
    assert _child(root, "x.csv", 10, "cases_committed").returncode == -9
    repo = Repository.open(root)
    snap = repo.snapshot()
    assert all(not files for t, files in snap.files.items() if t != "registry")
    gc = repo.collect_garbage()
    assert len(gc.uncommitted_batches) == 1
    assert not any((root / "tables" / "call_records").glob("*.parquet"))
    assert repo.verify().ok
