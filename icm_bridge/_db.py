"""Engines from URLs, SQLite hardening and the UTC time convention of every icm_bridge table.

Times are stored as integer microseconds since the Unix epoch, UTC. SQLite through SQLAlchemy
drops UTC offsets from ``DateTime`` values, so no ``DateTime`` column is used anywhere: the
conversion happens here, at the boundary, and refuses naive datetimes.
"""

from __future__ import annotations

import fcntl
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from tls_core.errors import ConfigError

__all__ = [
    "BUSY_TIMEOUT_MS",
    "audit_store_url",
    "case_store_url",
    "create_store_engine",
    "from_us",
    "now_us",
    "to_us",
    "write_lock",
]

BUSY_TIMEOUT_MS = 30_000
"""How long an SQLite writer waits for the write lock before failing."""


def create_store_engine(url: str, *, schema: str | None = None) -> Engine:
    """Create an engine for a case or audit store from its URL.

    SQLite engines run in WAL mode with a busy timeout, foreign keys on, and every transaction
    begun with ``BEGIN IMMEDIATE`` so that writers serialize at the start instead of failing at
    commit. PostgreSQL URLs (``postgresql+psycopg://``) are used as given; ``schema`` maps the
    unqualified tables into that schema (the audit store lives in its own schema there).

    Args:
        url: An SQLAlchemy URL, e.g. ``sqlite:///tls-data/cases.sqlite``.
        schema: PostgreSQL schema for the tables; ignored for SQLite (one file per store).

    Returns:
        A lazily connecting engine (nothing is opened here).

    Raises:
        ConfigError: The URL names an unsupported database.
    """
    parsed = sa.make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return _sqlite_engine(url)
    if parsed.get_backend_name() != "postgresql":
        raise ConfigError(
            f"unsupported case store database {parsed.get_backend_name()!r}",
            value=parsed.render_as_string(hide_password=True),
            reason="unsupported_database",
            hint="use sqlite:///PATH or postgresql+psycopg://...",
        )
    engine = sa.create_engine(url, pool_pre_ping=True)
    if schema is not None:
        engine = engine.execution_options(schema_translate_map={None: schema})
    return engine


@contextmanager
def write_lock(engine: Engine) -> Iterator[None]:
    """Serialize writers of one SQLite file across processes with a blocking file lock.

    SQLite's busy handler sleeps in growing steps (up to 100 ms) while another process holds
    the write lock, so under contention most of the time is spent asleep. Waiting on ``flock``
    instead wakes the next writer as soon as the lock is released. Other databases (and
    in-memory SQLite) need no lock. Not re-entrant: take it once per transaction.
    """
    database = engine.url.database if engine.dialect.name == "sqlite" else None
    if not database or database == ":memory:":
        yield
        return
    with open(f"{database}-writer.lock", "a", encoding="utf-8") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def case_store_url(repo: Path) -> str:
    """Return the URL of the embedded case store inside a repository directory."""
    return f"sqlite:///{(repo / 'cases.sqlite').as_posix()}"


def audit_store_url(repo: Path) -> str:
    """Return the URL of the embedded audit store (a file separate from the case store)."""
    return f"sqlite:///{(repo / 'audit.sqlite').as_posix()}"


def to_us(moment: datetime) -> int:
    """Convert an aware datetime to integer microseconds since the epoch, UTC.

    Raises:
        ConfigError: ``moment`` is naive (its zone would be guessed).
    """
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ConfigError(
            "naive datetime given where a UTC time is stored",
            value=moment.isoformat(),
            reason="naive_datetime",
            hint="pass datetime.now(UTC) or an aware datetime",
        )
    delta = moment - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def from_us(value: int) -> datetime:
    """Convert integer microseconds since the epoch back to an aware UTC datetime."""
    return datetime.fromtimestamp(value // 1_000_000, UTC).replace(microsecond=value % 1_000_000)


def now_us() -> int:
    """Return the current time as integer microseconds since the epoch, UTC."""
    return to_us(datetime.now(UTC))


def date_text(day: date) -> str:
    """Return a calendar date as ISO text (dates carry no zone, so none is stored)."""
    return day.isoformat()


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _sqlite_engine(url: str) -> Engine:
    # The pysqlite driver's own transaction handling defers BEGIN and never issues IMMEDIATE;
    # turn it off and emit BEGIN IMMEDIATE ourselves (SQLAlchemy's documented recipe).
    engine = sa.create_engine(url, connect_args={"timeout": BUSY_TIMEOUT_MS / 1000})

    @sa.event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS:d}")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA trusted_schema=OFF")  # no SQL functions run from schema objects
        cur.close()

    @sa.event.listens_for(engine, "begin")
    def _on_begin(conn: sa.Connection) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")

    return engine
