"""The registry lookup of ``Repository.ingest``: is this content already stored, for which cases.

A repeated ingest should cost about one SHA-256 of the file. Taking a full snapshot per file
opened the seven Delta logs twice (the lookup, then the case links) and read the registry and
``case_batches`` files again each time: for ten small files, several times the cost of hashing
them. :class:`StoredSources` reads only the registry and ``case_batches`` (each file checked
against its SHA-256, as a snapshot does), and reads them again only when one of their logs has
a new commit, which it tells from a listing of the two ``_delta_log`` directories (no log is
parsed). A :class:`Repository` keeps one, so an ingest of many files already stored (in one
call or in several, as ``tls ingest`` makes one per file) reads the two tables once.

The answer is as fresh as a snapshot taken at the same moment: the listing is taken before the
tables are read, so a commit landing in between is seen at the next lookup at the latest. The
lookup runs without the writer lock, as the snapshot it replaces did; a file found not stored,
or stored for other cases, goes to :meth:`Repository.commit_batch`, which decides again under
the lock.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

import pyarrow as pa

from tls_core.errors import IntegrityError
from tls_core.store._delta import list_files
from tls_core.store._files import DataFile, FileChecker, read_checked
from tls_core.store._layout import STORED_SCHEMAS, Layout, RecordType, TableName

__all__ = ["Stored", "StoredSources", "links_of"]

_TABLES: Final[tuple[TableName, ...]] = ("registry", "case_batches")
_ATTEMPTS: Final = 3


@dataclass(frozen=True)
class Stored:
    """The committed, not purged batch of a source's content, and its current cases."""

    batch_id: str
    """The batch that stored the content."""
    record_type: RecordType
    """Its record type."""
    source_name: str
    """The file name it was stored under."""
    cases: frozenset[str]
    """Cases the batch is linked to now."""
    version: int
    """Registry version the answer was read at."""


@dataclass(frozen=True)
class _State:
    """What one read of the registry and ``case_batches`` found (replaced whole, never changed)."""

    heads: tuple[int, ...]
    version: int
    by_sha: dict[str, list[tuple[str, RecordType, str]]]
    links: dict[str, set[str]]


class StoredSources:
    """Answers "is this SHA-256 stored" from the registry, re-read only when it changed.

    The state read is replaced as a whole, so threads sharing a repository see one read or
    the next, never a mix.
    """

    def __init__(self, layout: Layout, checker: FileChecker) -> None:
        self._layout = layout
        self._checker = checker
        self._state: _State | None = None

    def find(self, sha256: str, record_type: RecordType | None) -> Stored | None:
        """The stored batch of this content (and record type, when given), or None."""
        self._layout.check_no_symlinks()
        state = self._current()
        for batch_id, kind, name in state.by_sha.get(sha256, ()):
            if record_type is None or kind == record_type:
                cases = frozenset(state.links.get(batch_id, ()))
                return Stored(batch_id, kind, name, cases, state.version)
        return None

    def _current(self) -> _State:
        heads = tuple(log_head(self._layout, t) for t in _TABLES)
        state = self._state
        if state is not None and state.heads == heads:
            return state
        for attempt in range(_ATTEMPTS):
            try:
                self._state = state = self._read(heads)
                return state
            except IntegrityError as err:  # a registry compaction removed a file just listed
                if err.reason != "missing_file" or attempt == _ATTEMPTS - 1:
                    raise
        raise AssertionError("unreachable")  # pragma: no cover

    def _read(self, heads: tuple[int, ...]) -> _State:
        version, files = list_files(self._layout, "registry")
        registry = _table(self._checker, "registry", files)
        _, links_files = list_files(self._layout, "case_batches")
        registry = registry.sort_by([("at_utc", "ascending"), ("op_id", "ascending")])
        names = ("op", "op_id", "batch_id", "record_type", "source_sha256", "source_name")
        by_sha: dict[str, list[tuple[str, RecordType, str]]] = {}
        purged: set[str] = set()
        committed: list[str] = []
        op_ids: set[str] = set()
        for op, op_id, batch, kind, sha, name in zip(
            *(registry.column(c).to_pylist() for c in names), strict=True
        ):
            op_ids.add(op_id)
            if op == "purge":
                purged.add(batch)
            elif op == "commit":
                committed.append(batch)
                by_sha.setdefault(sha, []).append((batch, kind, name))
        for sha, entries in by_sha.items():
            by_sha[sha] = [e for e in entries if e[0] not in purged]
        visible = [f for f in links_files if f.owner_id in op_ids]
        case_batches = _table(self._checker, "case_batches", visible)
        return _State(heads, version, by_sha, links_of(committed, case_batches))


def _table(checker: FileChecker, table: TableName, files: Iterable[DataFile]) -> pa.Table:
    batches = list(read_checked(checker, files))
    return pa.Table.from_batches(batches, schema=STORED_SCHEMAS[table])


def links_of(batch_ids: Iterable[str], case_batches: pa.Table) -> dict[str, set[str]]:
    """Map each batch to the cases it is linked to now (link and unlink events in time order)."""
    links: dict[str, set[str]] = {b: set() for b in batch_ids}
    events = case_batches.sort_by([("at_utc", "ascending")])
    columns = (events.column(c).to_pylist() for c in ("batch_id", "case_id", "linked"))
    for batch, case, linked in zip(*columns, strict=True):
        cases = links.setdefault(batch, set())
        if linked:
            cases.add(case)
        else:
            cases.discard(case)
    return links


def log_head(layout: Layout, table: TableName) -> int:
    """The newest commit version in a table's ``_delta_log`` directory, from a listing.

    Delta writes a commit file whole (put-if-absent), so a listed version is complete; -1 when
    the directory cannot be listed (the read that follows reports why).
    """
    head = -1
    try:
        with os.scandir(layout.table(table) / "_delta_log") as entries:
            for entry in entries:
                stem, dot, ext = entry.name.partition(".")
                if ext == "json" and dot and stem.isdigit():
                    head = max(head, int(stem))
    except OSError:
        return -1
    return head
