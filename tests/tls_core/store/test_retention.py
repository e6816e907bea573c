"""Retention: fiscal-year boundary, legal hold, open cases, shared records, crash and rerun."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import date
from pathlib import Path
from typing import get_args

import pytest
import storekit as k

from tls_core.store import CaseFacts, PurgeStep, Repository, retention_end

KIT = str(Path(k.__file__))
OLD = date(2000, 5, 1)  # fiscal year 2000 ends 2000-09-30; kept through 2020-09-30
FACTS = {
    "OLD": (OLD, False, False),
    "HOLD": (OLD, True, False),
    "OPEN": (None, False, True),
    "OLD2": (OLD, False, False),
}


@pytest.mark.parametrize(
    ("closed", "last_day"),
    [
        (date(2000, 9, 30), date(2020, 9, 30)),
        (date(2000, 10, 1), date(2021, 9, 30)),
        (date(2000, 1, 1), date(2020, 9, 30)),
        (date(2000, 12, 31), date(2021, 9, 30)),
    ],
)
def test_retention_end(closed, last_day):
    assert retention_end(closed) == last_day


def _fill(root):
    repo = Repository.open(root)
    old = k.commit(repo, "old.csv", 10, case="OLD")
    hold = k.commit(repo, "hold.csv", 10, case="HOLD")
    both = repo.commit_batch(
        k.calls("both.csv", 10),
        source_sha256=k.sha_of("both.csv"),
        source_name="both.csv",
        case_ids=["OLD2", "OPEN"],
        actor="t",
    )
    # The open case also holds 3 of the old case's records (stored once, in the old batch).
    shared = k.calls("old.csv", 3).to_pylist()
    for row in shared:
        row["source_sha256"] = k.sha_of("open.csv")
    import pyarrow as pa

    from tls_core.schema import CALL_RECORDS

    opened = repo.commit_batch(
        pa.Table.from_pylist(shared + k.calls("open.csv", 5).to_pylist(), schema=CALL_RECORDS),
        source_sha256=k.sha_of("open.csv"),
        source_name="open.csv",
        case_ids=["OPEN"],
        actor="t",
    )
    assert (opened.loaded, opened.duplicates) == (5, 3)
    return repo, old, hold, both


def test_purge_day_before_and_day_after(tmp_path):
    repo, old, _, _ = _fill(tmp_path / "repo")
    before = k.count(repo)
    nothing = repo.purge(FACTS, today=date(2020, 9, 30), actor="t")
    assert nothing.batch_ids == ()
    assert k.count(repo) == before
    report = repo.purge(FACTS, today=date(2020, 10, 1), actor="t")
    assert report.batch_ids == (old.batch_id,)
    assert (report.records_removed, report.records_kept, report.rejects_removed) == (7, 3, 2)
    assert k.count(repo) == before - 7
    con = repo.snapshot().connect()
    left = con.execute(
        "SELECT count(*) FROM call_records WHERE batch_id = ?", [old.batch_id]
    ).fetchone()[0]
    assert left == 3  # the records the open case also holds
    links = con.execute("SELECT case_id FROM case_links WHERE batch_id = ?", [old.batch_id])
    assert links.fetchall() == []  # the purged case no longer reaches them
    assert k.count(repo, "rejects") == 2  # only the held batch keeps its rejects
    verify = repo.verify()
    assert verify.ok
    assert verify.orphans == ()
    again = repo.purge(FACTS, today=date(2020, 10, 1), actor="t")
    assert (again.records_removed, again.rejects_removed) == (0, 0)
    # The purged file committed again for a new case is a new batch, not a no-op.
    fresh = k.commit(repo, "old.csv", 10, case="NEW")
    assert not fresh.noop
    assert fresh.batch_id != old.batch_id
    assert fresh.loaded == 7


def test_unknown_cases_are_never_purged(tmp_path):
    repo, *_ = _fill(tmp_path / "repo")
    before = k.count(repo)
    assert repo.purge({}, today=date(2100, 1, 1), actor="t").batch_ids == ()
    assert (
        repo.purge(
            {"OLD": CaseFacts(None, False, True)}, today=date(2100, 1, 1), actor="t"
        ).batch_ids
        == ()
    )
    assert k.count(repo) == before


@pytest.mark.parametrize("step", get_args(PurgeStep))
def test_purge_killed_at_each_step_is_rerunnable(tmp_path, step):
    root = tmp_path / "repo"
    repo, old, _, _ = _fill(root)
    before = k.count(repo)
    facts = {c: (None if d is None else d.isoformat(), h, o) for c, (d, h, o) in FACTS.items()}
    done = subprocess.run(
        [sys.executable, KIT, "purge", str(root), json.dumps(facts), "2030-01-01", step],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == -9, done.stderr
    assert Repository.open(root).verify().ok
    report = Repository.open(root).purge(FACTS, today=date(2030, 1, 1), actor="t")
    assert report.batch_ids == (() if step == "purge_marked" else (old.batch_id,))
    repo = Repository.open(root)
    assert k.count(repo) == before - 7
    assert k.count(repo, "rejects") == 2  # only the held batch keeps its rejects
    assert repo.verify().orphans == ()
