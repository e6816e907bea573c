"""Snapshots: one registry version and the exact committed files visible at it."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa

from tls_core.errors import IntegrityError
from tls_core.store._delta import DeltaLogs, list_files
from tls_core.store._files import DataFile, FileChecker, read_checked
from tls_core.store._layout import STORED_SCHEMAS, TABLES, Layout, TableName

__all__ = ["Snapshot", "take_snapshot"]

_ATTEMPTS = 3

_CASE_LINKS_SQL = """
CREATE VIEW case_links AS
SELECT batch_id, case_id
FROM (
    SELECT batch_id, case_id, arg_max(linked, at_utc) AS linked
    FROM case_batches
    GROUP BY batch_id, case_id
)
WHERE linked
"""


@dataclass(frozen=True)
class Snapshot:
    """What a reader sees: whole batches, and only batches whose marker is committed.

    Attributes are plain data; :meth:`connect` opens a locked-down DuckDB connection on
    exactly :attr:`files`, each file checked against its SHA-256 first.
    """

    root: Path
    """The repository directory."""
    version: int
    """Version of the registry table (every operation ends with one registry commit)."""
    table_versions: Mapping[TableName, int]
    """Version of each table's log when the snapshot was taken."""
    files: Mapping[TableName, tuple[DataFile, ...]]
    """The visible data files of each table (files of uncommitted batches are left out)."""
    registry: pa.Table = field(repr=False)
    """Every committed operation (``commit``, ``link``, ``unlink``, ``purge``), in order."""
    _checker: FileChecker = field(repr=False, compare=False)
    _listed: Mapping[TableName, tuple[DataFile, ...]] = field(repr=False, compare=False)

    def uncommitted(self, table: TableName) -> tuple[DataFile, ...]:
        """Files in ``table``'s log whose owner has no registry row (left by a crashed commit)."""
        if table == "registry":
            return ()
        visible = {f.name for f in self.files[table]}
        return tuple(f for f in self._listed[table] if f.name not in visible)

    def listed_names(self, table: TableName) -> frozenset[str]:
        """Names of every file active in ``table``'s log, visible or not."""
        return frozenset(f.name for f in self._listed[table])

    @property
    def batch_ids(self) -> frozenset[str]:
        """Ids of the committed batches."""
        return frozenset(_committed_batches(self.registry))

    def row_count(self, table: TableName) -> int:
        """Visible rows of a table, from the row counts recorded in its log (no file read)."""
        return sum(f.rows for f in self.files[table])

    def paths(self, table: TableName) -> list[Path]:
        """Absolute paths of a table's visible files, each checked first."""
        return self._checker.check_all(self.files[table])

    def checked_paths(self, files: Iterable[DataFile]) -> list[Path]:
        """Absolute paths of some of the snapshot's files, each checked first."""
        return self._checker.check_all(files)

    def scan(self, files: Iterable[DataFile]) -> Iterator[pa.RecordBatch]:
        """Yield the record batches of some of this snapshot's files, each checked first."""
        return read_checked(self._checker, files)

    def read(self, table: TableName) -> pa.Table:
        """Read a table's visible rows into memory (small tables; use :meth:`connect` else)."""
        batches = list(read_checked(self._checker, self.files[table]))
        return pa.Table.from_batches(batches, schema=STORED_SCHEMAS[table])

    def connect(
        self,
        *,
        threads: int | None = None,
        memory_limit: str | None = None,
        temp_dir: Path | None = None,
    ) -> Any:
        """Open a DuckDB connection with one view per table, reading only this snapshot.

        Views: ``call_records``, ``subscriber_records``, ``misc_records``, ``rejects``,
        ``record_refs``, ``case_batches``, ``registry`` and ``case_links`` (the current
        ``(batch_id, case_id)`` associations). External access is off and the configuration
        locked, so queries can read nothing else. ``memory_limit`` with ``temp_dir`` (a
        directory inside the repository, owned by the caller) lets large sorts and joins spill
        to disk instead of failing or swapping.

        Raises:
            IntegrityError: a file fails its check; no row of it has been served.
        """
        views: dict[str, list[Path] | pa.Table] = {
            t: self.paths(t) for t in TABLES if t != "registry"
        }
        views["registry"] = self.registry
        con = _connect(views, threads=threads, memory_limit=memory_limit, temp_dir=temp_dir)
        con.execute(_CASE_LINKS_SQL)
        return con


def _connect(views: Mapping[str, Any], **kw: Any) -> Any:
    from tls_core.store._duck import connect_locked

    schemas: dict[str, pa.Schema] = {t: STORED_SCHEMAS[t] for t in TABLES}
    return connect_locked(views, empty_schemas=schemas, **kw)


def _committed_batches(registry: pa.Table) -> list[str]:
    ops = registry.column("op").to_pylist()
    ids = registry.column("batch_id").to_pylist()
    return [b for o, b in zip(ops, ids, strict=True) if o == "commit"]


def take_snapshot(layout: Layout, checker: FileChecker, logs: DeltaLogs | None = None) -> Snapshot:
    """Read the registry first, then list each table and keep the files of committed owners.

    A registry file can vanish between listing and reading when a writer compacts the registry
    and a later collection deletes the old files; the snapshot is then taken again.
    """
    for attempt in range(_ATTEMPTS):
        try:
            return _take_snapshot(layout, checker, logs)
        except IntegrityError as err:
            if err.reason != "missing_file" or attempt == _ATTEMPTS - 1:
                raise
    raise AssertionError("unreachable")  # pragma: no cover


def _take_snapshot(layout: Layout, checker: FileChecker, logs: DeltaLogs | None) -> Snapshot:
    version, registry_files = list_files(layout, "registry", logs)
    batches = list(read_checked(checker, registry_files))
    registry = pa.Table.from_batches(batches, schema=STORED_SCHEMAS["registry"])
    registry = registry.sort_by([("at_utc", "ascending"), ("op_id", "ascending")])
    op_ids = set(registry.column("op_id").to_pylist())
    visible = set(_committed_batches(registry))
    versions: dict[TableName, int] = {"registry": version}
    files: dict[TableName, tuple[DataFile, ...]] = {"registry": registry_files}
    listed_all: dict[TableName, tuple[DataFile, ...]] = {"registry": registry_files}
    for table in TABLES:
        if table == "registry":
            continue
        versions[table], listed = list_files(layout, table, logs)
        listed_all[table] = listed
        owners = op_ids if table == "case_batches" else visible
        files[table] = tuple(f for f in listed if f.owner_id in owners)
    return Snapshot(layout.root, version, versions, files, registry, checker, listed_all)
