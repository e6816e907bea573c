"""The record-id index: which stored files may hold a batch's records (a rebuildable cache).

The dedup step of a commit must know which of the batch's ``record_id`` values a record table
already holds. Reading the ``record_id`` column of every stored file made a commit cost grow
with the repository; this index makes it follow the batch. It lives in
``_tls/cache/record_ids/<table>/`` (see ``docs/storage.md``):

- ``manifest.json``: the index format and its segments, each with its name, row count and the
  data files it covers (store names, which carry each file's SHA-256, so a name stands for
  fixed content);
- ``<sha256>.ids``: one segment, named by the SHA-256 of its bytes: sorted little-endian
  uint64 entries, 48 bits of a 64-bit key of a ``record_id`` (a mix of all its bytes) above
  16 bits naming the file of the segment's list that holds it.

A lookup answers "which files may hold one of these keys"; the dedup step then confirms
exactly against those files only, so two ids sharing a key (about one chance in 2**48 per
pair) cost a file read, never a wrong answer. The index is never trusted over the data: a
segment whose bytes do not hash to its name, an unreadable manifest, or a covered file that is
no longer visible (a purge rewrote it) means a rebuild from the checked store files; visible
files it does not cover (batches committed by an older library, or a commit killed before it
extended the index) are read and added as a new segment. A commit adds its own files from the
keys it already computed. Segments are merged when a newer one grows to half the size of the
one before it, so a table of ``N`` records keeps ``O(log N)`` segments.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import stat
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from tls_core.store._files import DataFile, fsync
from tls_core.store._layout import Layout, TableName
from tls_core.store._snapshot import Snapshot

__all__ = ["IndexState", "Keys", "RecordIdIndex", "distinct", "record_id_keys"]

INDEX_FORMAT: Final = 1
_MAX_SEGMENTS: Final = 24
_MAX_FILES: Final = 1 << 16
_ORDINAL: Final = np.uint64(_MAX_FILES - 1)
_SEGMENT_NAME = re.compile(r"[0-9a-f]{64}\.ids")
_ID_BYTES: Final = 32
_READERS: Final = 4
_ODD = tuple(
    np.uint64(k)
    for k in (0x9E3779B97F4A7C15, 0xBF58476D1CE4E5B9, 0x94D049BB133111EB, 0xD6E8FEB86659FD93)
)
_FMIX = (np.uint64(0xFF51AFD7ED558CCD), np.uint64(0xC4CEB9FE1A85EC53))
_33 = np.uint64(33)

Keys = npt.NDArray[np.uint64]


def record_id_keys(ids: pa.Array | pa.ChunkedArray) -> Keys:
    """Return the 64-bit key of each ``record_id``: a mix of all 32 bytes of its text.

    Every byte counts (ids made by a counter, as in synthetic data, share their first digits).
    A value of another length (the readers never write one) gets the first 8 bytes of its
    BLAKE2b hash instead. Equal strings always have equal keys; unequal strings rarely do, and
    then only cost an extra file read in the exact check.
    """
    arr = ids.combine_chunks() if isinstance(ids, pa.ChunkedArray) else ids
    arr = arr.cast(pa.string())
    n = len(arr)
    if n == 0:
        return np.empty(0, dtype=np.uint64)
    offsets = np.frombuffer(arr.buffers()[1], dtype=np.int32, count=n + 1, offset=arr.offset * 4)
    if not bool((np.diff(offsets) == _ID_BYTES).all()):
        return np.fromiter((_prefix(v) for v in arr.to_pylist()), dtype=np.uint64, count=n)
    words = np.frombuffer(arr.buffers()[2], dtype="<u8", count=4 * n, offset=int(offsets[0]))
    words = words.reshape(n, 4)
    x: Keys = words[:, 0] * _ODD[0]
    for column in range(1, 4):
        x ^= words[:, column] * _ODD[column]
    return _fmix(x)


def _fmix(x: Keys) -> Keys:
    """MurmurHash3's 64-bit finalizer (arrays: uint64 products wrap without a warning)."""
    for multiplier in _FMIX:
        x ^= x >> _33
        x *= multiplier
    x ^= x >> _33
    return x


def _prefix(value: str) -> int:
    raw = value.encode()
    if len(raw) == _ID_BYTES:
        return int(record_id_keys(pa.array([value], pa.string()))[0])
    return int.from_bytes(hashlib.blake2b(raw, digest_size=8).digest(), "big")


@dataclass(frozen=True)
class _Segment:
    """Sorted entries ``key >> 16 << 16 | ordinal``: 48 bits of the id key, 16 of the file."""

    name: str
    files: tuple[str, ...]
    entries: Keys = field(repr=False)

    @property
    def rows(self) -> int:
        return len(self.entries)

    def files_with(self, query: Keys) -> set[str]:
        """Names of the covered files holding an id with one of the (sorted, masked) keys."""
        from tls_core.store._index_kernel import files_hit

        return {self.files[i] for i in files_hit(self.entries, query, len(self.files))}


