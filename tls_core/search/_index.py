"""The identifier occurrence index: a sorted Parquet cache keyed by the snapshot it came from.

One row per occurrence of an identifier in a record of a case (the linker's ``occurrences``
step) plus its match key (:mod:`tls_core.search._keys`), sorted by match key and written in
small row groups with min/max statistics, so a point lookup reads one row group (or a few, for
the busiest identifiers).

The index lives in ``_tls/cache/search/``: ``manifest.json`` (its key and the SHA-256 of every
row group's bytes and of the footer) and ``<sha256>.parquet``. It is never trusted blindly:

- its key (index format, occurrence step, registry version, every table version) must equal the
  current snapshot's, else it is rebuilt (``stale``);
- the footer and every row group are checked against their recorded SHA-256 before they are
  read, else it is rebuilt (``corrupt``). A verified part is remembered while the file's inode,
  size, mtime and ctime are unchanged, as the store's ``FileChecker`` does.
"""

from __future__ import annotations

import bisect
import hashlib
import json
import os
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Final, Literal

import pyarrow as pa

from tls_core.errors import IntegrityError, LinkError
from tls_core.store import Repository, Snapshot
from tls_core.store._layout import TABLES, Layout

__all__ = [
    "INDEX_SCHEMA",
    "IndexState",
    "OccurrenceIndex",
    "index_dir",
    "lookup_checked",
    "open_index",
]

INDEX_FORMAT: Final = "1"
ROW_GROUP_ROWS: Final = 4096
"""Rows per row group: a point lookup reads about this many rows."""

IndexState = Literal["current", "built", "stale", "corrupt"]
"""How the index was found: ``current`` (key and bytes checked), ``built`` (there was none),
``stale`` (rebuilt: the snapshot changed), ``corrupt`` (rebuilt: a part failed its check)."""

_UTC = pa.timestamp("us", tz="UTC")
INDEX_SCHEMA: Final = pa.schema(
    [
        pa.field("match_key", pa.string(), nullable=False),
        pa.field("kind", pa.string(), nullable=False),
        pa.field("identifier", pa.string(), nullable=False),
        pa.field("role", pa.string(), nullable=False),
        pa.field("case_id", pa.string(), nullable=False),
        pa.field("record_id", pa.string(), nullable=False),
        pa.field("record_type", pa.string(), nullable=False),
        pa.field("seen_utc", _UTC),
        pa.field("target", pa.string()),
        pa.field("variant", pa.string()),
    ]
)
"""Columns of the index file: the match key, then the linker's ``occurrences`` columns."""

_SQL = """
SELECT
    CASE
        WHEN kind = 'phone' THEN 'phone:' || CASE
            WHEN list_contains($cc1, substr(identifier, 2, 1)) THEN substr(identifier, 3)
            WHEN list_contains($cc2, substr(identifier, 2, 2)) THEN substr(identifier, 4)
            WHEN list_contains($cc3, substr(identifier, 2, 3)) THEN substr(identifier, 5)
            ELSE substr(identifier, 2) END
        WHEN kind = 'imei' THEN 'imei:' || substr(identifier, 1, 14)
        WHEN kind = 'esn' THEN 'pesn:' || identifier
        WHEN kind = 'meid' THEN 'pesn:80' || upper(right(sha1(unhex(identifier)), 6))
        ELSE kind || ':' || identifier
    END AS match_key,
    kind, identifier, role, case_id, record_id, record_type, seen_utc, target, variant
FROM occurrences
ORDER BY match_key, identifier, case_id, record_id, role
"""


def index_dir(repo: Repository) -> Path:
    """The directory of the occurrence index of ``repo``."""
    return Layout(repo.root).cache / "search"


def index_key(snap: Snapshot) -> dict[str, Any]:
    """What the index must have been built from to be served for ``snap``."""
    return {
        "format": INDEX_FORMAT,
        "step": _step_hash(),
        "version": snap.version,
        "tables": {name: int(v) for name, v in sorted(snap.table_versions.items())},
    }


