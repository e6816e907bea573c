"""Data files: streamed writes into staging, content hashing, publishing, and checks before reads.

A data file is written under ``_tls/staging``, fsynced, hashed, then renamed into its table
directory as ``<owner>-<sha256>.parquet``: the name records the hash, so the record of the
hash is committed in the same Delta commit that adds the file.
"""

from __future__ import annotations

import hashlib
import os
import uuid
from collections.abc import Iterable, Iterator
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import pyarrow as pa

from tls_core.errors import IntegrityError, StoreError
from tls_core.store._constant import CONSTANT_MIN_ROWS, ConstantColumns
from tls_core.store._layout import (
    STORED_SCHEMAS,
    Layout,
    TableName,
    file_name,
    parse_file_name,
)
from tls_core.store._prefetch import READERS

__all__ = [
    "DataFile",
    "FileChecker",
    "fsync",
    "publish",
    "publish_stream",
    "sha256_file",
    "write_staged",
]

ROWS_PER_FILE: Final = 1_000_000
_RAW: Final = frozenset({"orig_raw", "term_raw", "dialed_raw", "target_raw", "start_raw"})
ENCODINGS: Final = {
    "record_id": "DELTA_LENGTH_BYTE_ARRAY",
    "start_utc": "DELTA_BINARY_PACKED",
    "source_row": "DELTA_BINARY_PACKED",
    "duration_s": "DELTA_BINARY_PACKED",
}
"""Columns written with a Parquet v2 encoding instead of a dictionary (or plain): per 1 M call
records, the row numbers (ascending) and times (nearly so) as deltas cost a third of their plain
encoding's CPU and shrink to a fraction; the record ids' lengths (all 32) as deltas, their bytes
back to back, save a fifth of their CPU; durations (unsorted small ints) as deltas cost 40% less
CPU than a dictionary for 8% more bytes. DuckDB, pyarrow, delta-rs and Spark (3.3+) read them."""
NO_DICTIONARY: Final = frozenset(ENCODINGS) | _RAW
"""Columns not dictionary-encoded: those of :data:`ENCODINGS`, (nearly) unique per row, where a
dictionary page only overflows and costs encoding time, and the raw spellings, which zstd
compresses as well without one and no query groups or joins on (they are shown, never
matched). Coordinates keep a dictionary: they are those of the carrier's cells, few distinct
values per return (a column of distinct values falls back to plain after the first page).
A raw spelling constant in a file's first batch (``target_raw``) gets one all the same: it is
handed to the writer as a one-value dictionary (``_constant.py``)."""
NO_STATISTICS: Final = frozenset(
    {"record_id", "source_sha256", "layout_name", "layout_version", "tz_source", "tz_name"} | _RAW
)
"""Columns written without min/max statistics: no query filters on them (a record id is a
hash; the others are the same for every row of a batch, or raw spellings). The byte-wise
min/max of their values cost about a tenth of the Parquet writing; the columns queries filter
on (canonical identifiers, kinds, times, ``batch_id``, numbers) keep theirs."""
_CHUNK: Final = 1 << 20
WRITE_BATCH: Final = 1 << 14


@dataclass(frozen=True)
class DataFile:
    """One committed (or about to be committed) data file of a table."""

    table: TableName
    """The table it belongs to."""
    name: str
    """``<owner>-<sha256>.parquet``."""
    size: int
    """Size in bytes as recorded in the log."""
    rows: int = -1
    """Row count when known (-1 otherwise)."""

    @property
    def owner_id(self) -> str:
        """The batch or operation the file belongs to."""
        return parse_file_name(self.name, table=self.table)[0]

    @property
    def sha256(self) -> str:
        """The recorded SHA-256 of the file's bytes."""
        return parse_file_name(self.name, table=self.table)[1]


