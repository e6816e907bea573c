"""DuckDB connections opened by the store: they read only the files they were given.

The settings follow DuckDB's security guidance: name the allowed files, turn external access
off, lock the configuration. Nothing a user or a file says is formatted into SQL text; values
(including the file lists) are bound parameters or go through the relational API.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa

from tls_core.errors import StoreError

__all__ = ["connect_locked"]


def connect_locked(
    views: Mapping[str, Sequence[Path] | pa.Table],
    *,
    empty_schemas: Mapping[str, pa.Schema],
    temp_dir: Path | None = None,
    memory_limit: str | None = None,
    threads: int | None = None,
    numbered: Collection[str] = (),
) -> Any:
    """Open an in-memory DuckDB connection with one view per name, then lock it down.

    Args:
        views: View name -> the Parquet files it reads, or an Arrow table to expose as is.
        empty_schemas: Schema of each view, used when its file list is empty.
        temp_dir: Directory where DuckDB may spill (inside the repository).
        memory_limit: DuckDB memory limit, e.g. ``"1GB"``.
        threads: Worker threads (default: DuckDB's).
        numbered: Views of Parquet files that get ``file_row_number`` and ``filename`` columns
            (the path as given).

    Returns:
        A ``duckdb.DuckDBPyConnection`` whose configuration is locked.
    """
    import duckdb

    config: dict[str, Any] = {
        "autoload_known_extensions": False,
        "autoinstall_known_extensions": False,
    }
    if threads is not None:
        config["threads"] = threads
    con = duckdb.connect(":memory:", config=config)
    try:
        allowed = [str(p) for v in views.values() if not isinstance(v, pa.Table) for p in v]
        con.execute("SET allowed_paths = $1", [allowed])
        if temp_dir is not None:
            temp_dir.mkdir(parents=True, exist_ok=True)
            con.execute("SET allowed_directories = $1", [[str(temp_dir) + "/"]])
            con.execute("SET temp_directory = $1", [str(temp_dir)])
        if memory_limit is not None:
            con.execute("SET memory_limit = $1", [memory_limit])
        con.execute("SET TimeZone = 'UTC'")
        for name, source in views.items():
            _register(con, name, source, empty_schemas[name], numbered=name in numbered)
        con.execute("SET enable_external_access = false")
        con.execute("SET lock_configuration = true")
    except duckdb.Error as err:
        con.close()
        raise StoreError(f"cannot open a DuckDB connection on the snapshot: {err}") from err
    return con


def _register(
    con: Any, name: str, source: Sequence[Path] | pa.Table, schema: pa.Schema, *, numbered: bool
) -> None:
    if isinstance(source, pa.Table):
        con.register(name, source)
    elif source:
        paths = [str(p) for p in source]
        con.read_parquet(paths, file_row_number=numbered, filename=numbered).create_view(name)
    else:
        con.register(name, schema.empty_table())
