"""Per-batch identifier aggregates of the call records: a derived, rebuildable cache.

A full link run used to scan and group every call record. Call records never change once
committed (their files are content-addressed; a purge rewrites a file, so its name changes),
so what a batch's call records contribute to ``identifier_cases`` is computed once and kept:

- step ``batch_call_groups``: the call records of the batches lacking an entry, grouped by
  ``batch_id`` and everything that decides their occurrences (target, parties, raw devices),
  with record counts and first/last start;
- step ``batch_identifiers``: the occurrence branches of
  :mod:`tls_core.link._identifier_cases` applied to those groups, per batch: one row per
  (batch, identifier, kind, role) for the ``target`` and ``contact`` roles, with distinct
  record counts, first/last seen and min/max target, and one row per raw target IMEI/IMSI
  (role ``raw_device``: canonicalized by each run, so that normalization is never cached).

Each batch's rows are one Arrow IPC file ``_tls/cache/link_batches/<key>-<sha256>.arrow``
(uncompressed and memory-mapped when read: a full run maps one per batch and decodes
nothing; an entry an older version wrote LZ4-compressed is read once and kept again
uncompressed):
``key`` is the SHA-256 of the cache format, the batch id and the names of the batch's call
record files (names carry the files' SHA-256), ``sha256`` that of the file's bytes. An entry is
used only when its key matches the snapshot's files and its bytes their hash; anything else is
rebuilt from the (checked) data files, and entries of keys no current batch has are deleted
(:func:`collect_batches`). Deleting the directory only costs the next run a full scan.
"""

from __future__ import annotations

import hashlib
import os
import uuid
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import Any, Final

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.ipc as ipc

from tls_core.link._steps import fetch_arrow, materialize
from tls_core.store import DataFile, Snapshot
from tls_core.store._layout import Layout

__all__ = [
    "BATCH_IDENTIFIERS",
    "batch_identifiers",
    "batch_identifiers_sql",
    "cache_dir",
    "collect_batches",
]

_FORMAT: Final = "tls-link-batch-identifiers 1"
_SUFFIX: Final = "arrow"
_READERS: Final = 2
"""Threads reading entries (the machine the targets are set on has two cores)."""

BATCH_IDENTIFIERS: Final = pa.schema(
    [
        ("batch_id", pa.string()),
        ("identifier", pa.string()),
        ("kind", pa.string()),
        ("role", pa.string()),
        ("records", pa.int64()),
        ("first_seen", pa.timestamp("us", tz="UTC")),
        ("last_seen", pa.timestamp("us", tz="UTC")),
        ("target_min", pa.string()),
        ("target_max", pa.string()),
    ]
)
"""Rows of the cache: ``role`` is ``target``, ``contact`` or ``raw_device`` (then
``identifier`` is the raw value and ``kind`` the column it came from, ``imei`` or ``imsi``)."""

_KEYS: Final = (
    "batch_id, target_canonical, target_kind, orig_canonical, orig_kind, term_canonical, "
    "term_kind, dialed_canonical, dialed_kind, target_imei, target_imsi"
)

_BATCH_CALL_GROUPS: Final = f"""
SELECT {_KEYS}, COUNT(*) AS records, MIN(start_utc) AS first_seen, MAX(start_utc) AS last_seen
FROM call_records
GROUP BY {_KEYS}
"""

# (column, role, earlier columns an occurrence must differ from): as in _identifier_cases.
_PARTIES: Final = (
    ("target", "target", ()),
    ("orig", "contact", ("target",)),
    ("term", "contact", ("target", "orig")),
    ("dialed", "contact", ("target", "orig", "term")),
)


def _party(column: str, role: str, unlike: tuple[str, ...]) -> str:
    differs = "".join(
        f"\n  AND (g.{o}_canonical IS NULL OR g.{column}_canonical <> g.{o}_canonical)"
        for o in unlike
    )
    return f"""
SELECT g.batch_id, g.{column}_canonical AS identifier, g.{column}_kind AS kind,
       '{role}' AS role, g.records, g.first_seen, g.last_seen, g.target_canonical AS target
FROM batch_call_groups g
WHERE g.{column}_canonical IS NOT NULL{differs}
"""


