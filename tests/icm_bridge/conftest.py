from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa

from icm_bridge import CaseStore, NewUser

TODAY = date(2026, 6, 1)
NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
PG_ENV = "TLS_TEST_POSTGRES_URL"


class Clock:
    """A settable clock: tests move time instead of sleeping."""

    def __init__(self, now: datetime = NOW) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def backend_urls(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[tuple[str, str] | None]:
    """None for the embedded SQLite files; (case URL, audit URL) on a fresh PostgreSQL database."""
    if request.param == "sqlite":
        yield None
        return
    base = sa.make_url(os.environ[PG_ENV])  # the postgres tier always sets it
    name = f"tls_test_{uuid.uuid4().hex}"
    admin = sa.create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')  # generated name, not user input
    url = base.set(database=name).render_as_string(hide_password=False)
    yield url, url
    with admin.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE "{name}" WITH (FORCE)')
    admin.dispose()


def make_store(tmp: Path, clock: Clock, urls: tuple[str, str] | None) -> CaseStore:
    (tmp / "keys").mkdir(exist_ok=True)
    return CaseStore.open(
        tmp / "repo",
        audit_key=tmp / "keys" / "audit.key",
        case_url=urls[0] if urls else None,
        audit_url=urls[1] if urls else None,
        clock=clock,
    )


@pytest.fixture
def store(
    tmp_path: Path, clock: Clock, backend_urls: tuple[str, str] | None
) -> Iterator[CaseStore]:
    s = make_store(tmp_path, clock, backend_urls)
    yield s
    s.engine.dispose()
    s.audit.engine.dispose()


def user(
    uid: str, role: str, *, supervisor: str | None = None, trained: date = TODAY, **kw: str
) -> NewUser:
    return NewUser(
        user_id=uid,
        name=kw.pop("name", uid.title()),
        role=role,  # type: ignore[arg-type]
        trained_on=trained,
        supervisor=supervisor,
        **kw,
    )


@pytest.fixture
def office(store: CaseStore) -> CaseStore:
    """admin; a supervisor chain chief > sup > alice; bob under chief; carol; opr; opla."""
    store.add_user(None, user("admin", "admin"))
    for new in [
        user("chief", "supervisor"),
        user("sup", "supervisor", supervisor="chief"),
        user(
            "alice", "agent", supervisor="sup", phone="+1 206 555 0100", email="alice@example.org"
        ),
        user("bob", "agent", supervisor="chief", email="bob@example.org"),
        user("carol", "analyst", supervisor="sup"),
        user("dave", "agent", supervisor="chief"),
        user("opr", "opr"),
        user("opla", "opla"),
    ]:
        store.add_user("admin", new)
    return store
