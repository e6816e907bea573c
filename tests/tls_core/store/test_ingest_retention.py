"""Retention after ingest, end to end: case store facts on a fake clock, purge through the CLI path.

The store-level boundary and shared-record tests are in test_retention.py (commit_batch data);
these run the same rules on ingested carrier files, with the case store deciding who may purge
(``purge`` permission, audited) and which cases are closed, by its own (fake) clock.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from icm_bridge import CaseStore, NewUser
from penlink_adapters import write_scenario
from tls_core.cli._store import purge_due
from tls_core.errors import AccessDenied
from tls_core.store import Repository

CLOSED = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)  # fiscal year 2026 ends 2026-09-30
LAST_DAY = date(2046, 9, 30)  # kept through the 20th anniversary of that fiscal year's end


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock(datetime(2026, 5, 15, 9, 0, tzinfo=UTC))


@pytest.fixture
def office(tmp_path: Path, clock: Clock) -> Iterator[CaseStore]:
    (tmp_path / "keys").mkdir()
    store = CaseStore.open(
        tmp_path / "cases", audit_key=tmp_path / "keys" / "audit.key", clock=clock
    )
    trained = clock.now.date()
    store.add_user(None, NewUser("admin", "Admin", "admin", trained))
    store.add_user("admin", NewUser("sup", "Sue", "supervisor", trained))
    store.add_user("admin", NewUser("alice", "Alice", "agent", trained, supervisor="sup"))
    store.add_user("admin", NewUser("bob", "Bob", "agent", trained, supervisor="sup"))
    store.add_user("admin", NewUser("opr", "Ida", "opr", trained))
    store.open_case("alice", "CLOSED-1", owner="alice")
    store.open_case("bob", "OPEN-1", owner="bob")
    yield store
    store.engine.dispose()
    store.audit.engine.dispose()


@pytest.fixture(scope="module")
def att(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("scenario")
    write_scenario(folder, seed=8)
    return folder / "C03_att.csv"


def _travel(store: CaseStore, clock: Clock, day: date) -> None:
    """Move the clock, in steps within a training year: everyone retrains at each step."""
    target = datetime(day.year, day.month, day.day, 9, 0, tzinfo=UTC)
    while clock.now < target:
        clock.now = min(target, clock.now + timedelta(days=300))
        for uid in ("admin", "sup", "alice", "bob", "opr"):
            store.update_user("admin", uid, trained_on=clock.now.date())


def _fill(repo: Repository, store: CaseStore, clock: Clock, att: Path, tmp: Path) -> None:
    """CLOSED-1 holds the return; OPEN-1 holds a re-export of its first 5 rows plus 2 of its own."""
    kw = {"actor": "alice", "access": store, "audit": store}
    (closed,) = repo.ingest(att, case_ids=["CLOSED-1"], **kw)
    assert closed.loaded == 24
    header, *rows = att.read_text().splitlines()
    shared = tmp / "open.csv"
    shared.write_text("\n".join([header, *rows[:5]]) + "\n")
    (opened,) = repo.ingest(shared, case_ids=["OPEN-1"], **{**kw, "actor": "bob"})
    assert (opened.loaded, opened.duplicates) == (0, 5)
    clock.now = CLOSED
    store.close_case("alice", "CLOSED-1")


def test_purge_day_before_and_after_the_boundary_keeps_what_an_open_case_holds(
    tmp_path, office, clock, att
):
    repo = Repository.open(tmp_path / "repo")
    _fill(repo, office, clock, att, tmp_path)
    before = repo.snapshot().row_count("call_records")
    _travel(office, clock, LAST_DAY)
    cases, report = purge_due(repo, office, "sup")
    assert cases == ()  # the case store and the repository apply one rule: not due yet
    assert report.batch_ids == ()
    assert repo.snapshot().row_count("call_records") == before
    _travel(office, clock, date(2046, 10, 1))
    cases, report = purge_due(repo, office, "sup")
    assert len(report.batch_ids) == 1
    assert (report.records_removed, report.records_kept) == (19, 5)
    assert repo.snapshot().row_count("call_records") == 5  # the open case's records stay
    assert repo.verify().ok
    events = [
        (e.action, e.outcome)
        for e in office.read_audit("opr", case_number="CLOSED-1")
        if "purge" in e.action
    ]
    assert events == [("purge-authorize", "ok"), ("purge", "ok")]


def test_purge_needs_the_purge_permission(tmp_path, office, clock, att):
    repo = Repository.open(tmp_path / "repo")
    _fill(repo, office, clock, att, tmp_path)
    _travel(office, clock, date(2047, 1, 1))
    with pytest.raises(AccessDenied):
        purge_due(repo, office, "alice", ["CLOSED-1"])  # the owner agent may not purge
    cases, report = purge_due(repo, office, "alice")  # without --case: only what they may
    assert cases == ()
    assert report.batch_ids == ()
    assert repo.snapshot().row_count("call_records") == 24
    events = {(e.action, e.outcome) for e in office.read_audit("opr", case_number="CLOSED-1")}
    assert ("purge-authorize", "denied") in events
