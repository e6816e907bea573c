"""The commit protocol of one batch (see ``docs/storage.md``, "Commit protocol").

Steps, in order, each named so tests can kill a process exactly there:

1. ``staged``: the input records are streamed into staging files (bounded memory).
2. ``published``: deduplicated records, rejects and record references are written, hashed and
   renamed into their table directories. Nothing is committed yet.
3. ``records_committed``, ``rejects_committed``, ``refs_committed``, ``cases_committed``: one
   Delta commit per table. The rows are in the logs but invisible: readers keep only files
   whose owner (batch or operation id) has a registry row.
4. ``marker_committed``: the registry row is committed, last. The batch is now visible.

Then the record-id index (a cache) is extended with the batch's files; a process killed
before that leaves an index the next commit completes by reading those files.

A process killed before step 4 leaves files of an owner the registry does not know; the next
writer removes them from the logs and deletes them, under the lock, before doing anything else.
"""

from __future__ import annotations

import contextlib
import errno
import sys
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal, TypeAlias

import pyarrow as pa

from tls_core.errors import SchemaError, StoreError
from tls_core.schema import CALL_RECORDS, MISC_RECORDS, REJECTS, SUBSCRIBER_RECORDS, check_table
from tls_core.store._dedup import dedup_and_publish
from tls_core.store._delta import DeltaLogs, commit_files
from tls_core.store._files import DataFile, publish, publish_stream, write_staged
from tls_core.store._layout import RECORD_TABLES, STORED_SCHEMAS, Layout, RecordType, TableName
from tls_core.store._record_index import Keys, RecordIdIndex, record_id_keys
from tls_core.store._snapshot import Snapshot

__all__ = [
    "BatchSpec",
    "CommitStep",
    "IntoRecords",
    "PurgeStep",
    "StepHook",
    "commit_new_batch",
    "op_row",
]

CommitStep = Literal[
    "staged",
    "published",
    "records_committed",
    "rejects_committed",
    "refs_committed",
    "cases_committed",
    "marker_committed",
]
"""The named steps of a commit, in order."""

PurgeStep = Literal["records_rewritten", "rejects_dropped", "purge_marked"]
"""The named steps of a retention purge, in order."""

StepHook = Callable[[CommitStep | PurgeStep], None]
"""Called after each named step; tests use it to kill the process there."""

IntoRecords: TypeAlias = "pa.Table | pa.RecordBatchReader | Iterable[pa.RecordBatch]"
"""A canonical table, or a stream of record batches of the canonical schema."""

CANONICAL: dict[RecordType, pa.Schema] = {
    "call": CALL_RECORDS,
    "subscriber": SUBSCRIBER_RECORDS,
    "misc": MISC_RECORDS,
}
_READ_ROWS = 65_536


@dataclass(frozen=True)
class BatchSpec:
    """What a commit was asked to do (validated by the caller)."""

    source_sha256: str
    """SHA-256 of the source file the records were read from."""
    source_name: str
    """Display name of the source file (never used as a path)."""
    case_ids: tuple[str, ...]
    """Cases the batch belongs to."""
    record_type: RecordType
    """Which record table receives the records."""
    actor: str
    """Who commits."""


@dataclass(frozen=True)
class _Counts:
    received: int
    loaded: int
    rejected: int


_COMMIT_ORDER: tuple[tuple[TableName | None, CommitStep], ...] = (
    (None, "records_committed"),  # the record table of the batch's record type
    ("rejects", "rejects_committed"),
    ("record_refs", "refs_committed"),
    ("case_batches", "cases_committed"),
    ("registry", "marker_committed"),
)


