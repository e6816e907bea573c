"""The write path: audit before case store, crash between the two commits, kept connections.

The hot path (``notify_query``) runs its statements on the driver cursor of a writer connection
kept per thread; these tests pin down what that must not change: the audit commits first, a
crash between the two commits leaves an audit entry for an action that did not happen (never
the reverse), driver errors still fail closed, threads and processes keep one chain.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path

import pytest
import sqlalchemy as sa

from icm_bridge import CHECKPOINT_EVERY, CaseStore, create_store_engine
from icm_bridge._db import Writer
from icm_bridge._schema import events, notifications
from tests.icm_bridge.conftest import Clock, make_store
from tls_core.errors import AuditUnavailable
from tls_core.protocols import AuditEvent, QueryNotice

NOTICE = QueryNotice("bob", {"msisdn": "+12065550123"}, ("C-A", "C-R"))


def _cases(store: CaseStore) -> None:
    store.open_case("alice", "C-A", owner="alice")
    store.open_case("sup", "C-R", owner="sup", restricted=True)


def _count(store: CaseStore, table: sa.Table) -> int:
    with store.engine.connect() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one())


def _crash_after_audit_commit(tmp: str) -> None:
    store = make_store(Path(tmp), Clock(), None)
    append: Callable[..., int] = store.audit.append

    def append_then_die(event: AuditEvent, *, role: str) -> int:
        seq = append(event, role=role)  # the audit transaction has committed here
        os.kill(os.getpid(), signal.SIGKILL)  # ... and the case store's has not
        return seq

    store.audit.append = append_then_die  # type: ignore[method-assign]
    store.notify_query(NOTICE)


@pytest.mark.parametrize("backend_urls", [None])
def test_crash_between_audit_commit_and_case_commit(office: CaseStore, tmp_path: Path) -> None:
    _cases(office)
    before = len(office.audit.show(actor="bob"))
    child = multiprocessing.get_context("spawn").Process(
        target=_crash_after_audit_commit, args=(str(tmp_path),)
    )
    child.start()
    child.join(60)
    assert child.exitcode == -signal.SIGKILL
    # The audit holds the attempt; the case store has neither the event nor its notifications.
    audited = office.audit.show(actor="bob")
    assert [(r.action, r.outcome) for r in audited[before:]] == [("notify-query", "ok")]
    assert _count(office, notifications) == 0
    assert _count(office, events) == 0
    assert office.audit.verify().ok
    # Both stores are writable again (the dead writer's SQLite and flock locks are gone), and
    # the retried action notifies each owner exactly once.
    assert office.notify_query(NOTICE) == 2
    assert len(office.notifications("alice")) == 1
    assert len(office.notifications("sup")) == 1
    assert len(office.audit.show(actor="bob")) == before + 2
    assert office.audit.verify().ok


@pytest.mark.parametrize("backend_urls", [None])
def test_audit_failure_on_driver_path_fails_closed(office: CaseStore) -> None:
    # The audit insert goes to the driver cursor; its error must still refuse the action.
    _cases(office)
    with office.audit.engine.begin() as conn:
        conn.exec_driver_sql("ALTER TABLE audit_head RENAME TO audit_head_gone")
    with pytest.raises(AuditUnavailable):
        office.notify_query(NOTICE)
    assert _count(office, notifications) == 0
    assert _count(office, events) == 0
    with office.audit.engine.begin() as conn:
        conn.exec_driver_sql("ALTER TABLE audit_head_gone RENAME TO audit_head")
    assert office.notify_query(NOTICE) == 2  # the kept connections recovered
    assert office.audit.verify().ok


def test_threads_sharing_a_store_keep_one_chain(office: CaseStore) -> None:
    _cases(office)
    errors: list[BaseException] = []

    def work() -> None:
        try:
            for _ in range(25):
                office.notify_query(NOTICE)
        except BaseException as err:  # reported below
            errors.append(err)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert errors == []
    assert len(office.notifications("alice")) == 100
    assert _count(office, events) == 100
    report = office.audit.verify()
    assert report.ok
    assert len(office.audit.show(actor="bob", limit=1000)) == 100


def _writer(repo: str, n: int) -> None:
    store = make_store(Path(repo), Clock(), None)
    for _ in range(n):
        store.notify_query(NOTICE)


@pytest.mark.parametrize("backend_urls", [None])
def test_writer_processes_notify_exactly_once_each(office: CaseStore, tmp_path: Path) -> None:
    _cases(office)
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_writer, args=(str(tmp_path), 30)) for _ in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
        assert p.exitcode == 0
    assert _count(office, events) == 120
    assert _count(office, notifications) == 240  # alice and sup, once per event
    with office.engine.connect() as conn:
        pairs = conn.execute(
            sa.select(notifications.c.event_id, notifications.c.recipient_id).distinct()
        ).all()
    assert len(pairs) == 240
    report = office.audit.verify()
    assert report.ok
    assert report.size >= 120


def test_kept_writer_connection_replaced_after_failure_and_closed_on_dispose(
    tmp_path: Path,
) -> None:
    db = tmp_path / "w.sqlite"
    engine = create_store_engine(f"sqlite:///{db}")
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE t (id INTEGER PRIMARY KEY)")
    writer = Writer(engine)
    with writer.transaction() as conn:
        first = conn
        conn.exec_driver_sql("INSERT INTO t VALUES (1)")
    with writer.transaction() as conn:
        assert conn is first  # kept between transactions

    def duplicate() -> None:
        with writer.transaction() as conn:
            conn.exec_driver_sql("INSERT INTO t VALUES (2)")
            conn.exec_driver_sql("INSERT INTO t VALUES (1)")

    with pytest.raises(sa.exc.IntegrityError):
        duplicate()
    assert first.closed
    with writer.transaction() as conn:
        assert conn is not first
        assert conn.exec_driver_sql("SELECT count(*) FROM t").scalar() == 1  # rolled back
    engine.dispose()  # closes the kept connection too: the WAL is checkpointed and removed
    assert not Path(f"{db}-wal").exists()
    assert sqlite3.connect(db).execute("SELECT count(*) FROM t").fetchone() == (1,)


@pytest.mark.parametrize("backend_urls", [None])
def test_anchor_written_after_the_case_commit_and_failure_closes_later_appends(
    office: CaseStore, tmp_path: Path
) -> None:
    _cases(office)
    anchor = office.audit.anchor
    assert anchor is not None
    office.audit.checkpoint_every = 1  # every event is a checkpoint: every action writes it
    office.notify_query(NOTICE)
    size = office.audit.seal()
    assert f'"size": {size}' in anchor.read_text()
    blocked = tmp_path / "anchor-dir"
    blocked.mkdir()
    office.audit.anchor = blocked  # the anchor cannot be written now
    assert office.notify_query(NOTICE) == 2  # committed and audited; the anchor write failed
    with pytest.raises(AuditUnavailable):
        office.notify_query(NOTICE)  # refused until the anchor is written
    assert len(office.notifications("alice")) == 2
    blocked.rmdir()
    office.audit.anchor = anchor
    assert office.notify_query(NOTICE) == 2
    assert len(office.notifications("alice")) == 3
    assert f'"size": {office.audit.seal()}' in anchor.read_text()
    office.audit.checkpoint_every = CHECKPOINT_EVERY  # the interval the log began with
    assert office.audit.verify().ok
