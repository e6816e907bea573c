"""Running the link steps: the one place that knows it talks to DuckDB.

Each step is a portable ``SELECT`` (see ``docs/linking.md``); this module materializes it as a
temporary table named after the step and turns a DuckDB failure into
:class:`tls_core.errors.LinkError` carrying the step name and its SQL. ``CREATE OR REPLACE TEMP
TABLE`` is the DuckDB idiom isolated here (Spark would register a temporary view instead).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pyarrow as pa

from tls_core.errors import LinkError

__all__ = ["fetch_arrow", "materialize", "register", "run_sql"]


def materialize(
    con: Any, step: str, sql: str, params: Sequence[object] = (), *, view: bool = False
) -> None:
    """Create (or replace) the temporary table (or view) ``step`` as the result of ``sql``.

    Raises:
        LinkError: the SQL failed; carries ``step`` and ``sql``.
    """
    what = "VIEW" if view else "TABLE"
    run_sql(con, step, f"CREATE OR REPLACE TEMP {what} {step} AS\n{sql}", params).fetchall()


def run_sql(con: Any, step: str, sql: str, params: Sequence[object] = ()) -> Any:
    """Execute ``sql`` with bound ``params``; re-raise failures as :class:`LinkError`."""
    import duckdb

    try:
        return con.execute(sql, list(params))
    except duckdb.Error as err:
        raise _error(step, sql, err) from err


def fetch_arrow(con: Any, step: str, sql: str, params: Sequence[object] = ()) -> pa.Table:
    """Run a query and return its result as an Arrow table."""
    import duckdb

    try:
        result = con.sql(sql, params=list(params) or None).to_arrow_table()
    except duckdb.Error as err:
        raise _error(step, sql, err) from err
    assert isinstance(result, pa.Table)
    return result


def register(con: Any, name: str, table: pa.Table, *, copy: bool = True) -> None:
    """Expose an Arrow table computed in Python as a table named ``name``.

    Args:
        con: The connection.
        name: The table's name.
        table: The rows.
        copy: Copy the rows in (the default); else ``name`` reads ``table`` in place, which the
            caller keeps alive while the connection uses it.
    """
    if not copy:
        con.register(name, table)
        return
    view = f"{name}_arrow"
    con.register(view, table)
    try:
        materialize(con, name, f"SELECT * FROM {view}")
    finally:
        con.unregister(view)


def _error(step: str, sql: str, err: Exception) -> LinkError:
    return LinkError(
        f"link step {step!r} failed: {err}",
        step=step,
        sql=sql,
        reason="link_step_failed",
        hint="the SQL is in the error's .sql attribute; report it with the repository version",
    )