def commit_new_batch(
    layout: Layout,
    snap: Snapshot,
    index: RecordIdIndex,
    records: IntoRecords,
    rejects: IntoRecords | None,
    spec: BatchSpec,
    hook: StepHook,
    logs: DeltaLogs | None = None,
) -> tuple[str, _Counts, dict[TableName, int]]:
    """Run the steps for a new batch; return its id, counts and the new table versions."""
    batch_id = uuid.uuid4().hex
    files, counts, extend_index = _write_batch(
        layout, (snap, index), records, rejects, spec, batch_id, hook
    )
    versions: dict[TableName, int] = {}
    for key, step in _COMMIT_ORDER:
        table = RECORD_TABLES[spec.record_type] if key is None else key
        versions[table] = commit_files(
            layout, table, add=files[table], metadata={"tls.batch_id": batch_id}, logs=logs
        )
        hook(step)
    extend_index()  # the batch is visible: add its files to the record-id index (a cache)
    return batch_id, counts, versions


def _write_batch(
    layout: Layout,
    seen: tuple[Snapshot, RecordIdIndex],
    records: IntoRecords,
    rejects: IntoRecords | None,
    spec: BatchSpec,
    batch_id: str,
    hook: StepHook,
) -> tuple[dict[TableName, list[DataFile]], _Counts, Callable[[], None]]:
    """Steps ``staged`` and ``published``: every file of the batch, none committed."""
    table = RECORD_TABLES[spec.record_type]
    keys: list[Keys] = []
    with _phase("staging the records"):
        batches = _keyed(_staged_batches(records, spec, batch_id), keys)
        staged = write_staged(layout, batches, STORED_SCHEMAS[table])
    hook("staged")
    with _phase("deduplicating the records"):
        per_file = _split_keys(keys, staged)
        del keys
        kept, refs, extend_index = dedup_and_publish(
            layout, *seen, table, staged, batch_id, per_file
        )
    with _phase("writing the rejects"):
        rejects_in = () if rejects is None else _canonical_batches(rejects, REJECTS, spec)
        reject_files = publish_stream(layout, "rejects", _owned(rejects_in, batch_id), batch_id)
    received = sum(rows for _, rows in staged)
    loaded = sum(f.rows for f in kept)
    counts = _Counts(received, loaded, sum(f.rows for f in reject_files))
    cases = case_rows(batch_id, spec.case_ids, linked=True, op_id=batch_id)
    marker = op_row(batch_id, "commit", batch_id, spec, loaded, received - loaded, counts.rejected)
    with _phase("writing the batch marker"):
        files: dict[TableName, list[DataFile]] = {
            table: kept,
            "rejects": reject_files,
            "record_refs": refs,
            "case_batches": [publish_table(layout, "case_batches", cases, batch_id)],
            "registry": [publish_table(layout, "registry", marker, batch_id)],
        }
    hook("published")
    return files, counts, extend_index


@contextlib.contextmanager
def _phase(name: str) -> Iterator[None]:
    """Turn I/O, Arrow and DuckDB failures of a commit phase into a :class:`StoreError`.

    DuckDB is not imported for this (about 0.15 s in a one-shot process whose commit runs no
    SQL): its errors can only come from a phase that imported it, and the ``except`` clause
    looks its error class up when an error reaches it.
    """
    try:
        yield
    except (OSError, pa.ArrowException, *_duckdb_errors()) as err:
        full = getattr(err, "errno", None) in (errno.ENOSPC, errno.EFBIG) or any(
            text in str(err) for text in ("No space left", "File too large")
        )
        raise StoreError(
            f"the commit failed while {name}: {err}",
            reason="disk_full" if full else "write_failed",
            hint="free disk space, then commit again (nothing of this batch is visible)"
            if full
            else "nothing of this batch is visible; commit again",
        ) from err


def _duckdb_errors() -> tuple[type[Exception], ...]:
    duckdb = sys.modules.get("duckdb")
    return (duckdb.Error,) if duckdb is not None else ()


def op_row(
    op_id: str,
    op: str,
    batch_id: str,
    spec: BatchSpec,
    loaded: int | None = None,
    duplicates: int | None = None,
    rejected: int | None = None,
) -> pa.Table:
    """One registry row (the marker of an operation)."""
    row: dict[str, Any] = {
        "op_id": op_id,
        "op": op,
        "batch_id": batch_id,
        "record_type": spec.record_type,
        "source_sha256": spec.source_sha256,
        "source_name": spec.source_name,
        "case_ids": list(spec.case_ids),
        "actor": spec.actor,
        "at_utc": datetime.now(UTC),
        "loaded": loaded,
        "duplicates": duplicates,
        "rejected": rejected,
    }
    return pa.Table.from_pylist([row], schema=STORED_SCHEMAS["registry"])


