"""Driver-level statements for the per-event hot path (audit append, query notices).

SQLAlchemy Core costs tens of microseconds per statement in Python; an audited query notice runs
about seven of them inside the writer lock, which bounded four writer processes to a few hundred
events per second. The handful of statements on that path go straight to the DB-API cursor of
the connection SQLAlchemy already holds (same transaction, same connection): SQL text written
once with ``?`` placeholders, rewritten to ``%s`` for psycopg, values always bound. Table names
come from :mod:`icm_bridge._schema`; a PostgreSQL schema (the audit store's ``tls_audit``) is
taken from the connection's ``schema_translate_map``, as SQLAlchemy itself does.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

__all__ = ["execute", "executemany", "placeholders", "qualify", "sql"]

_CACHE: dict[tuple[str, str | None, str], str] = {}


def execute(conn: sa.Connection, text: str, params: Sequence[object] = ()) -> Any:
    """Run ``text`` (see :func:`sql`) in ``conn``'s transaction; return the DB-API cursor.

    Driver errors are raised as SQLAlchemy's wrappers (``sa.exc.OperationalError``,
    ``IntegrityError``, ...), exactly as if the statement had gone through SQLAlchemy, so
    callers' error handling (fail closed, store errors) stays the same.
    """
    statement = sql(conn, text)
    cur = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
    try:
        cur.execute(statement, params)
    except conn.dialect.loaded_dbapi.Error as err:
        raise _wrap(conn, statement, params, err) from err
    return cur


def executemany(conn: sa.Connection, text: str, rows: Sequence[Sequence[object]]) -> None:
    """Run ``text`` once per row of parameters (one driver call), as :func:`execute` does."""
    statement = sql(conn, text)
    cur = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
    try:
        cur.executemany(statement, rows)
    except conn.dialect.loaded_dbapi.Error as err:
        raise _wrap(conn, statement, rows, err) from err
    finally:
        cur.close()


def _wrap(
    conn: sa.Connection, statement: str, params: Sequence[Any], err: Exception
) -> sa.exc.StatementError:
    return sa.exc.DBAPIError.instance(
        statement, params, err, conn.dialect.loaded_dbapi.Error, dialect=conn.dialect
    )


def qualify(conn: sa.Connection) -> str | None:
    """Return the schema unqualified tables map to on this connection (PostgreSQL), if any."""
    mapping = conn.get_execution_options().get("schema_translate_map") or {}
    schema = mapping.get(None)
    return str(schema) if schema else None


def sql(conn: sa.Connection, text: str) -> str:
    """Return ``text`` for this connection's driver.

    ``text`` uses ``?`` placeholders and writes tables as ``{t}name``; ``{t}`` becomes the
    quoted schema prefix where one applies, and ``?`` becomes ``%s`` for psycopg.
    """
    dialect, schema = conn.dialect.name, qualify(conn)
    key = (dialect, schema, text)
    done = _CACHE.get(key)
    if done is None:
        prefix = "" if schema is None else '"' + schema.replace('"', '""') + '".'
        done = text.replace("{t}", prefix)
        if conn.dialect.paramstyle in ("format", "pyformat"):
            done = done.replace("?", "%s")
        _CACHE[key] = done
    return done


def placeholders(values: Sequence[object]) -> str:
    """Return ``?, ?, ...`` for an ``IN`` list of ``values`` (the values stay bound)."""
    return ", ".join("?" * len(values))
