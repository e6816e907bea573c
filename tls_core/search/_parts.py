"""Sorted Parquet files whose footer and row groups are checked against SHA-256 before use.

A file is described (byte range and SHA-256 of its footer and of each row group, min/max of the
sort key per row group) right after it is written; the description goes into the index
manifest. Reads go through :class:`SortedFile`, which checks every part it is about to read.
"""

from __future__ import annotations

import bisect
import hashlib
import os
import threading
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import pyarrow as pa

from tls_core.errors import IntegrityError
from tls_core.store._files import sha256_file

__all__ = ["Part", "SortedFile", "check_whole", "describe", "warm"]


@dataclass(frozen=True)
class Part:
    """A byte range of a file and the SHA-256 of those bytes."""

    start: int
    end: int
    sha256: str


@dataclass(frozen=True)
class SortedFile:
    """One Parquet file sorted by its first column, as the manifest describes it."""

    path: Path
    """The file."""
    schema: pa.Schema
    """Its columns."""
    rows: int
    """Row count."""
    size: int
    """Size in bytes."""
    footer: Part
    """The footer (metadata, length, magic)."""
    row_groups: tuple[Part, ...]
    """Each row group's column chunks."""
    mins: tuple[str, ...]
    """Smallest sort key of each row group."""
    maxs: tuple[str, ...]
    """Largest sort key of each row group."""
    starts: tuple[int, ...]
    """Row number of the first row of each row group."""

    @classmethod
    def from_manifest(cls, directory: Path, entry: dict[str, Any], schema: pa.Schema) -> SortedFile:
        """Rebuild the description and check the file's name, size and footer.

        The description is kept per file: a file's name is the SHA-256 of its content, so
        one name has one description (parsing thousands of row-group entries costs a
        search tens of milliseconds). The file itself is checked on every call.

        Raises:
            IntegrityError: the name is foreign, the file a symlink, its size or footer wrong.
        """
        name = str(entry["file"])
        if len(name) != 72 or not name.endswith(".parquet") or os.sep in name:
            raise IntegrityError(
                "the manifest names a foreign file", file=name, reason="foreign_path"
            )
        path = directory / name
        if path.is_symlink():
            raise IntegrityError(
                "an index file is a symbolic link", file=str(path), reason="symlink"
            )
        found = _DESCRIBED.get((path, name))
        if found is None:
            found = cls(
                path=path,
                schema=schema,
                rows=int(entry["rows"]),
                size=int(entry["size"]),
                footer=Part(*entry["footer"]),
                row_groups=tuple(Part(*p) for p in entry["row_groups"]),
                mins=tuple(entry["mins"]),
                maxs=tuple(entry["maxs"]),
                starts=tuple(entry["starts"]),
            )
            if len(_DESCRIBED) >= _KEEP_DESCRIBED:
                _DESCRIBED.pop(next(iter(_DESCRIBED)))
            _DESCRIBED[(path, name)] = found
        stat = _stat(path)
        if stat[1] != found.size:
            raise IntegrityError(
                "an index file has another size", file=str(path), reason="size_mismatch"
            )
        _check(path, stat, found.footer, "footer")
        return found

    def row_groups_for(self, key: str) -> list[int]:
        """Indexes of the row groups whose min/max statistics may hold ``key``."""
        first = bisect.bisect_left(self.maxs, key)
        groups = []
        for i in range(first, len(self.mins)):
            if self.mins[i] > key:
                break
            groups.append(i)
        return groups

    def lookup(self, key: str) -> pa.Table:
        """Rows whose first column equals ``key`` (reads only the row groups that may hold it)."""
        return pa.concat_tables([self.schema.empty_table(), *self.iter_key(key)])

    def iter_key(self, key: str) -> Iterator[pa.Table]:
        """Yield the rows equal to ``key``, one checked row group at a time."""
        import pyarrow.compute as pc

        for i in self.row_groups_for(key):
            # The sort key column alone first (a fraction of the group's decoding): a group
            # whose min/max bracket the key without holding it is not decoded further.
            # (A pa.scalar, not a str: converting a str tries to import dateutil each call.)
            found = self.read([i], self.schema.names[:1]).column(0)
            mask = pc.equal(found, pa.scalar(key, pa.string()))
            if not pc.any(mask).as_py():
                continue
            rest = self.read([i], self.schema.names[1:])
            yield pa.Table.from_arrays([found, *rest.columns], schema=self.schema).filter(mask)

    def read_rows(self, start: int, stop: int, columns: Sequence[str]) -> pa.Table:
        """Rows ``start`` to ``stop`` (excluded) of the file, their row groups checked first."""
        first = bisect.bisect_right(self.starts, start) - 1
        last = bisect.bisect_left(self.starts, stop)
        if stop <= start or first < 0:
            return pa.schema([self.schema.field(c) for c in columns]).empty_table()
        # Row group by row group: each point read is then one cached decode (the groups of
        # one identifier in one run are adjacent rows: most fall in the same row group).
        parts = [self.read([g], columns) for g in range(first, last)]
        table = parts[0] if len(parts) == 1 else pa.concat_tables(parts)
        offset = self.starts[first]
        return table.slice(start - offset, stop - start)

    def read_all(self, columns: Sequence[str]) -> pa.Table:
        """Return ``columns`` of every row, each row group checked first."""
        if not self.row_groups:
            return pa.schema([self.schema.field(c) for c in columns]).empty_table()
        return self.read(list(range(len(self.row_groups))), columns)

    def read(self, groups: list[int], columns: Sequence[str]) -> pa.Table:
        """Read some row groups after checking each against its SHA-256.

        Raises:
            IntegrityError: a row group's bytes do not match.
        """
        stat = _stat(self.path)
        key = (self.path, stat, groups[0], tuple(columns)) if len(groups) == 1 else None
        if key is not None and (kept := _DECODED.get(key)) is not None:
            return kept
        for i in groups:
            _check(self.path, stat, self.row_groups[i], f"row group {i}")
        # A point read (one row group) decodes a few small column chunks in this thread:
        # handing them to the thread pool costs more than it saves.
        table = _parquet(self.path, *stat).read_row_groups(
            groups, columns=list(columns), use_threads=len(groups) > 1
        )
        schema = pa.schema([self.schema.field(c) for c in columns])
        out = pa.Table.from_arrays(table.columns, schema=schema)
        if key is not None:
            _DECODED.put(key, out)
        return out