@dataclass(frozen=True)
class IndexState:
    """The checked segments of one table, as a commit found them (see :meth:`extend`)."""

    table: TableName
    segments: tuple[_Segment, ...] = field(repr=False)
    distinct_prefixes: int = 0
    """How many distinct 48-bit key prefixes the looked-up keys have (all distinct: as many
    as keys; fewer: a repeated id, or two ids sharing a prefix, for the exact check)."""


@dataclass
class RecordIdIndex:
    """The record-id index of a repository's record tables (one per :class:`Repository`).

    Only writers use it, under the commit lock. A segment's check is remembered while its
    inode, size, mtime and ctime are unchanged, as :class:`FileChecker` does for data files.
    """

    layout: Layout
    """The repository."""
    _ok: dict[str, tuple[int, ...]] = field(default_factory=dict)

    def candidates(
        self, snap: Snapshot, table: TableName, keys: Keys
    ) -> tuple[list[DataFile], IndexState]:
        """Return the visible files of ``table`` that may hold a record with one of these keys.

        Brings the index up to date with ``snap`` first (reading only the files it does not
        cover yet, or every file when it must be rebuilt). The returned state lets the commit
        add its own files afterwards without reading them back (:meth:`extend`).
        """
        query = distinct(keys & ~_ORDINAL, in_place=True)
        segments = self._current(snap, table)
        names: set[str] = set()
        if len(query):
            for segment in segments:
                names |= segment.files_with(query)
        state = IndexState(table, segments, len(query))
        return [f for f in snap.files[table] if f.name in names], state

    def extend(self, state: IndexState, added: list[tuple[str, Keys]]) -> None:
        """Add a committed batch's files (name and the keys of its rows) to the index.

        ``added`` is emptied once its keys are in the new segment, so they are not held
        through the merge (the peak memory of a large batch's commit).
        """
        if added:
            segments = [*state.segments, *_segments_of(added)]
            added.clear()
            self._save(state.table, _merged(segments))

    def _dir(self, table: TableName) -> Path:
        return self.layout.cache / "record_ids" / table

    def _current(self, snap: Snapshot, table: TableName) -> tuple[_Segment, ...]:
        visible = {f.name for f in snap.files[table]}
        segments = self._load(table)
        covered = {name for s in segments for name in s.files}
        if not covered <= visible:  # a purge rewrote files: drop what they held
            segments, covered = [], set()
        missing = [f for f in snap.files[table] if f.name not in covered]
        if not missing:
            return tuple(segments)
        segments = _merged([*segments, *_segments_of(_read_keys(snap, missing))])
        self._save(table, segments)
        return tuple(segments)

    def _load(self, table: TableName) -> list[_Segment]:
        """The manifest's segments, each checked; empty when anything is wrong (rebuild)."""
        try:
            manifest = json.loads((self._dir(table) / "manifest.json").read_text())
            if manifest.get("format") != INDEX_FORMAT or manifest.get("table") != table:
                return []
            return [self._read_segment(table, entry) for entry in manifest["segments"]]
        except (OSError, ValueError, KeyError, TypeError):
            return []

    def _read_segment(self, table: TableName, entry: dict[str, Any]) -> _Segment:
        name, rows, files = str(entry["name"]), int(entry["rows"]), tuple(entry["files"])
        if not _SEGMENT_NAME.fullmatch(name) or not all(isinstance(f, str) for f in files):
            raise ValueError(f"bad segment entry {name!r}")
        if len(files) > _MAX_FILES:
            raise ValueError(f"segment {name} lists too many files")
        path = self._dir(table) / name
        st = path.lstat()
        key = (st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)
        if st.st_size != rows * 8 or not stat.S_ISREG(st.st_mode):
            raise ValueError(f"segment {name} has {st.st_size} bytes, expected {rows * 8}")
        if self._ok.get(name) == key:
            raw: Any = np.memmap(path, dtype=np.uint8, mode="r") if rows else b""
        else:
            raw = path.read_bytes()
            if hashlib.sha256(raw).hexdigest() != name[:64]:
                raise ValueError(f"segment {name} does not match its SHA-256")
            self._ok[name] = key
        entries = np.frombuffer(raw, dtype="<u8", count=rows).astype(np.uint64, copy=False)
        if rows and int(entries.max() & _ORDINAL) >= len(files):
            raise ValueError(f"segment {name} names a file it does not list")
        return _Segment(name, files, entries)

    def _save(self, table: TableName, segments: list[_Segment]) -> None:
        """Write new segments and the manifest; a failure only costs a rebuild later."""
        directory = self._dir(table)
        try:
            directory.mkdir(parents=True, exist_ok=True)
            entries = [self._write_segment(directory, s) for s in segments]
            manifest = {"format": INDEX_FORMAT, "table": table, "segments": entries}
            tmp = directory / f".manifest-{uuid.uuid4().hex}.tmp"
            tmp.write_text(json.dumps(manifest))
            fsync(tmp)
            os.replace(tmp, directory / "manifest.json")
            fsync(directory)
            keep = {"manifest.json", *(e["name"] for e in entries)}
            for entry in directory.iterdir():
                if entry.name not in keep:
                    entry.unlink(missing_ok=True)
        except OSError:
            return

    def _write_segment(self, directory: Path, segment: _Segment) -> dict[str, Any]:
        entry = {"name": segment.name, "rows": segment.rows, "files": list(segment.files)}
        if segment.name and (directory / segment.name).is_file():
            return entry
        raw = np.ascontiguousarray(segment.entries, dtype="<u8").data.cast("B")
        name = hashlib.sha256(raw).hexdigest() + ".ids"
        tmp = directory / f".{uuid.uuid4().hex}.tmp"
        tmp.write_bytes(raw)
        fsync(tmp)
        os.replace(tmp, directory / name)
        st = (directory / name).stat()
        self._ok[name] = (st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)
        return {**entry, "name": name}


