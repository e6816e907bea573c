"""The identifier occurrence index: sorted Parquet caches keyed by the snapshot they came from.

Two files, both sorted by the match key (:mod:`tls_core.search._keys`) and written in small row
groups with min/max statistics, so a point lookup reads one row group (a few for the busiest
identifiers):

- ``occurrences``: one row per row of the linker's ``occurrences`` step (identifier, role, case,
  record ...) plus its match key;
- ``summary``: one row per (match key, identifier, IMEI variant, case) with the occurrence
  count, roles and first/last seen, so the cases holding even the busiest identifier are read
  from a few rows, and ``path`` reads the case-identifier graph without the records.

They live in ``_tls/cache/search/`` beside ``manifest.json`` (the key, and the SHA-256 of every
row group and footer). Nothing is trusted blindly: the key (index format, occurrence step,
every table's log version) must be the current one, else the index is rebuilt (``stale``); every
part is checked before it is read, else the index is rebuilt (``corrupt``).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Final, Literal, TypeVar

import pyarrow as pa

from tls_core.errors import IntegrityError, LinkError
from tls_core.search._parts import SortedFile, describe
from tls_core.store import Repository, Snapshot
from tls_core.store._files import fsync
from tls_core.store._layout import TABLES, Layout

__all__ = [
    "OCCURRENCES_SCHEMA",
    "ROLE_BITS",
    "SUMMARY_SCHEMA",
    "IndexState",
    "OccurrenceIndex",
    "index_dir",
    "open_index",
    "with_index",
]

_T = TypeVar("_T")
INDEX_FORMAT: Final = "2"
KEEP_RECENT_S: Final = 60.0
"""Index files younger than this are not deleted by another build (it may be in progress)."""
ROW_GROUP_ROWS: Final = 4096
"""Rows per row group: a point lookup reads about this many rows."""

IndexState = Literal["current", "built", "stale", "corrupt"]
"""How the index was found: ``current`` (key and bytes checked), ``built`` (there was none),
``stale`` (rebuilt: the repository changed), ``corrupt`` (rebuilt: a part failed its check)."""

_UTC = pa.timestamp("us", tz="UTC")
OCCURRENCES_SCHEMA: Final = pa.schema(
    [
        pa.field("match_key", pa.string(), nullable=False),
        pa.field("kind", pa.string(), nullable=False),
        pa.field("identifier", pa.string(), nullable=False),
        pa.field("variant", pa.string()),
        pa.field("case_id", pa.string(), nullable=False),
        pa.field("record_id", pa.string(), nullable=False),
        pa.field("role", pa.string(), nullable=False),
        pa.field("record_type", pa.string(), nullable=False),
        pa.field("seen_utc", _UTC),
        pa.field("target", pa.string()),
    ]
)
"""Columns of the occurrences file: the match key, then the linker's ``occurrences`` columns."""

SUMMARY_SCHEMA: Final = pa.schema(
    [
        pa.field("match_key", pa.string(), nullable=False),
        pa.field("kind", pa.string(), nullable=False),
        pa.field("identifier", pa.string(), nullable=False),
        pa.field("variant", pa.string()),
        pa.field("case_id", pa.string(), nullable=False),
        pa.field("occurrences", pa.int64(), nullable=False),
        pa.field("roles", pa.int32(), nullable=False),
        pa.field("first_seen", _UTC),
        pa.field("last_seen", _UTC),
    ]
)
"""Columns of the summary file: one row per match key, identifier, variant and case; ``roles``
is a bit set over :data:`ROLE_BITS`."""

SPILL_KEEP_S: Final = 6 * 3600
"""Age after which a build's leftover spill directory is removed (its build was killed)."""

BUILD_MEMORY: Final = "1GB"
"""DuckDB memory limit of an index build; larger sorts spill to disk."""

ROLE_BITS: Final = {"target": 1, "contact": 2, "device": 4, "subscriber": 8, "misc": 16}
"""Bit of each role (``tls_core.link.ROLES``) in the summary's ``roles``."""

_KEYED = """
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
    kind, identifier, variant, case_id, record_id, role, record_type, seen_utc, target
FROM occurrences
"""

_OCCURRENCES = f"""
SELECT * FROM ({_KEYED}) AS keyed
ORDER BY match_key, identifier, case_id
"""

_SUMMARY = f"""
SELECT match_key, kind, identifier, variant, case_id, count(*) AS occurrences,
       max(CASE WHEN role = 'target' THEN 1 ELSE 0 END)
       + max(CASE WHEN role = 'contact' THEN 2 ELSE 0 END)
       + max(CASE WHEN role = 'device' THEN 4 ELSE 0 END)
       + max(CASE WHEN role = 'subscriber' THEN 8 ELSE 0 END)
       + max(CASE WHEN role = 'misc' THEN 16 ELSE 0 END) AS roles,
       min(seen_utc) AS first_seen, max(seen_utc) AS last_seen
FROM ({_KEYED}) AS keyed
GROUP BY match_key, kind, identifier, variant, case_id
ORDER BY match_key, identifier, case_id
"""

