"""The Delta Lake side: create tables, list their committed files, commit file actions."""

from __future__ import annotations

import json
import time
from collections.abc import Mapping, Sequence
from typing import Any, Final

from tls_core.errors import ConflictError, IntegrityError, StoreError
from tls_core.store._files import DataFile
from tls_core.store._layout import STORED_SCHEMAS, TABLES, Layout, TableName

__all__ = ["DeltaLogs", "commit_files", "create_tables", "list_files", "log_versions"]

COMMIT_RETRIES: Final = 5


def create_tables(layout: Layout) -> None:
    """Create every missing table (an empty Delta table, no data file)."""
    from deltalake import DeltaTable

    for name in TABLES:
        path = layout.table(name)
        if (path / "_delta_log").is_dir():
            continue
        path.mkdir(parents=True, exist_ok=True)
        try:
            DeltaTable.create(
                str(path),
                STORED_SCHEMAS[name],
                mode="ignore",
                name=name,
                configuration={"delta.checkpointInterval": "50"},
            )
        except Exception as err:
            raise StoreError(f"cannot create the {name} table: {err}", file=str(path)) from err


def _open(layout: Layout, table: TableName) -> Any:
    from deltalake import DeltaTable

    try:
        return DeltaTable(str(layout.table(table)))
    except Exception as err:
        raise IntegrityError(
            f"cannot load the {table} transaction log: {err}",
            file=str(layout.table(table) / "_delta_log"),
            reason="bad_log",
        ) from err


class DeltaLogs:
    """The Delta tables one writer opened, kept open for the rest of its operation.

    Opening a table parses its log (checkpoint and commits); a commit reads seven logs and
    writes to five. Within one operation under the writer lock, each table is opened once and
    brought up to date incrementally (only new commit files are read) on later uses. Not
    shared between threads: make one per operation.
    """

    def __init__(self, layout: Layout) -> None:
        self._layout = layout
        self._open: dict[TableName, Any] = {}

    def get(self, table: TableName) -> Any:
        """The table's ``DeltaTable``, at its latest version."""
        dt = self._open.get(table)
        if dt is None:
            dt = self._open[table] = _open(self._layout, table)
            return dt
        try:
            dt.update_incremental()
        except Exception as err:
            raise IntegrityError(
                f"cannot load the {table} transaction log: {err}",
                file=str(self._layout.table(table) / "_delta_log"),
                reason="bad_log",
            ) from err
        return dt


def list_files(
    layout: Layout, table: TableName, logs: DeltaLogs | None = None
) -> tuple[int, tuple[DataFile, ...]]:
    """Return the table version and its committed (active) data files, in commit order.

    Raises:
        IntegrityError: the log names a file the store does not write.
    """
    dt = _open(layout, table) if logs is None else logs.get(table)
    actions = dt.get_add_actions(flatten=True)
    paths = [str(p) for p in actions.column("path").to_pylist()]
    sizes = [int(s) for s in actions.column("size_bytes").to_pylist()]
    counts = actions.column("num_records").to_pylist()
    rows = [-1 if n is None else int(n) for n in counts]
    files = tuple(
        DataFile(table=table, name=p, size=s, rows=n)
        for p, s, n in zip(paths, sizes, rows, strict=True)
    )
    for f in files:
        layout.data_file(table, f.name)  # refuses foreign names and symlinks
    return int(dt.version()), files


def commit_files(
    layout: Layout,
    table: TableName,
    *,
    add: Sequence[DataFile] = (),
    remove: Sequence[DataFile] = (),
    metadata: Mapping[str, str] | None = None,
    logs: DeltaLogs | None = None,
) -> int:
    """Commit adds and removes to ``table`` as one Delta transaction; return the new version.

    Raises:
        ConflictError: the log kept moving under us (a writer that skipped the lock).
        StoreError: any other failure of the commit.
    """
    from deltalake import CommitProperties
    from deltalake.exceptions import CommitFailedError
    from deltalake.transaction import AddAction, RemoveAction

    now = int(time.time() * 1000)
    actions: list[Any] = [RemoveAction(f.name, True, now, f.size, {}) for f in remove]
    actions += [
        AddAction(f.name, f.size, {}, now, True, json.dumps({"numRecords": f.rows}))
        if f.rows >= 0
        else AddAction(f.name, f.size, {}, now, True, "{}")
        for f in add
    ]
    props = CommitProperties(
        custom_metadata=dict(metadata or {}), max_commit_retries=COMMIT_RETRIES
    )
    dt = _open(layout, table) if logs is None else logs.get(table)
    try:
        dt.create_write_transaction(
            actions, "append", STORED_SCHEMAS[table], commit_properties=props
        )
    except CommitFailedError as err:
        raise ConflictError(
            f"a concurrent commit to {table} won {COMMIT_RETRIES} times: {err}",
            file=str(layout.table(table)),
            reason="commit_conflict",
            hint="retry the operation",
        ) from err
    except Exception as err:
        raise StoreError(f"cannot commit to {table}: {err}", file=str(layout.table(table))) from err
    dt.update_incremental()
    return int(dt.version())


def log_versions(layout: Layout, table: TableName) -> list[str]:
    """Check a table's JSON commit files: versions dense from 0, each line valid JSON.

    Returns:
        One problem description per defect (empty when the log is sound).
    """
    log = layout.table(table) / "_delta_log"
    problems: list[str] = []
    commits = sorted(p for p in log.glob("*.json") if p.stem.isdigit())
    versions = [int(p.stem) for p in commits]
    first = versions[0] if versions else 0
    if versions != list(range(first, first + len(versions))):
        problems.append(f"{log}: commit versions are not dense: {versions[:10]}...")
    if first != 0 and not any(log.glob("*.checkpoint.parquet")):
        problems.append(f"{log}: log starts at {first} without a checkpoint")
    for path in commits:
        if path.is_symlink():
            problems.append(f"{path}: the commit file is a symbolic link")
            continue
        for number, line in enumerate(path.read_text().splitlines(), 1):
            try:
                json.loads(line)
            except ValueError:
                problems.append(f"{path}: line {number} is not JSON")
    return problems
