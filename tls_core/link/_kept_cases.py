"""The kept ``identifier_cases`` rows, in files an incremental run reads only in part.

The rows are un-merged (a full run's rows, then each incremental run's delta; every reader
sums them) in segments: Arrow IPC files ``identifier_cases-<sha256>.arrow``, uncompressed and
memory-mapped, so a run touches the pages it reads and never decodes or copies the rest.

An incremental run with the last run's settings needs only the kept rows of the identifiers
it changed that lie in a case its new records touch, or that are not hubs (step
``prior_changed_cases``, :mod:`tls_core.link._changed`): a hub stays a hub while records are
only added, and hub rows are most of the state (at 50 M records 830 k of 1.14 M rows). So it
reads the segments through that predicate, evaluated on the mapped columns
(:meth:`KeptCases.read_changed`): only the matching rows are copied, a superset of what the
SQL step then selects. Splitting the rows into files by case instead was tried: the copies it
takes on a full run (fresh memory is slow on this VM) cost more than it saved.

Each file's size is checked when the state is loaded and its SHA-256 (its name) when it is
read; a file failing its check raises :class:`DamagedState` (the run then relinks in full).
"""

from __future__ import annotations

import hashlib
import os
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar, Final

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.ipc as ipc

__all__ = [
    "CASES_SCHEMA",
    "MAX_SEGMENTS",
    "DamagedState",
    "KeptCases",
    "Segment",
    "Segments",
    "check_size",
    "read_mapped",
    "read_segment",
    "replace_file",
    "segment_name",
    "write_ipc",
    "write_segment",
]

CASES_SCHEMA: Final = pa.schema(
    [
        ("identifier", pa.string()),
        ("kind", pa.string()),
        ("case_id", pa.string()),
        ("role", pa.string()),
        ("variant", pa.string()),
        ("records", pa.int64()),
        ("first_seen", pa.timestamp("us", tz="UTC")),
        ("last_seen", pa.timestamp("us", tz="UTC")),
        ("target_min", pa.string()),
        ("target_max", pa.string()),
    ]
)
"""Columns of the kept ``identifier_cases`` rows (step ``identifier_cases``)."""

MAX_SEGMENTS: Final = 16
"""More segments than this are rewritten as one."""


class DamagedState(ValueError):
    """A kept file is missing or fails its check: the state must be rebuilt."""


@dataclass(frozen=True)
class Segment:
    """One kept file: ``<table>-<sha256>.arrow``."""

    sha256: str
    """SHA-256 of the file's bytes (its name)."""
    rows: int
    """Its row count."""
    size: int = 0
    """Its size in bytes (checked when the state is loaded)."""


@dataclass(frozen=True)
class Segments:
    """A kept table's segments under ``folder``, oldest first (named after :attr:`TABLE`)."""

    TABLE: ClassVar[str] = "identifier_cases"

    folder: Path
    """The state's directory."""
    segments: tuple[Segment, ...]
    """The files, oldest first."""

    def check_sizes(self) -> None:
        """Raise :class:`DamagedState` unless every file exists with its recorded size."""
        for segment in self.segments:
            check_size(self.path(segment), segment)

    def names(self) -> set[str]:
        """File names of every segment."""
        return {segment_name(s.sha256, self.TABLE) for s in self.segments}

    def path(self, segment: Segment) -> Path:
        """Where ``segment`` is stored."""
        return self.folder / segment_name(segment.sha256, self.TABLE)


@dataclass(frozen=True)
class KeptCases(Segments):
    """The kept ``identifier_cases`` segments under ``folder``, oldest first."""

    def read_all(self) -> pa.Table:
        """Every kept row (checked)."""
        return pa.concat_tables([CASES_SCHEMA.empty_table(), *self._tables()])

    def read_changed(self, changed: pa.Table, cases: pa.Array, hubs: pa.Table) -> pa.Table:
        """The kept rows of ``changed`` identifiers in ``cases``, or of those not ``hubs``.

        A superset of step ``prior_changed_cases``, on identifier strings (the step matches the
        kind too): a row is kept when its identifier is changed, and its case is in ``cases``
        or its identifier string is not a changed hub's (unless a changed non-hub has it too).

        Args:
            changed: ``(identifier, kind)`` of the changed identifiers.
            cases: The case ids the delta touches.
            hubs: ``(identifier, kind)`` of the hubs of the kept state.
        """
        identifiers = pc.unique(changed.column("identifier"))
        exclude = _hub_strings(changed, hubs)
        parts = [CASES_SCHEMA.empty_table()]
        for table in self._tables():
            ident = table.column("identifier")
            keep = pc.and_(
                pc.is_in(ident, value_set=identifiers),
                pc.or_(
                    pc.is_in(table.column("case_id"), value_set=cases),
                    pc.invert(pc.is_in(ident, value_set=exclude)),
                ),
            )
            parts.append(table.filter(keep))
        return pa.concat_tables(parts)

    def append(self, rows: pa.Table, *, fresh: bool = False) -> KeptCases:
        """Write ``rows`` as one more segment (``fresh``: instead of the kept ones).

        Past :data:`MAX_SEGMENTS` the kept segments and ``rows`` are rewritten as one.
        """
        kept = () if fresh else self.segments
        rows = rows.cast(CASES_SCHEMA)
        if len(kept) >= MAX_SEGMENTS:
            rows = pa.concat_tables([self.read_all(), rows])
            kept = ()
        if rows.num_rows == 0 and kept:
            return KeptCases(self.folder, kept)
        return KeptCases(self.folder, (*kept, write_segment(self.folder, rows)))

    def _tables(self) -> Iterable[pa.Table]:
        for segment in self.segments:
            yield read_segment(self.path(segment), segment, CASES_SCHEMA)


