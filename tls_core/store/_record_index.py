"""The record-id index: which stored files may hold a batch's records (a rebuildable cache).

The dedup step of a commit must know which of the batch's ``record_id`` values a record table
already holds. Reading the ``record_id`` column of every stored file made a commit cost grow
with the repository; this index makes it follow the batch. It lives in
``_tls/cache/record_ids/<table>/`` (see ``docs/storage.md``):

- ``manifest.json``: the index format and its segments, each with its name, size, row count
  and the data files it covers (store names, which carry each file's SHA-256, so a name stands
  for fixed content);
- ``<sha256>.ids``: one segment, named by the SHA-256 of its bytes: ``n`` little-endian
  uint64 prefixes (the first 16 hex digits of each ``record_id``), sorted, then ``n`` uint32
  ordinals into the segment's file list.

A lookup answers "which files may hold one of these prefixes"; the dedup step then confirms
exactly against those files only, so a prefix shared by two ids costs a file read, never a
wrong answer. The index is never trusted over the data: a segment whose bytes do not hash to
its name, an unreadable manifest, or a covered file that is no longer visible (a purge rewrote
it) means a rebuild from the checked store files; visible files it does not cover yet (the
batches committed since, or a repository built before the index existed) are read and added
as a new segment. Segments are merged when a newer one grows to half the size of the one
before it, so a repository of ``N`` records keeps ``O(log N)`` segments and each id is rewritten
``O(log N)`` times over the repository's life.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
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

__all__ = ["RecordIdIndex", "record_id_prefixes"]

INDEX_FORMAT: Final = 1
_MAX_SEGMENTS: Final = 24
_SEGMENT_NAME = re.compile(r"[0-9a-f]{64}\.ids")
_HEX32 = re.compile(r"[0-9a-fA-F]{32}")
_SHIFTS = np.arange(60, -4, -4, dtype=np.uint64)
_LUT = np.full(256, 255, dtype=np.uint8)
for _i, _c in enumerate("0123456789abcdef"):
    _LUT[ord(_c)] = _i
    _LUT[ord(_c.upper())] = _i

Prefixes = npt.NDArray[np.uint64]


def record_id_prefixes(ids: pa.Array | pa.ChunkedArray) -> Prefixes:
    """Return the uint64 prefix of each ``record_id``: its first 16 hex digits.

    A value that is not 32 hex digits (never written by the readers) gets the first 8 bytes of
    its BLAKE2b hash instead, so every string has a prefix and equal strings equal prefixes.
    """
    arr = ids.combine_chunks() if isinstance(ids, pa.ChunkedArray) else ids
    arr = arr.cast(pa.string())
    n = len(arr)
    if n == 0:
        return np.empty(0, dtype=np.uint64)
    offsets = np.frombuffer(arr.buffers()[1], dtype=np.int32, count=n + 1, offset=arr.offset * 4)
    if bool((np.diff(offsets) == 32).all()):
        data = np.frombuffer(arr.buffers()[2], dtype=np.uint8)
        block = data[offsets[0] : offsets[0] + 32 * n].reshape(n, 32)[:, :16]
        nibbles = _LUT[block]
        if bool((nibbles != 255).all()):
            shifted: Prefixes = nibbles.astype(np.uint64) << _SHIFTS
            out: Prefixes = np.bitwise_or.reduce(shifted, axis=1)
            return out
    return np.fromiter((_prefix(v) for v in arr.to_pylist()), dtype=np.uint64, count=n)


def _prefix(value: str) -> int:
    if _HEX32.fullmatch(value):
        return int(value[:16], 16)
    return int.from_bytes(hashlib.blake2b(value.encode(), digest_size=8).digest(), "big")


@dataclass(frozen=True)
class _Segment:
    name: str
    files: tuple[str, ...]
    prefixes: Prefixes = field(repr=False)
    ordinals: npt.NDArray[np.uint32] = field(repr=False)

    @property
    def rows(self) -> int:
        return len(self.prefixes)

    def files_with(self, query: Prefixes) -> set[str]:
        """Names of the covered files holding an id with one of the (sorted) prefixes."""
        lo = np.searchsorted(self.prefixes, query, "left")
        hi = np.searchsorted(self.prefixes, query, "right")
        counts = hi - lo
        hit = counts > 0
        if not bool(hit.any()):
            return set()
        lo, counts = lo[hit], counts[hit]
        starts = np.repeat(lo - (np.cumsum(counts) - counts), counts)
        rows = starts + np.arange(int(counts.sum()))
        return {self.files[int(i)] for i in np.unique(self.ordinals[rows])}


@dataclass
class RecordIdIndex:
    """The record-id index of a repository's record tables (one per :class:`Repository`).

    Only writers use it, under the commit lock. A segment's check is remembered while its
    inode, size, mtime and ctime are unchanged, as :class:`FileChecker` does for data files.
    """

    layout: Layout
    """The repository."""
    _ok: dict[str, tuple[int, ...]] = field(default_factory=dict)

    def candidates(self, snap: Snapshot, table: TableName, prefixes: Prefixes) -> list[DataFile]:
        """Return the visible files of ``table`` that may hold a record with these prefixes.

        Brings the index up to date with ``snap`` first (reading only the files it does not
        cover yet, or every file when it must be rebuilt).
        """
        query = np.unique(prefixes)
        names: set[str] = set()
        if len(query):
            for segment in self._current(snap, table):
                names |= segment.files_with(query)
        return [f for f in snap.files[table] if f.name in names]

    def _dir(self, table: TableName) -> Path:
        return self.layout.cache / "record_ids" / table

    def _current(self, snap: Snapshot, table: TableName) -> list[_Segment]:
        visible = {f.name for f in snap.files[table]}
        segments = self._load(table)
        covered = {name for s in segments for name in s.files}
        if not covered <= visible:  # a purge rewrote files: drop what they held
            segments, covered = [], set()
        missing = [f for f in snap.files[table] if f.name not in covered]
        if not missing:
            return segments
        segments = _merged([*segments, _build(snap, missing)])
        self._save(table, segments)
        return segments

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
        path = self._dir(table) / name
        st = path.stat()
        key = (st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)
        if st.st_size != rows * 12 or path.is_symlink():
            raise ValueError(f"segment {name} has {st.st_size} bytes, expected {rows * 12}")
        if self._ok.get(name) == key:
            raw: Any = np.memmap(path, dtype=np.uint8, mode="r")
        else:
            raw = path.read_bytes()
            if hashlib.sha256(raw).hexdigest() != name[:64]:
                raise ValueError(f"segment {name} does not match its SHA-256")
            self._ok[name] = key
        prefixes = np.frombuffer(raw, dtype="<u8", count=rows)
        ordinals = np.frombuffer(raw, dtype="<u4", count=rows, offset=rows * 8)
        if rows and int(ordinals.max()) >= len(files):
            raise ValueError(f"segment {name} names a file it does not list")
        return _Segment(name, files, prefixes.astype(np.uint64, copy=False), ordinals)

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
        raw = segment.prefixes.astype("<u8").tobytes() + segment.ordinals.astype("<u4").tobytes()
        name = hashlib.sha256(raw).hexdigest() + ".ids"
        tmp = directory / f".{uuid.uuid4().hex}.tmp"
        tmp.write_bytes(raw)
        fsync(tmp)
        os.replace(tmp, directory / name)
        st = (directory / name).stat()
        self._ok[name] = (st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)
        return {**entry, "name": name}


def _build(snap: Snapshot, files: list[DataFile]) -> _Segment:
    """A segment over ``files``, each checked before its ``record_id`` column is read."""
    import pyarrow.parquet as pq

    parts: list[Prefixes] = []
    ordinals: list[npt.NDArray[np.uint32]] = []
    for ordinal, path in enumerate(snap.checked_paths(files)):
        ids = pq.read_table(path, columns=["record_id"]).column(0)
        parts.append(record_id_prefixes(ids))
        ordinals.append(np.full(len(ids), ordinal, dtype=np.uint32))
    prefixes = np.concatenate(parts) if parts else np.empty(0, np.uint64)
    order = np.argsort(prefixes, kind="stable")
    owners = np.concatenate(ordinals) if ordinals else np.empty(0, np.uint32)
    return _Segment("", tuple(f.name for f in files), prefixes[order], owners[order])


def _merged(segments: list[_Segment]) -> list[_Segment]:
    """Merge the newest segments while the one before is under twice their size."""
    out = list(segments)
    while len(out) >= 2 and (out[-2].rows < 2 * out[-1].rows or len(out) > _MAX_SEGMENTS):
        older, newer = out[-2], out[-1]
        prefixes = np.concatenate([older.prefixes, newer.prefixes])
        shifted = newer.ordinals.astype(np.uint32) + np.uint32(len(older.files))
        ordinals = np.concatenate([older.ordinals, shifted])
        order = np.argsort(prefixes, kind="stable")  # timsort: two sorted runs, linear
        merged = _Segment("", older.files + newer.files, prefixes[order], ordinals[order])
        out[-2:] = [merged]
    return out
