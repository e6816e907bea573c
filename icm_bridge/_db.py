"""Engines from URLs, SQLite hardening and the UTC time convention of every icm_bridge table.

Times are stored as integer microseconds since the Unix epoch, UTC. SQLite through SQLAlchemy
drops UTC offsets from ``DateTime`` values, so no ``DateTime`` column is used anywhere: the
conversion happens here, at the boundary, and refuses naive datetimes.
"""

from __future__ import annotations

import fcntl
import os
import threading
import weakref
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
    "Writer",
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
    guard, fd = _lock_file(f"{database}-writer.lock")
    # flock excludes other open files, not other threads sharing this one: a thread lock first.
    with guard:
        fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)


class Writer:
    """Write transactions on one store under :func:`write_lock`.

    On SQLite the connection is checked out before the lock is taken and then kept for this
    thread's next write (per process): pool checkout and return cost more than the statements
    of a typical audited action, and everything done under the lock bounds the throughput of
    concurrent writers. A connection whose transaction failed is closed and replaced;
    ``engine.dispose()`` closes the kept ones too. Other databases check a connection out of
    their pool (with its pre-ping) every time.
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._kept: dict[int, tuple[int, sa.Connection]] = {}  # thread id: (pid, connection)
        if engine.dialect.name == "sqlite":
            # A weak reference: the engine's listener must not keep this writer (and the
            # connections it keeps) alive after its store is gone.
            ref = weakref.ref(self)

            def on_dispose(_engine: Engine) -> None:
                writer = ref()
                if writer is not None:
                    writer.close()

            sa.event.listen(engine, "engine_disposed", on_dispose)

    @contextmanager
    def transaction(self) -> Iterator[sa.Connection]:
        """Begin a write transaction; commit when the block ends normally, else roll back."""
        engine = self.engine
        if engine.dialect.name != "sqlite":
            with engine.connect() as pooled, write_lock(engine), pooled.begin():
                yield pooled
            return
        thread, pid = threading.get_ident(), os.getpid()
        kept = self._kept.get(thread)
        if kept is None or kept[0] != pid or kept[1].closed or kept[1].invalidated:
            kept = (pid, engine.connect())
            self._kept[thread] = kept
        conn = kept[1]
        try:
            with write_lock(engine), conn.begin():
                yield conn
        except BaseException:
            self._kept.pop(thread, None)
            conn.close()
            raise

    def close(self) -> None:
        """Close the connections this process keeps (``engine.dispose()`` calls this)."""
        pid = os.getpid()
        for thread, (owner, conn) in list(self._kept.items()):
            if owner == pid:
                self._kept.pop(thread, None)
                conn.invalidate()  # closes the driver connection (its pool may be gone)
                conn.close()


_LOCKS: dict[str, tuple[int, threading.Lock, int]] = {}
_LOCKS_GUARD = threading.Lock()


def _lock_file(path: str) -> tuple[threading.Lock, int]:
    """Return this process's thread lock and open descriptor for a writer lock file.

    The descriptor stays open for the life of the process (opening it per transaction cost
    more than the lock itself); a forked child opens its own, since a descriptor inherited
    across ``fork`` shares the parent's lock.
    """
    pid = os.getpid()
    with _LOCKS_GUARD:
        entry = _LOCKS.get(path)
        if entry is None or entry[0] != pid:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o666)
            entry = (pid, threading.Lock(), fd)
            _LOCKS[path] = entry
        return entry[1], entry[2]


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
        # Straight to the driver: this runs once per transaction on the hot path.
        conn.connection.driver_connection.execute("BEGIN IMMEDIATE")  # type: ignore[union-attr]

    return engine
