from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from icm_bridge import CaseStore
from icm_bridge._db import from_us, to_us
from icm_bridge._schema import case_team
from tests.icm_bridge.conftest import NOW, user
from tls_core.errors import AccessDenied, CaseStoreError, ConfigError, TrainingLapsed


def test_bootstrap_first_admin_only(store: CaseStore) -> None:
    with pytest.raises(AccessDenied):
        store.add_user(None, user("eve", "agent"))
    store.add_user(None, user("admin", "admin"))
    with pytest.raises(AccessDenied):
        store.add_user(None, user("admin2", "admin"))
    assert store.user_count() == 1


def test_only_admin_changes_accounts(office: CaseStore) -> None:
    with pytest.raises(AccessDenied):
        office.add_user("sup", user("mallory", "agent"))
    created = office.add_user("admin", user("zed", "agent", supervisor="bob"))
    assert created.supervisor == "bob"
    assert office.get_user("alice", "zed").role == "agent"


def test_case_lifecycle(office: CaseStore) -> None:
    case = office.open_case("alice", "C-1", owner="alice", title="Seattle ring")
    assert (case.status, case.owner, case.restricted, case.legal_hold) == (
        "open",
        "alice",
        False,
        False,
    )
    assert case.opened == NOW
    office.change_team("alice", "C-1", add=["carol", "bob"])
    assert office.show_case("alice", "C-1").team == ("bob", "carol")
    office.change_team("alice", "C-1", remove=["bob"])
    assert office.set_restricted("alice", "C-1", True).restricted
    assert office.set_hold("sup", "C-1", True).legal_hold
    closed = office.close_case("alice", "C-1")
    assert closed.status == "closed"
    assert closed.closed == NOW


def test_owner_must_be_agent_or_supervisor(office: CaseStore) -> None:
    with pytest.raises(CaseStoreError, match="cannot own"):
        office.open_case("alice", "C-2", owner="opla")
    with pytest.raises(AccessDenied):
        office.open_case("opr", "C-3", owner="alice")


def test_times_are_utc_microseconds() -> None:
    moment = datetime(2031, 3, 4, 5, 6, 7, 891011, tzinfo=UTC)
    assert from_us(to_us(moment)) == moment
    other_zone = moment.astimezone(ZoneInfo("America/Chicago"))
    assert to_us(other_zone) == to_us(moment)
    with pytest.raises(ConfigError):
        to_us(datetime(2031, 3, 4))


SQLITE_ONLY = pytest.mark.parametrize("backend_urls", [None])


@SQLITE_ONLY
def test_sqlite_is_wal_with_busy_timeout(office: CaseStore, tmp_path: Path) -> None:
    with office.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 30_000
    raw = sqlite3.connect(tmp_path / "repo" / "cases.sqlite")
    assert raw.execute("SELECT opened_us FROM cases").fetchall() == []
    raw.close()


@SQLITE_ONLY
def test_case_and_audit_stores_are_separate_files(office: CaseStore, tmp_path: Path) -> None:
    assert (tmp_path / "repo" / "cases.sqlite").exists()
    assert (tmp_path / "repo" / "audit.sqlite").exists()
    assert not (tmp_path / "repo" / "audit.key").exists()
    assert (tmp_path / "keys" / "audit.key").stat().st_mode & 0o077 == 0


def test_training_checked_on_every_call(office: CaseStore, clock) -> None:
    office.open_case("alice", "C-1", owner="alice")
    office.check("alice", "view", "C-1")
    clock.now = NOW + timedelta(days=200)
    office.update_user("admin", "alice", trained_on=clock.now.date())
    clock.now = NOW + timedelta(days=366)
    office.check("alice", "view", "C-1")  # renewed
    with pytest.raises(TrainingLapsed):
        office.check("bob", "view", "C-1")  # same session, no new sign-in: still checked
    with pytest.raises(TrainingLapsed):
        office.notifications("bob")
    assert office.visible_cases("alice", ["C-1"]) == {"C-1"}
    with pytest.raises(TrainingLapsed):
        office.visible_cases("bob", ["C-1"])


def test_audit_store_is_separate_from_case_data(office: CaseStore) -> None:
    case_tables = set(sa.inspect(office.engine).get_table_names())
    assert "cases" in case_tables
    assert "audit_events" not in case_tables
    if office.engine.dialect.name == "postgresql":
        # Same server, its own schema.
        audit_tables = sa.inspect(office.audit.engine).get_table_names(schema="tls_audit")
    else:
        assert office.audit.engine.url.database != office.engine.url.database
        audit_tables = sa.inspect(office.audit.engine).get_table_names()
    assert {"audit_events", "audit_checkpoints", "audit_head", "audit_tombstones"} <= set(
        audit_tables
    )
    assert "cases" not in audit_tables


def test_record_approval_states_with_approver(office: CaseStore) -> None:
    office.open_case("alice", "C-1", owner="alice")
    office.submit_records("alice", "C-1", ["r1", "r2"])
    assert office.approvals("alice", "C-1") == {"r1": ("pending", None), "r2": ("pending", None)}
    with pytest.raises(AccessDenied):
        office.approve_records("alice", "C-1", ["r1"])  # owners do not approve their own
    office.approve_records("sup", "C-1", ["r1"])
    office.submit_records("alice", "C-1", ["r1"])  # resubmitting keeps the approval
    assert office.approvals("bob", "C-1") == {"r1": ("approved", "sup"), "r2": ("pending", None)}
    with pytest.raises(CaseStoreError, match="never submitted"):
        office.approve_records("sup", "C-1", ["r9"])


def test_database_failures_are_case_store_errors(office: CaseStore) -> None:
    office.open_case("alice", "C-1", owner="alice")
    with office.engine.begin() as conn:
        case_team.drop(conn)
    with pytest.raises(CaseStoreError) as info:
        office.check("alice", "view", "C-1")
    assert info.value.reason == "case_store_failed"
    with pytest.raises(CaseStoreError, match="case store failed"):
        office.change_team("alice", "C-1", add=["bob"])
