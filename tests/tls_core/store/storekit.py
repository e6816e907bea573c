"""Helpers shared by the store tests and the child processes they start."""

from __future__ import annotations

import hashlib
import sys
from datetime import UTC, datetime, timedelta

import pyarrow as pa

from tls_core.schema import CALL_NATURAL_KEY, CALL_RECORDS, REJECTS, SUBSCRIBER_RECORDS

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def sha_of(label: str) -> str:
    return hashlib.sha256(label.encode()).hexdigest()


def record_id(row: dict) -> str:
    text = "\x1f".join("" if row[k] is None else str(row[k]) for k in CALL_NATURAL_KEY)
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def calls(source: str, n: int, *, first: int | None = None, orig: str = "+12025550100") -> pa.Table:
    """n distinct call records of source file ``source`` (records first..first+n-1).

    By default ``first`` derives from the source, so different sources hold different records.
    """
    sha = sha_of(source)
    if first is None:
        first = int(sha[:6], 16) * 60
    rows = []
    for i in range(first, first + n):
        row = {f.name: None for f in CALL_RECORDS}
        row.update(
            orig_raw=orig,
            orig_kind="phone",
            orig_canonical=orig,
            term_raw=f"202555{i % 10000:04d}",
            term_kind="phone",
            term_canonical=f"+1202555{i % 10000:04d}",
            start_utc=T0 + timedelta(seconds=i),
            start_raw=str(i),
            tz_source="carrier_utc",
            duration_s=i % 600,
            event_type="voice",
            direction="outgoing",
            leg=0,
            source_sha256=sha,
            source_row=i + 2,
            layout_name="test",
            layout_version="1",
        )
        row["record_id"] = record_id(row)
        rows.append(row)
    return pa.Table.from_pylist(rows, schema=CALL_RECORDS)


def subscribers(source: str, n: int) -> pa.Table:
    sha = sha_of(source)
    rows = []
    for i in range(n):
        row = {f.name: None for f in SUBSCRIBER_RECORDS}
        row.update(
            record_id=sha_of(f"sub{i}")[:32],
            identifier_raw=f"202555{i:04d}",
            identifier_kind="phone",
            identifier_canonical=f"+1202555{i:04d}",
            subscriber_name=f"Person {i}",
            aliases=["x"],
            source_sha256=sha,
            source_row=i + 2,
            layout_name="test",
            layout_version="1",
        )
        rows.append(row)
    return pa.Table.from_pylist(rows, schema=SUBSCRIBER_RECORDS)


def rejects(source: str, n: int) -> pa.Table:
    rows = [
        {
            "source_path": source,
            "source_sha256": sha_of(source),
            "source_row": 1000 + i,
            "column": "duration",
            "reason": "bad_duration",
            "detail": None,
            "raw_line": f"x,{i}",
            "layout_name": "test",
            "layout_version": "1",
        }
        for i in range(n)
    ]
    return pa.Table.from_pylist(rows, schema=REJECTS)


def commit(repo, source: str, n: int, case: str = "C1", **kw):
    return repo.commit_batch(
        calls(source, n),
        rejects(source, 2),
        source_sha256=sha_of(source),
        source_name=source,
        case_ids=[case],
        record_type="call",
        actor="tester",
        **kw,
    )


def count(repo, table: str = "call_records") -> int:
    con = repo.snapshot().connect()
    try:
        return con.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
    finally:
        con.close()


def child_commit(root: str, source: str, n: int) -> None:
    """Target of forked children in the random-kill loop."""
    from tls_core.store import Repository

    commit(Repository.open(root), source, n)


def race_commit(root: str, source: str, n: int, barrier, results) -> None:
    """Target of the race tests: wait for the other process, then commit."""
    from tls_core.errors import ConflictError
    from tls_core.store import Repository

    repo = Repository.open(root)
    barrier.wait(30)
    try:
        report = commit(repo, source, n)
        results.put(("ok", report.batch_id, report.loaded, report.noop, report.version))
    except ConflictError as err:
        results.put(("conflict", str(err), 0, False, -1))


if __name__ == "__main__":
    # Child process: commit one source, optionally killing itself at a named step.
    import os
    import signal

    from tls_core.store import Repository

    if sys.argv[1] == "purge":
        # purge ROOT FACTS_JSON TODAY STEP
        import json
        from datetime import date

        root, facts_json, today, step = sys.argv[2:6]
    else:
        root, source, n, step = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]

    def hook(name: str) -> None:
        if name == step:
            os.kill(os.getpid(), signal.SIGKILL)

    repo = Repository.open(root, step_hook=hook)
    if sys.argv[1] == "purge":
        facts = {
            c: (None if d is None else date.fromisoformat(d), hold, is_open)
            for c, (d, hold, is_open) in json.loads(facts_json).items()
        }
        print(repo.purge(facts, today=date.fromisoformat(today), actor="tester"), flush=True)
    else:
        report = commit(repo, source, n)
        print(report.batch_id, report.loaded, report.noop, flush=True)