@lru_cache(maxsize=1)
def _step_hash() -> str:
    from tls_core.link import occurrences_sql

    return hashlib.sha256((occurrences_sql() + _SQL).encode()).hexdigest()


@dataclass(frozen=True)
class _Part:
    start: int
    end: int
    sha256: str


@dataclass(frozen=True)
class OccurrenceIndex:
    """A checked, current occurrence index file (see the module docstring)."""

    path: Path
    """The index file."""
    rows: int
    """Occurrence rows."""
    key: Mapping[str, Any]
    """The snapshot key it was built from."""
    row_groups: tuple[_Part, ...]
    footer: _Part
    mins: tuple[str, ...]
    maxs: tuple[str, ...]

    def lookup(self, key: str) -> pa.Table:
        """Return the rows whose match key is ``key`` (reads only the row groups that hold it).

        Raises:
            IntegrityError: a row group read fails its SHA-256 check.
        """
        groups = self.row_groups_for(key)
        if not groups:
            return INDEX_SCHEMA.empty_table()
        table = self._read(groups, INDEX_SCHEMA.names)
        import pyarrow.compute as pc

        return table.filter(pc.equal(table.column("match_key"), key))

    def row_groups_for(self, key: str) -> list[int]:
        """Indexes of the row groups whose min/max statistics may hold ``key``."""
        first = bisect.bisect_left(self.maxs, key)
        groups = []
        for i in range(first, len(self.mins)):
            if self.mins[i] > key:
                break
            groups.append(i)
        return groups

    def read_all(self, columns: Sequence[str]) -> pa.Table:
        """Return ``columns`` of every row, each row group checked first."""
        if not self.row_groups:
            return INDEX_SCHEMA.empty_table().select(list(columns))
        return self._read(list(range(len(self.row_groups))), list(columns))

    def _read(self, groups: list[int], columns: list[str]) -> pa.Table:
        handle = _parquet(self.path, *_stat(self.path))
        for i in groups:
            _check_part(self.path, _stat(self.path), self.row_groups[i], f"row group {i}")
        table = handle.read_row_groups(groups, columns=columns)
        schema = pa.schema([INDEX_SCHEMA.field(c) for c in columns])
        return pa.Table.from_arrays(table.columns, schema=schema)


def open_index(repo: Repository, snap: Snapshot) -> tuple[OccurrenceIndex, IndexState]:
    """Return the index for ``snap``, building or rebuilding it when it is missing or untrusted.

    Raises:
        IntegrityError: a store file fails its check while the index is built.
        LinkError: the occurrence SQL failed (names the step and its SQL).
    """
    directory = index_dir(repo)
    key = index_key(snap)
    manifest = _read_manifest(directory)
    state: IndexState = "built" if manifest is None else "stale"
    if manifest is not None and manifest.get("key") == key:
        try:
            return _load(directory, manifest), "current"
        except _DAMAGE:
            state = "corrupt"
    manifest = _build(directory, snap, key)
    return _load(directory, manifest), state


def lookup_checked(repo: Repository, key: str) -> tuple[pa.Table, IndexState, int]:
    """Look ``key`` up in the current index; returns rows, index state and registry version.

    When every table's transaction log is still at the version the index was built from, the
    index is served without taking a full snapshot (listing the logs is cheap; opening them is
    not). Otherwise a snapshot is taken and the index rebuilt. A part failing its check means
    a rebuild too.

    Raises:
        IntegrityError: a store file fails its check while the index is rebuilt.
    """
    directory = index_dir(repo)
    manifest = _read_manifest(directory)
    if manifest is not None and _current(repo, manifest):
        try:
            index = _load(directory, manifest)
            return index.lookup(key), "current", int(index.key["version"])
        except _DAMAGE:
            pass
        state: IndexState = "corrupt"
    else:
        state = "built" if manifest is None else "stale"
    snap = repo.snapshot()
    index, found = open_index(repo, snap)
    try:
        return index.lookup(key), state if found == "current" else found, snap.version
    except _DAMAGE:
        index = _load(directory, _build(directory, snap, index_key(snap)))
        return index.lookup(key), "corrupt", snap.version