def _hub_strings(changed: pa.Table, hubs: pa.Table) -> pa.Array:
    """Strings of changed hubs that no changed non-hub shares (their other rows: not needed)."""
    is_hub = pc.is_in(_keys(changed), value_set=_keys(hubs))
    idents = changed.column("identifier")
    live = idents.filter(pc.invert(is_hub))
    hub_strings = idents.filter(is_hub)
    only: pa.Array = pc.unique(hub_strings.filter(pc.invert(pc.is_in(hub_strings, value_set=live))))
    return only


def _keys(table: pa.Table) -> pa.Array:
    """``kind`` and ``identifier`` joined (a null kind as ""): a composite key for ``is_in``."""
    kind = pc.fill_null(table.column("kind"), "").combine_chunks()
    key: pa.Array = pc.binary_join_element_wise(
        kind, table.column("identifier").combine_chunks(), "\x1f"
    )
    return key


def segment_name(sha256: str, table: str = "identifier_cases") -> str:
    """The file name of a segment; rejects anything that is not a SHA-256 (from a manifest)."""
    if len(sha256) != 64 or not all(c in "0123456789abcdef" for c in sha256):
        raise DamagedState("not a SHA-256")
    return f"{table}-{sha256}.arrow"


def write_segment(folder: Path, table: pa.Table, name: str = "identifier_cases") -> Segment:
    """Write ``table`` as the segment file of kept table ``name``.

    Streamed to a temporary file, hashed from the page cache and renamed to its name: no
    in-memory copy of the bytes (fresh memory costs on this VM). Not synced (see
    :func:`replace_file`).
    """
    tmp = folder / f".{name}-{uuid.uuid4().hex}.tmp"
    try:
        with pa.OSFile(str(tmp), "wb") as sink, ipc.new_file(sink, table.schema) as out:
            out.write_table(table)
        with pa.memory_map(str(tmp)) as mapped:
            size = mapped.size()
            digest = hashlib.sha256(memoryview(mapped.read_buffer())).hexdigest()
        os.replace(tmp, folder / segment_name(digest, name))
    finally:
        tmp.unlink(missing_ok=True)
    return Segment(digest, table.num_rows, size)


def check_size(path: Path, segment: Segment) -> None:
    """Raise :class:`DamagedState` unless ``path`` exists with the segment's size."""
    try:
        size = path.stat().st_size
    except OSError as err:
        raise DamagedState(f"{path.name} is missing") from err
    if size != segment.size:
        raise DamagedState(f"{path.name} has {size} bytes, not {segment.size}")


def read_segment(path: Path, segment: Segment, schema: pa.Schema) -> pa.Table:
    """A segment's rows (mapped), checked: its hash, row count and schema."""
    table = read_mapped(path, segment.sha256)
    if table.num_rows != segment.rows or not table.schema.equals(schema):
        raise DamagedState(f"{path.name} is not the {segment.rows} rows recorded")
    return table


def replace_file(path: Path, data: bytes | pa.Buffer, *, durable: bool = True) -> None:
    """Write ``data`` to ``path`` atomically (``durable``: synced to disk before the rename).

    Segments are not synced: they are named by their SHA-256 and checked when read, so one
    lost in a crash after the (synced) manifest named it only makes the next run a full relink;
    syncing the 120 MB a full run writes at 50 M records cost seconds on this VM.
    """
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as handle:
        handle.write(memoryview(data))
        if durable:
            handle.flush()
            os.fsync(handle.fileno())
    os.replace(tmp, path)


def write_ipc(path: Path, table: pa.Table) -> str:
    """Write ``table`` as an uncompressed Arrow IPC file (atomically); return its SHA-256."""
    data = _ipc_bytes(table)
    replace_file(path, data)
    return hashlib.sha256(memoryview(data)).hexdigest()


def read_mapped(path: Path, sha256: str) -> pa.Table:
    """Memory-map an Arrow IPC file checked against ``sha256`` (else :class:`DamagedState`).

    The table's buffers are the mapped pages: nothing is decoded or copied.
    """
    try:
        data = pa.memory_map(str(path)).read_buffer()
    except OSError as err:
        raise DamagedState(f"{path.name} is missing") from err
    if hashlib.sha256(memoryview(data)).hexdigest() != sha256:
        raise DamagedState(f"{path.name} fails its check")
    try:
        return ipc.open_file(data).read_all()
    except pa.ArrowException as err:
        raise DamagedState(f"{path.name} is not a table") from err


def _ipc_bytes(table: pa.Table) -> pa.Buffer:
    # Uncompressed Arrow IPC: a reader maps it and touches only the pages it uses (no
    # decompression into fresh memory, which costs more than the larger file on this path).
    sink = pa.BufferOutputStream()
    with ipc.new_file(sink, table.schema) as out:
        out.write_table(table)
    return sink.getvalue()