def sha256_file(path: Path) -> str:
    """Return the hex SHA-256 of a file's bytes, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def write_staged(
    layout: Layout,
    batches: Iterable[pa.RecordBatch],
    schema: pa.Schema,
    *,
    rows_per_file: int = ROWS_PER_FILE,
    constant_min_rows: int = CONSTANT_MIN_ROWS,
) -> list[tuple[Path, int]]:
    """Write record batches of ``schema`` into staging files, rolling every ``rows_per_file``.

    String columns constant in a file's first batch (of at least ``constant_min_rows`` rows)
    are handed to the writer as one-value dictionaries (see ``_constant.py``); the files read
    back the same either way.

    Returns:
        ``(path, rows)`` of each staged file (none for an empty input).
    """
    layout.staging.mkdir(parents=True, exist_ok=True)
    out: list[tuple[Path, int]] = []
    staged: _StagedFile | None = None
    with _Encoder() as encoder:
        try:
            for batch in batches:
                if batch.num_rows == 0:
                    continue
                if staged is None:
                    plan = ConstantColumns.plan(
                        schema, batch, exclude=frozenset(ENCODINGS), min_rows=constant_min_rows
                    )
                    path = layout.staging / f"{uuid.uuid4().hex}.parquet"
                    staged = _StagedFile.open(path, plan)
                    out.append((staged.path, 0))
                encoder.write(staged, batch)
                out[-1] = (staged.path, staged.rows)
                if staged.rows >= rows_per_file:
                    encoder.close(staged)
                    staged = None
        finally:
            if staged is not None:
                encoder.close(staged)
    return out


class _Encoder:
    """Encodes the batches of staged files in a helper thread, one batch behind the caller.

    Arrow's Parquet writer (dictionaries, zstd) releases the GIL: while it encodes a batch, the
    caller's thread prepares the next (its checks, record-id keys, the read it waits for).
    At most one batch is in flight; an error of the writer is raised again in the caller, at
    its next write or at :meth:`close`. The thread is one of the reused read threads
    (:data:`~tls_core.store._prefetch.READERS`), not a new one per commit: a finished
    thread's allocator heap is reclaimed only later.
    """

    def __init__(self) -> None:
        self._pending: Future[None] | None = None

    def __enter__(self) -> _Encoder:
        return self

    def __exit__(self, *exc: object) -> None:
        self._wait()

    def write(self, staged: _StagedFile, batch: pa.RecordBatch) -> None:
        batch = staged.prepare(batch)
        self._wait()
        done: Future[None] = Future()

        def encode() -> None:
            try:
                staged.encode(batch)
            except BaseException as exc:  # raised again in the caller
                done.set_exception(exc)
            else:
                done.set_result(None)

        self._pending = done
        READERS.run(encode)

    def close(self, staged: _StagedFile) -> None:
        try:
            self._wait()
        finally:
            staged.close()

    def _wait(self) -> None:
        pending, self._pending = self._pending, None
        if pending is not None:
            pending.result()


@dataclass
class _StagedFile:
    """One staging file being written: its writer and the file's dictionary columns."""

    path: Path
    plan: ConstantColumns
    writer: Any
    rows: int = 0

    @classmethod
    def open(cls, path: Path, plan: ConstantColumns) -> _StagedFile:
        import pyarrow.parquet as pq

        options = _writer_options(plan.schema, dictionary=plan.columns)
        if plan.columns:
            # The writer would store the dictionary types; close() stores the string schema.
            options["store_schema"] = False
        return cls(path, plan, pq.ParquetWriter(path, plan.file_schema, **options))

    def prepare(self, batch: pa.RecordBatch) -> pa.RecordBatch:
        """The batch as the writer takes it (counted as written)."""
        if self.plan.columns:
            batch = self.plan.convert(batch)
        elif not batch.schema.equals(self.plan.schema):
            # Same columns and types; only nullability and metadata differ.
            batch = pa.RecordBatch.from_arrays(batch.columns, schema=self.plan.schema)
        self.rows += batch.num_rows
        return batch

    def encode(self, batch: pa.RecordBatch) -> None:
        self.writer.write_batch(batch)

    def close(self) -> None:
        if self.plan.columns and self.writer.is_open:
            self.writer.add_key_value_metadata(self.plan.key_value_metadata())
        self.writer.close()
        fsync(self.path)