def _raw_device(column: str, kind: str) -> str:
    return f"""
SELECT g.batch_id, g.{column} AS identifier, '{kind}' AS kind, 'raw_device' AS role,
       g.records, g.first_seen, g.last_seen, g.target_canonical AS target
FROM batch_call_groups g
WHERE g.{column} IS NOT NULL
"""


_BATCH_IDENTIFIERS: Final = """
SELECT batch_id, identifier, kind, role, CAST(SUM(records) AS BIGINT) AS records,
       MIN(first_seen) AS first_seen, MAX(last_seen) AS last_seen,
       MIN(target) AS target_min, MAX(target) AS target_max
FROM ({parts}) parts
GROUP BY batch_id, identifier, kind, role
""".format(
    parts="UNION ALL".join(
        [
            *(_party(c, r, u) for c, r, u in _PARTIES),
            _raw_device("target_imei", "imei"),
            _raw_device("target_imsi", "imsi"),
        ]
    )
)


def batch_identifiers_sql() -> tuple[tuple[str, str], ...]:
    """The build steps, ``(name, SQL)`` in order: ``batch_call_groups``, ``batch_identifiers``."""
    return (("batch_call_groups", _BATCH_CALL_GROUPS), ("batch_identifiers", _BATCH_IDENTIFIERS))


def cache_dir(root: Path) -> Path:
    """Where the entries live: ``_tls/cache/link_batches``."""
    return Layout(root).cache / "link_batches"


def batch_identifiers(
    snap: Snapshot, batch_ids: Iterable[str], *, memory_limit: str, spill: Path
) -> dict[str, pa.Table]:
    """Return the cached rows of ``batch_ids`` (:data:`BATCH_IDENTIFIERS`), building missing ones.

    Returns:
        Per batch holding call records, its entry's rows (sorted by role, identifier, kind);
        batches without call records have none.

    Entries are read and checked on two threads (reading, hashing and decompressing release
    the GIL). Entries failing their check are rebuilt.

    Raises:
        LinkError: a build step failed.
        IntegrityError: a data file fails its check.
    """
    files = _files_by_batch(snap)
    wanted = sorted(set(batch_ids) & files.keys())
    folder = cache_dir(snap.root)
    entries = _entries(folder)
    keys = {batch: _key(batch, files[batch]) for batch in wanted}
    with ThreadPoolExecutor(max_workers=_READERS) as pool:
        loaded = pool.map(lambda b: _load(folder, keys[b], entries.get(keys[b], []), b), wanted)
        found = dict(zip(wanted, loaded, strict=True))
    missing = [batch for batch, table in found.items() if table is None]
    out = {batch: table for batch, table in found.items() if table is not None}
    if missing:
        built = _build(snap, [f for b in missing for f in files[b]], memory_limit, spill)
        for batch, table in _split(built, missing):
            _save(folder, keys[batch], table)
            out[batch] = table
    return out


def collect_batches(snap: Snapshot) -> list[str]:
    """Delete the entries no batch of ``snap`` has the key of (their files are gone).

    Returns:
        The names of the deleted entries.
    """
    folder = cache_dir(snap.root)
    if not folder.is_dir():
        return []
    keys = {_key(b, f) for b, f in _files_by_batch(snap).items()}
    deleted = []
    for entry in sorted(folder.iterdir()):
        if entry.name.split("-", 1)[0] not in keys:
            entry.unlink(missing_ok=True)
            deleted.append(entry.name)
    return deleted


def _files_by_batch(snap: Snapshot) -> dict[str, list[DataFile]]:
    by_batch: dict[str, list[DataFile]] = {}
    for data_file in snap.files["call_records"]:
        by_batch.setdefault(data_file.owner_id, []).append(data_file)
    return by_batch


def _key(batch: str, files: list[DataFile]) -> str:
    text = "\n".join([_FORMAT, batch, *sorted(f.name for f in files)])
    return hashlib.sha256(text.encode()).hexdigest()