def case_rows(batch_id: str, case_ids: Iterable[str], *, linked: bool, op_id: str) -> pa.Table:
    """Rows of ``case_batches`` that link (or unlink) one batch and some cases."""
    now = datetime.now(UTC)
    rows = [
        {"batch_id": batch_id, "case_id": c, "linked": linked, "op_id": op_id, "at_utc": now}
        for c in case_ids
    ]
    return pa.Table.from_pylist(rows, schema=STORED_SCHEMAS["case_batches"])


def publish_table(layout: Layout, table: TableName, data: pa.Table, owner_id: str) -> DataFile:
    """Write a small table as one published (not yet committed) file of ``table``."""
    return _publish_table(layout, table, data, owner_id)


def _publish_table(layout: Layout, table: TableName, data: pa.Table, owner_id: str) -> DataFile:
    staged = write_staged(layout, data.to_batches(), STORED_SCHEMAS[table])
    if len(staged) != 1:
        raise SchemaError(f"refusing to write an empty {table} file", reason="empty_file")
    ((path, rows),) = staged
    return publish(layout, table, path, owner_id, rows)


def _meta(batch_id: str) -> dict[str, str]:
    return {"tls.batch_id": batch_id}


def _as_batches(data: IntoRecords) -> Iterator[pa.RecordBatch]:
    if isinstance(data, pa.Table):
        yield from data.to_batches(max_chunksize=_READ_ROWS)
    else:
        yield from data


def _canonical_batches(
    data: IntoRecords, schema: pa.Schema, spec: BatchSpec
) -> Iterator[pa.RecordBatch]:
    import pyarrow.compute as pc

    for batch in _as_batches(data):
        table = check_table(pa.Table.from_batches([batch]), schema)
        sha = table.column("source_sha256")
        if len(table) and not pc.all(pc.equal(sha, spec.source_sha256)).as_py():
            raise SchemaError(
                "rows come from another source file than the batch says",
                column="source_sha256",
                value=spec.source_sha256,
                reason="source_mismatch",
            )
        yield from table.to_batches()


def _owned(batches: Iterable[pa.RecordBatch], batch_id: str) -> Iterator[pa.RecordBatch]:
    """Append the ``batch_id`` column (one owner column built for the longest batch, sliced)."""
    owner = pa.array([], pa.string())
    for batch in batches:
        if len(owner) < batch.num_rows:
            owner = pa.repeat(pa.scalar(batch_id, pa.string()), batch.num_rows)
        yield pa.RecordBatch.from_arrays(
            [*batch.columns, owner.slice(0, batch.num_rows)],
            names=[*batch.schema.names, "batch_id"],
        )


def _staged_batches(
    records: IntoRecords, spec: BatchSpec, batch_id: str
) -> Iterator[pa.RecordBatch]:
    return _owned(_canonical_batches(records, CANONICAL[spec.record_type], spec), batch_id)


def _keyed(batches: Iterable[pa.RecordBatch], keys: list[Keys]) -> Iterator[pa.RecordBatch]:
    """Pass the batches on, appending the keys of their ``record_id`` values to ``keys``.

    The dedup step needs those keys; taking them from the batches in memory spares it reading
    the ``record_id`` column back from the staged files.
    """
    for batch in batches:
        if batch.num_rows:
            keys.append(record_id_keys(batch.column("record_id")))
        yield batch


def _split_keys(keys: list[Keys], staged: list[tuple[Path, int]]) -> list[Keys] | None:
    """The keys of each staged file (files hold the batches in order, rolled by row count).

    None when the counts do not match (the dedup then reads the keys back from the files).
    """
    import numpy as np

    every = np.concatenate(keys) if keys else np.empty(0, np.uint64)
    rows = [n for _, n in staged]
    if len(every) != sum(rows):
        return None
    return list(np.split(every, np.cumsum(rows)[:-1])) if rows else []