def log_versions(repo: Repository) -> dict[str, int]:
    """Each table's latest Delta log version, from the log's file names (no log is parsed)."""
    layout = Layout(repo.root)
    versions: dict[str, int] = {}
    for table in TABLES:
        names = [n for n in os.listdir(layout.table(table) / "_delta_log") if n.endswith(".json")]
        versions[table] = max((int(n[:-5]) for n in names if n[:-5].isdigit()), default=-1)
    return dict(sorted(versions.items()))


def _current(repo: Repository, manifest: Mapping[str, Any]) -> bool:
    key = manifest.get("key")
    if not isinstance(key, dict) or key.get("format") != INDEX_FORMAT:
        return False
    return key.get("step") == _step_hash() and key.get("tables") == log_versions(repo)


_DAMAGE = (IntegrityError, OSError, ValueError, KeyError, TypeError, pa.ArrowException)


def _read_manifest(directory: Path) -> dict[str, Any] | None:
    path = directory / "manifest.json"
    try:
        return _parse_manifest(path, *_stat(path))
    except (OSError, ValueError):
        return None


@lru_cache(maxsize=8)
def _parse_manifest(path: Path, *stat: int) -> dict[str, Any] | None:
    # Memoized on (inode, size, mtime, ctime): the manifest is replaced, never edited in place.
    data = json.loads(path.read_text())
    return data if isinstance(data, dict) else None


def _load(directory: Path, manifest: Mapping[str, Any]) -> OccurrenceIndex:
    name = str(manifest["file"])
    if not (len(name) == 72 and name.endswith(".parquet")):
        raise IntegrityError(
            "the index manifest names a foreign file", file=name, reason="foreign_path"
        )
    path = directory / name
    if path.is_symlink():
        raise IntegrityError("the index file is a symbolic link", file=str(path), reason="symlink")
    stat = _stat(path)
    if stat[1] != int(manifest["size"]):
        raise IntegrityError(
            "the index file has another size", file=str(path), reason="size_mismatch"
        )
    footer = _Part(*manifest["footer"])
    _check_part(path, stat, footer, "footer")
    parts = tuple(_Part(*p) for p in manifest["row_groups"])
    return OccurrenceIndex(
        path=path,
        rows=int(manifest["rows"]),
        key=manifest["key"],
        row_groups=parts,
        footer=footer,
        mins=tuple(manifest["mins"]),
        maxs=tuple(manifest["maxs"]),
    )


def _build(directory: Path, snap: Snapshot, key: Mapping[str, Any]) -> dict[str, Any]:
    directory.mkdir(parents=True, exist_ok=True)
    tmp = directory / f"tmp-{uuid.uuid4().hex}.parquet"
    try:
        rows = _write_sorted(snap, tmp)
        manifest = _describe(tmp, rows, key)
        final = directory / manifest["file"]
        os.replace(tmp, final)
        _fsync(directory)
    finally:
        tmp.unlink(missing_ok=True)
    _write_manifest(directory, manifest)
    for old in directory.glob("*.parquet"):
        if old.name != manifest["file"]:
            old.unlink(missing_ok=True)
    return manifest


def _write_sorted(snap: Snapshot, path: Path) -> int:
    import duckdb
    import pyarrow.parquet as pq

    from tls_core.search._keys import country_codes

    codes = country_codes()
    params = {f"cc{w}": sorted(c for c in codes if len(c) == w) for w in (1, 2, 3)}
    from tls_core.link import create_occurrences

    sql = _SQL
    con = snap.connect()
    rows = 0
    try:
        create_occurrences(con)
        reader = con.sql(sql, params=params).to_arrow_reader(ROW_GROUP_ROWS)
        with pq.ParquetWriter(path, INDEX_SCHEMA, compression="zstd") as writer:
            pending: list[pa.RecordBatch] = []
            count = 0
            for batch in reader:
                pending.append(batch)
                count += batch.num_rows
                if count >= ROW_GROUP_ROWS:
                    rows += _flush(writer, pending)
                    pending, count = [], 0
            rows += _flush(writer, pending)
    except duckdb.Error as err:
        raise LinkError(
            f"the occurrence index step failed: {err}", step="occurrence_index", sql=sql
        ) from err
    finally:
        con.close()
    _fsync(path)
    return rows