def _entries(folder: Path) -> dict[str, list[str]]:
    """``{key: [content hash, ...]}`` of the entries in ``folder`` (one listing)."""
    found: dict[str, list[str]] = {}
    if folder.is_dir():
        for entry in os.listdir(folder):
            stem, dot, suffix = entry.partition(".")
            key, dash, digest = stem.partition("-")
            if dot and dash and suffix == _SUFFIX:
                found.setdefault(key, []).append(digest)
    return found


def _load(folder: Path, key: str, digests: list[str], batch: str) -> pa.Table | None:
    """The entry of ``key`` if one exists and passes its checks (bad entries are deleted).

    The entry is memory-mapped: its rows are the mapped pages (nothing decoded or copied). An
    entry written LZ4-compressed (before entries were kept uncompressed) is read, then kept
    again uncompressed.
    """
    for digest in sorted(digests):
        path = folder / f"{key}-{digest}.{_SUFFIX}"
        try:
            data = pa.memory_map(str(path)).read_buffer()
        except OSError:
            continue
        if hashlib.sha256(memoryview(data)).hexdigest() == digest:
            try:
                table = ipc.open_file(data).read_all()
            except (pa.ArrowException, OSError):
                table = None
            if table is not None and _belongs(table, batch):
                if not _in_place(table, data):  # compressed: keep it as a mappable entry
                    _save(folder, key, table)
                    path.unlink(missing_ok=True)
                return table
        path.unlink(missing_ok=True)
    return None


def _in_place(table: pa.Table, data: pa.Buffer) -> bool:
    """The rows are the mapped bytes themselves (an uncompressed entry), not decoded copies."""
    start, end = data.address, data.address + data.size
    return all(
        start <= buffer.address < end
        for column in table.columns
        for chunk in column.chunks
        for buffer in chunk.buffers()
        if buffer is not None and buffer.size
    )


def _belongs(table: pa.Table, batch: str) -> bool:
    """The rows have the cache's schema and all belong to ``batch`` (not another's copy)."""
    if not table.schema.equals(BATCH_IDENTIFIERS):
        return False
    ids = pc.unique(table.column("batch_id")).to_pylist()
    return ids in ([], [batch])


def _build(snap: Snapshot, files: list[DataFile], memory_limit: str, spill: Path) -> pa.Table:
    """Run the build steps over exactly ``files`` (a snapshot restricted to them)."""
    only = replace(snap, files={**dict.fromkeys(snap.files, ()), "call_records": tuple(files)})
    con: Any = only.connect(memory_limit=memory_limit, temp_dir=spill)
    try:
        for name, sql in batch_identifiers_sql():
            materialize(con, name, sql)
        sql = "SELECT * FROM batch_identifiers ORDER BY batch_id, role, identifier, kind"
        table = fetch_arrow(con, "batch_identifiers", sql)
    finally:
        con.close()
    return table.cast(BATCH_IDENTIFIERS)


def _split(table: pa.Table, batches: list[str]) -> list[tuple[str, pa.Table]]:
    """One table per batch (``table`` is sorted by batch); a batch with no rows gets none."""
    counts = {
        str(item["values"]): int(item["counts"])
        for item in pc.value_counts(table.column("batch_id")).to_pylist()
    }
    out = []
    start = 0
    for batch in sorted(batches):
        rows = counts.get(batch, 0)
        out.append((batch, table.slice(start, rows)))
        start += rows
    return out


def _save(folder: Path, key: str, table: pa.Table) -> None:
    """Write an entry: uncompressed Arrow IPC (a reader maps it), named by its SHA-256."""
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / f".{uuid.uuid4().hex}.tmp"
    try:
        with pa.OSFile(str(tmp), "wb") as sink, ipc.new_file(sink, BATCH_IDENTIFIERS) as out:
            out.write_table(table)
        with pa.memory_map(str(tmp)) as mapped:
            digest = hashlib.sha256(memoryview(mapped.read_buffer())).hexdigest()
        os.replace(tmp, folder / f"{key}-{digest}.{_SUFFIX}")
    finally:
        tmp.unlink(missing_ok=True)