def _writer_options(
    schema: pa.Schema, *, dictionary: frozenset[str] = frozenset()
) -> dict[str, Any]:
    """Writer options: zstd (default level); dictionary, encodings, statistics where they serve.

    ``dictionary`` names columns given to the writer as dictionaries: they keep one. The
    writer takes values :data:`WRITE_BATCH` at a time (Arrow's default is 1,024): 5% less
    CPU for the same bytes (the records of a 2 M-row return, written three times each way; a
    1 M-row one gave byte-identical files); a page may pass its 1 MiB target by one such run
    of values before the writer closes it.
    """
    names = schema.names
    sorted_ids = schema.equals(STORED_SCHEMAS["record_refs"])  # sorted by record_id: keep
    stats = [n for n in names if sorted_ids or n not in NO_STATISTICS]
    return {
        "compression": "zstd",
        "use_dictionary": [n for n in names if n not in NO_DICTIONARY or n in dictionary],
        "write_statistics": True if len(stats) == len(names) else stats,
        "column_encoding": {n: e for n, e in ENCODINGS.items() if n in names},
        "write_batch_size": WRITE_BATCH,
    }


def fsync(path: Path) -> None:
    """Flush a file or directory to disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def publish(layout: Layout, table: TableName, staged: Path, owner_id: str, rows: int) -> DataFile:
    """Hash a staged file and move it into ``table`` under its content name (not committed)."""
    digest = sha256_file(staged)
    name = file_name(owner_id, digest)
    target = layout.table(table) / name
    os.replace(staged, target)
    fsync(layout.table(table))
    return DataFile(table=table, name=name, size=target.stat().st_size, rows=rows)


def publish_stream(
    layout: Layout, table: TableName, batches: Iterable[pa.RecordBatch], owner_id: str
) -> list[DataFile]:
    """Write record batches (cast to ``table``'s stored schema) as published files of it."""
    schema = STORED_SCHEMAS[table]
    cast = (pa.Table.from_batches([b]).cast(schema).to_batches() for b in batches)
    staged = write_staged(layout, (b for bs in cast for b in bs), schema)
    return [publish(layout, table, path, owner_id, rows) for path, rows in staged]


@dataclass
class FileChecker:
    """Checks data files against their recorded size and SHA-256 before anything reads them.

    A file's result is remembered for as long as its inode, size, mtime and ctime stay the same
    (ctime cannot be set back by a user), so a long-lived repository hashes each file once.
    """

    layout: Layout
    """The repository the files belong to."""
    _ok: dict[str, tuple[int, ...]] = field(default_factory=dict)

    def check(self, data_file: DataFile) -> Path:
        """Return the file's path after checking it.

        Raises:
            IntegrityError: naming the file when it is missing, a symlink, of another size, or
                its bytes do not hash to the recorded SHA-256.
        """
        path = self.layout.data_file(data_file.table, data_file.name)
        try:
            st = path.stat()
        except FileNotFoundError:
            raise IntegrityError(
                "a committed data file is missing", file=str(path), reason="missing_file"
            ) from None
        key = (st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)
        if self._ok.get(data_file.name) == key:
            return path
        if st.st_size != data_file.size:
            raise IntegrityError(
                f"the file has {st.st_size} bytes, the log recorded {data_file.size}",
                file=str(path),
                reason="size_mismatch",
                hint="the file was truncated or replaced; restore it from a backup",
            )
        if sha256_file(path) != data_file.sha256:
            raise IntegrityError(
                "the file's bytes do not match its recorded SHA-256",
                file=str(path),
                reason="hash_mismatch",
                hint="the file was altered; restore it from a backup",
            )
        self._ok[data_file.name] = key
        return path

    def check_all(self, files: Iterable[DataFile]) -> list[Path]:
        """Check every file (see :meth:`check`) and return their paths in order."""
        return [self.check(f) for f in files]


def read_checked(checker: FileChecker, files: Iterable[DataFile]) -> Iterator[pa.RecordBatch]:
    """Yield the record batches of files, each file checked before its first row is read."""
    import pyarrow.parquet as pq

    for data_file in files:
        path = checker.check(data_file)
        try:
            yield from pq.ParquetFile(path).iter_batches()
        except (OSError, pa.ArrowException) as err:
            raise StoreError(f"cannot read a data file: {err}", file=str(path)) from err