def _flush(writer: Any, batches: list[pa.RecordBatch]) -> int:
    if not batches:
        return 0
    table = pa.Table.from_batches(batches)
    table = pa.Table.from_arrays(table.columns, schema=INDEX_SCHEMA)
    writer.write_table(table, row_group_size=ROW_GROUP_ROWS)
    return int(table.num_rows)


def _describe(path: Path, rows: int, key: Mapping[str, Any]) -> dict[str, Any]:
    import pyarrow.parquet as pq

    meta = pq.ParquetFile(path).metadata
    size = path.stat().st_size
    footer_len = int.from_bytes(_pread(path, size - 8, 4), "little")
    footer = (size - 8 - footer_len, size)
    groups, mins, maxs = [], [], []
    for i in range(meta.num_row_groups):
        group = meta.row_group(i)
        start, end = _group_range(group)
        groups.append([start, end, _sha(path, start, end)])
        stats = group.column(0).statistics
        mins.append(str(stats.min))
        maxs.append(str(stats.max))
    return {
        "format": INDEX_FORMAT,
        "key": dict(key),
        "file": f"{_whole_sha(path)}.parquet",
        "size": size,
        "rows": rows,
        "footer": [*footer, _sha(path, *footer)],
        "row_groups": groups,
        "mins": mins,
        "maxs": maxs,
    }


def _group_range(group: Any) -> tuple[int, int]:
    starts, ends = [], []
    for j in range(group.num_columns):
        col = group.column(j)
        start = col.data_page_offset
        if col.has_dictionary_page and col.dictionary_page_offset is not None:
            start = min(start, col.dictionary_page_offset)
        starts.append(start)
        ends.append(start + col.total_compressed_size)
    return min(starts), max(ends)


def _write_manifest(directory: Path, manifest: Mapping[str, Any]) -> None:
    tmp = directory / f"manifest.{uuid.uuid4().hex}.tmp"
    tmp.write_text(json.dumps(manifest))
    _fsync(tmp)
    os.replace(tmp, directory / "manifest.json")
    _fsync(directory)


def _stat(path: Path) -> tuple[int, int, int, int]:
    st = path.stat()
    return (st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


def _check_part(path: Path, stat: tuple[int, ...], part: _Part, what: str) -> None:
    _verified(str(path), stat, part.start, part.end, part.sha256, what)


@lru_cache(maxsize=65536)
def _verified(path: str, stat: tuple[int, ...], start: int, end: int, sha: str, what: str) -> bool:
    # Memoized only on success (an exception is not cached): a part is hashed once per
    # (inode, size, mtime, ctime) of its file, like the store's FileChecker.
    if _sha(Path(path), start, end) != sha:
        raise IntegrityError(
            f"the occurrence index {what} does not match its recorded SHA-256",
            file=path,
            reason="hash_mismatch",
            hint="the index is a cache: it is rebuilt from the repository",
        )
    return True


@lru_cache(maxsize=4)
def _parquet(path: Path, *stat: int) -> Any:
    import pyarrow.parquet as pq

    return pq.ParquetFile(path)


def _pread(path: Path, start: int, length: int) -> bytes:
    fd = os.open(path, os.O_RDONLY)
    try:
        return os.pread(fd, length, start)
    finally:
        os.close(fd)


def _sha(path: Path, start: int, end: int) -> str:
    return hashlib.sha256(_pread(path, start, end - start)).hexdigest()


def _whole_sha(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