_FILES: Final = {"occurrences": OCCURRENCES_SCHEMA, "summary": SUMMARY_SCHEMA}
_DAMAGE = (IntegrityError, OSError, ValueError, KeyError, TypeError, pa.ArrowException)


@dataclass(frozen=True)
class OccurrenceIndex:
    """A checked, current occurrence index (see the module docstring)."""

    key: Mapping[str, Any]
    """What it was built from (format, step hash, registry version, table versions)."""
    occurrences: SortedFile
    """One row per occurrence."""
    summary: SortedFile
    """One row per identifier and case."""

    @property
    def version(self) -> int:
        """The registry version it was built from."""
        return int(self.key["version"])


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


def with_index(
    repo: Repository, use: Callable[[OccurrenceIndex], _T]
) -> tuple[_T, IndexState, int]:
    """Run ``use`` on the current index; return its result, the index state and version.

    When every table's log is still at the version the index was built from, the index is
    served without taking a snapshot (listing the logs is cheap; opening them is not).
    Otherwise a snapshot is taken and the index rebuilt. A part failing its check while
    ``use`` reads it means a rebuild and a second run.

    Raises:
        IntegrityError: a store file fails its check while the index is rebuilt.
    """
    directory = index_dir(repo)
    manifest = _read_manifest(directory)
    state: IndexState = "built" if manifest is None else "stale"
    if manifest is not None and _current(repo, manifest):
        try:
            index = _load(directory, manifest)
            return use(index), "current", index.version
        except _DAMAGE:
            state = "corrupt"
    snap = repo.snapshot()
    index, found = open_index(repo, snap)
    state = state if found == "current" else found
    try:
        return use(index), state, index.version
    except _DAMAGE:
        index = _load(directory, _build(directory, snap, index_key(snap)))
        return use(index), "corrupt", index.version