class _Decoded:
    """Row groups decoded by point reads, most recent last, at most ``budget`` bytes.

    Keyed by (path, (inode, size, mtime, ctime), row group, columns): a row group is decoded
    from bytes that matched their SHA-256, and a file changed on disk is read (and checked)
    anew. The occurrences of a key in one run are adjacent rows, so the groups of an
    identifier held by many cases mostly share row groups.
    """

    def __init__(self, budget: int) -> None:
        self.budget = budget
        self.size = 0
        self.tables: OrderedDict[tuple[Any, ...], pa.Table] = OrderedDict()
        self.lock = threading.Lock()

    def get(self, key: tuple[Any, ...]) -> pa.Table | None:
        with self.lock:
            table = self.tables.get(key)
            if table is not None:
                self.tables.move_to_end(key)
            return table

    def put(self, key: tuple[Any, ...], table: pa.Table) -> None:
        with self.lock:
            if key in self.tables or table.nbytes > self.budget:
                return
            self.tables[key] = table
            self.size += table.nbytes
            while self.size > self.budget:
                _, old = self.tables.popitem(last=False)
                self.size -= old.nbytes


DECODED_BUDGET = 32 * 2**20
"""Bytes of decoded row groups kept per process (about 100 occurrence row groups)."""
_DECODED = _Decoded(DECODED_BUDGET)

_KEEP_DESCRIBED = 256
_DESCRIBED: dict[tuple[Path, str], SortedFile] = {}
"""Descriptions already parsed, by (path, content-addressed name); at most 256 kept."""