def distinct(values: Keys, *, in_place: bool = False) -> Keys:
    """Sorted distinct values (``np.unique`` without its hash table, faster here).

    ``in_place`` sorts ``values`` itself (a temporary of the caller) instead of a copy.
    """
    ordered = values if in_place else values.copy()
    ordered.sort()
    if len(ordered) < 2:
        return ordered
    keep = np.empty(len(ordered), dtype=bool)
    keep[0] = True
    np.not_equal(ordered[1:], ordered[:-1], out=keep[1:])
    return ordered[keep]


def _read_keys(snap: Snapshot, files: list[DataFile]) -> list[tuple[str, Keys]]:
    """Each file's name and row keys, each file checked before its ``record_id`` is read.

    Files are read by a few threads (Parquet decoding, SHA-256 and the key mix release the
    GIL): a repository built before the index existed reads all of them once.
    """
    from concurrent.futures import ThreadPoolExecutor

    def one(data_file: DataFile) -> tuple[str, Keys]:
        import pyarrow.parquet as pq

        (path,) = snap.checked_paths([data_file])
        ids = pq.read_table(path, columns=["record_id"], use_threads=False).column(0)
        return data_file.name, record_id_keys(ids)

    if len(files) < 2:
        return [one(f) for f in files]
    with ThreadPoolExecutor(max_workers=min(_READERS, len(files))) as pool:
        return list(pool.map(one, files))


def _segments_of(files: list[tuple[str, Keys]]) -> list[_Segment]:
    """Segments over files (at most ``_MAX_FILES`` each), entries sorted."""
    out: list[_Segment] = []
    for start in range(0, len(files), _MAX_FILES):
        chunk = files[start : start + _MAX_FILES]
        entries = np.empty(sum(len(keys) for _, keys in chunk), dtype=np.uint64)
        at = 0
        for i, (_, keys) in enumerate(chunk):  # filled in place: one array, no parts
            part = entries[at : at + len(keys)]
            np.bitwise_and(keys, ~_ORDINAL, out=part)
            part |= np.uint64(i)
            at += len(keys)
        entries.sort()
        out.append(_Segment("", tuple(name for name, _ in chunk), entries))
    return out


def _merged(segments: list[_Segment]) -> list[_Segment]:
    """Merge the newest segments while the one before is under twice their size.

    The list is changed in place and returned: a merged segment's arrays are released as soon
    as the merge replaces them (the caller holds no other reference to the new ones).
    """
    out = segments
    while len(out) >= 2 and (out[-2].rows < 2 * out[-1].rows or len(out) > _MAX_SEGMENTS):
        older, newer = out[-2], out[-1]
        if len(older.files) + len(newer.files) > _MAX_FILES:
            break
        entries = _merge_sorted(older.entries, newer.entries, len(older.files))
        out[-2:] = [_Segment("", older.files + newer.files, entries)]
        del older, newer, entries
    return out


def _merge_sorted(a: Keys, b: Keys, shift: int = 0) -> Keys:
    """Merge two sorted arrays, ``shift`` added to ``b``'s entries (its files' ordinals).

    Memory: the output and a buffer of at most ``min(len(a), len(b))`` entries (NumPy's
    stable sort of ``uint64`` is a timsort: it finds the two sorted runs and merges them).
    Adding the shift keeps ``b`` sorted: ordinals stay below ``2**16`` (checked by callers).
    """
    out = np.empty(len(a) + len(b), dtype=np.uint64)
    out[: len(a)] = a
    np.add(b, np.uint64(shift), out=out[len(a) :])
    out.sort(kind="stable")
    return out