def open_index(repo: Repository, snap: Snapshot) -> tuple[OccurrenceIndex, IndexState]:
    """Return the index for ``snap``, building or rebuilding it when it is missing or untrusted.

    Raises:
        IntegrityError: a store file fails its check while the index is built.
        LinkError: an SQL step failed (names the step and its SQL).
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
    return _load(directory, _build(directory, snap, key)), state


def log_versions(repo: Repository) -> dict[str, int]:
    """Each table's latest Delta log version, from the log's file names (nothing parsed).

    A log directory's listing is reused while the directory is unchanged (same inode and
    modification time) and that time is over a second old: a file added since would have
    changed it (the "racy" second guards file systems with coarse timestamps).
    """
    layout = Layout(repo.root)
    versions: dict[str, int] = {}
    now = time.time_ns()
    for table in TABLES:
        log = layout.table(table) / "_delta_log"
        st = log.stat()
        if now - st.st_mtime_ns > _RACY_NS:
            versions[table] = _latest_version(log, st.st_ino, st.st_mtime_ns)
        else:
            versions[table] = _latest_version.__wrapped__(log, st.st_ino, st.st_mtime_ns)
    return dict(sorted(versions.items()))


_RACY_NS: Final = 1_000_000_000


@lru_cache(maxsize=64)
def _latest_version(log: Path, ino: int, mtime_ns: int) -> int:
    names = os.listdir(log)
    return max((int(n[:-5]) for n in names if n.endswith(".json") and n[:-5].isdigit()), default=-1)


@lru_cache(maxsize=1)
def _step_hash() -> str:
    from tls_core.link import occurrences_sql

    text = occurrences_sql() + _OCCURRENCES + _SUMMARY
    return hashlib.sha256(text.encode()).hexdigest()


def _current(repo: Repository, manifest: Mapping[str, Any]) -> bool:
    key = manifest.get("key")
    if not isinstance(key, dict) or key.get("format") != INDEX_FORMAT:
        return False
    return key.get("step") == _step_hash() and key.get("tables") == log_versions(repo)


def _read_manifest(directory: Path) -> dict[str, Any] | None:
    path = directory / "manifest.json"
    try:
        st = path.stat()
        return _parse_manifest(path, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)
    except (OSError, ValueError):
        return None


@lru_cache(maxsize=8)
def _parse_manifest(path: Path, *stat: int) -> dict[str, Any] | None:
    # Memoized on (inode, size, mtime, ctime): the manifest is replaced, never edited in place.
    data = json.loads(path.read_text())
    return data if isinstance(data, dict) else None


def _load(directory: Path, manifest: Mapping[str, Any]) -> OccurrenceIndex:
    files = manifest["files"]
    return OccurrenceIndex(
        key=manifest["key"],
        occurrences=SortedFile.from_manifest(directory, files["occurrences"], OCCURRENCES_SCHEMA),
        summary=SortedFile.from_manifest(directory, files["summary"], SUMMARY_SCHEMA),
    )


def _build(directory: Path, snap: Snapshot, key: Mapping[str, Any]) -> dict[str, Any]:
    directory.mkdir(parents=True, exist_ok=True)
    tmp = {name: directory / f"tmp-{uuid.uuid4().hex}.parquet" for name in _FILES}
    spill = directory / f"spill-{uuid.uuid4().hex}"
    try:
        rows = _write_sorted(snap, tmp, spill)
        files = {}
        for name, path in tmp.items():
            files[name] = describe(path, rows[name])
            os.replace(path, directory / files[name]["file"])
        fsync(directory)
    finally:
        for path in tmp.values():
            path.unlink(missing_ok=True)
        shutil.rmtree(spill, ignore_errors=True)
    manifest = {"format": INDEX_FORMAT, "key": dict(key), "files": files}
    _write_manifest(directory, manifest)
    _remove_old(directory, {f["file"] for f in files.values()})
    return manifest


def _remove_old(directory: Path, keep: set[str]) -> None:
    # Files another process wrote in the last minute may belong to its build in progress (or
    # be read right now): leave them to the next rebuild.
    horizon = time.time() - KEEP_RECENT_S
    for old in [*directory.glob("*.parquet"), *directory.glob("manifest.*.tmp")]:
        try:
            if old.name not in keep and old.stat().st_mtime < horizon:
                old.unlink()
        except FileNotFoundError:
            continue
    # Spill directories of a killed build; a running build's may sit untouched for minutes.
    for spill in directory.glob("spill-*"):
        try:
            if spill.stat().st_mtime < time.time() - SPILL_KEEP_S:
                shutil.rmtree(spill, ignore_errors=True)
        except FileNotFoundError:
            continue


def _write_sorted(snap: Snapshot, paths: Mapping[str, Path], spill: Path) -> dict[str, int]:
    import duckdb

    from tls_core.link import create_occurrences
    from tls_core.search._keys import country_codes

    codes = country_codes()
    params = {f"cc{w}": sorted(c for c in codes if len(c) == w) for w in (1, 2, 3)}
    # Bounded memory whatever the repository size: the sorts spill to a private directory
    # (not _tls/tmp, which a commit's garbage collection may clear under a running build).
    con = snap.connect(memory_limit=BUILD_MEMORY, temp_dir=spill)
    rows: dict[str, int] = {}
    step, sql = "occurrences", "(tls_core.link.create_occurrences)"
    try:
        create_occurrences(con)
        for step, sql in (("search_occurrences", _OCCURRENCES), ("search_summary", _SUMMARY)):
            reader = con.sql(sql, params=params).to_arrow_reader(ROW_GROUP_ROWS)
            name = step.removeprefix("search_")
            rows[name] = _stream(reader, paths[name], _FILES[name])
    except duckdb.Error as err:
        raise LinkError(f"search index step {step!r} failed: {err}", step=step, sql=sql) from err
    finally:
        con.close()
    return rows


def _stream(reader: Any, path: Path, schema: pa.Schema) -> int:
    import pyarrow.parquet as pq

    rows = 0
    with pq.ParquetWriter(path, schema, compression="zstd") as writer:
        pending: list[pa.RecordBatch] = []
        count = 0
        for batch in reader:
            pending.append(batch)
            count += batch.num_rows
            if count >= ROW_GROUP_ROWS:
                rows += _flush(writer, pending, schema)
                pending, count = [], 0
        rows += _flush(writer, pending, schema)
    fsync(path)
    return rows


def _flush(writer: Any, batches: list[pa.RecordBatch], schema: pa.Schema) -> int:
    if not batches:
        return 0
    table = pa.Table.from_batches(batches)
    columns = [col.cast(field.type) for col, field in zip(table.columns, schema, strict=True)]
    table = pa.Table.from_arrays(columns, schema=schema)
    writer.write_table(table, row_group_size=ROW_GROUP_ROWS)
    return int(table.num_rows)


def _write_manifest(directory: Path, manifest: Mapping[str, Any]) -> None:
    tmp = directory / f"manifest.{uuid.uuid4().hex}.tmp"
    tmp.write_text(json.dumps(manifest))
    fsync(tmp)
    os.replace(tmp, directory / "manifest.json")
    fsync(directory)