def describe(path: Path, rows: int) -> dict[str, Any]:
    """Describe a freshly written sorted file for the manifest (hashes every part)."""
    import pyarrow.parquet as pq

    meta = pq.ParquetFile(path).metadata
    size = path.stat().st_size
    footer_len = int.from_bytes(_pread(path, size - 8, 4), "little")
    footer = (size - 8 - footer_len, size)
    groups, mins, maxs, starts = [], [], [], []
    row = 0
    for i in range(meta.num_row_groups):
        group = meta.row_group(i)
        starts.append(row)
        row += group.num_rows
        start, end = _group_range(group)
        groups.append([start, end, _sha(path, start, end)])
        stats = group.column(0).statistics
        mins.append(str(stats.min))
        maxs.append(str(stats.max))
    return {
        "file": f"{sha256_file(path)}.parquet",
        "size": size,
        "rows": rows,
        "footer": [*footer, _sha(path, *footer)],
        "row_groups": groups,
        "mins": mins,
        "maxs": maxs,
        "starts": starts,
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


def check_whole(path: Path, part: Part, what: str) -> None:
    """Check a whole small file (``part`` covers it all) against its SHA-256.

    Raises:
        IntegrityError: the file is a symlink, or its size or bytes do not match.
        OSError: the file cannot be read.
    """
    if path.is_symlink():
        raise IntegrityError("an index file is a symbolic link", file=str(path), reason="symlink")
    stat = _stat(path)
    if stat[1] != part.end:
        raise IntegrityError(
            "an index file has another size", file=str(path), reason="size_mismatch"
        )
    _check(path, stat, part, what)


def _stat(path: Path) -> tuple[int, int, int, int]:
    st = path.stat()
    return (st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


def _check(path: Path, stat: tuple[int, ...], part: Part, what: str) -> None:
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


def _parquet(path: Path, *stat: int) -> Any:
    """The open Parquet file (its footer parsed) of ``path`` as of ``stat``, opened once.

    A run's footer describes thousands of row groups: parsing it costs about 0.1 s at 50 M
    records, so it is done once per process and file version, by whichever thread asks
    first (:func:`warm` asks ahead of the searches); the others wait for it.
    """
    key = (path, stat)
    found = _OPENED.get(key)
    if found is not None:
        return found
    with _OPENED_GUARD:
        lock = _OPENING.setdefault(key, threading.Lock())
    with lock:
        found = _OPENED.get(key)
        if found is None:
            import pyarrow.parquet as pq

            found = pq.ParquetFile(path)
            with _OPENED_GUARD:
                if len(_OPENED) >= _KEEP_OPENED:
                    _OPENED.pop(next(iter(_OPENED)))
                _OPENED[key] = found
                _OPENING.pop(key, None)
    return found


_KEEP_OPENED = 256
_OPENED: dict[tuple[Path, tuple[int, ...]], Any] = {}
"""Open Parquet files by (path, (inode, size, mtime, ctime)): a changed file is opened anew."""
_OPENED_GUARD = threading.Lock()
_OPENING: dict[tuple[Path, tuple[int, ...]], threading.Lock] = {}


def warm(files: Sequence[SortedFile]) -> threading.Thread | None:
    """Parse the footers of ``files`` not yet open, in a background thread; return it.

    Only a footer that matches its SHA-256 is parsed (a damaged one is left for the read that
    needs it, which raises). Returns None when every file is already open or being opened.
    """
    todo = []
    for f in files:
        try:
            stat = _stat(f.path)
        except OSError:
            continue
        key = (f.path, stat)
        if key not in _OPENED and key not in _OPENING and key not in _WARMING:
            _WARMING.add(key)
            todo.append((f, stat))
    if not todo:
        return None
    thread = threading.Thread(target=_open_all, args=(todo,), name="tls-index-warm", daemon=True)
    thread.start()
    return thread


_WARMING: set[tuple[Path, tuple[int, ...]]] = set()


def _forget_threads() -> None:
    """In a forked child: no warming thread runs there, so no lock it held may be waited on."""
    global _OPENED_GUARD
    _OPENED_GUARD = threading.Lock()
    _OPENING.clear()
    _WARMING.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_threads)


def _open_all(todo: list[tuple[SortedFile, tuple[int, int, int, int]]]) -> None:
    for f, stat in todo:
        try:
            _check(f.path, stat, f.footer, "footer")
            _parquet(f.path, *stat)
        except Exception:  # the read that needs this file raises it
            continue


def _pread(path: Path, start: int, length: int) -> bytes:
    fd = os.open(path, os.O_RDONLY)
    try:
        return os.pread(fd, length, start)
    finally:
        os.close(fd)


def _sha(path: Path, start: int, end: int) -> str:
    return hashlib.sha256(_pread(path, start, end - start)).hexdigest()
