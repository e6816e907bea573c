"""The kept ``identifier_cases`` rows, in files an incremental run reads only in part.

The rows are un-merged (each run appends its delta; every reader sums them) and stored in
*chains*, each an ordered list of Arrow IPC files ``identifier_cases-<sha256>.arrow``:

- chain ``n``: rows of identifiers that were not hubs when the rows were written;
- chains ``h00`` .. ``h31``: rows of identifiers that were hubs when written, by a hash of
  their case id (:func:`case_chain`).

An incremental run with the last run's settings needs only the kept rows of the identifiers
it changed that lie in a case its new records touch, or that are not hubs (see
:mod:`tls_core.link._changed`). Hubs stay hubs while records are only added, so a row in an
``h`` chain is needed only if its case was touched: such a run reads chain ``n`` and the ``h``
chains of the touched cases, and of those only the rows of its changed identifiers (a
superset of what the SQL steps then select). Hub rows are most of the state.

The files are uncompressed and memory-mapped: a run touches the pages it reads, never
decodes or copies the rest. Each file's size is checked when the state is loaded and its
SHA-256 (its name) when the file is read; a file failing its check raises
:class:`DamagedState` (the run then relinks in full).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.ipc as ipc

__all__ = [
    "CASES_SCHEMA",
    "CASE_CHAINS",
    "MAX_SEGMENTS",
    "DamagedState",
    "KeptCases",
    "Segment",
    "case_chain",
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

CASE_CHAINS: Final = 32
"""How many ``h`` chains hub rows are spread over (by case)."""

MAX_SEGMENTS: Final = 16
"""A chain of more files than this is rewritten as one."""

NON_HUB: Final = "n"


class DamagedState(ValueError):
    """A kept file is missing or fails its check: the state must be rebuilt."""


@dataclass(frozen=True)
class Segment:
    """One file of a chain: ``identifier_cases-<sha256>.arrow``."""

    sha256: str
    """SHA-256 of the file's bytes (its name)."""
    rows: int
    """Its row count."""
    size: int = 0
    """Its size in bytes (checked when the state is loaded)."""


@dataclass(frozen=True)
class KeptCases:
    """The chains of kept ``identifier_cases`` files under ``folder``."""

    folder: Path
    """The state's directory."""
    chains: Mapping[str, tuple[Segment, ...]]
    """Chain name -> its files, oldest first."""

    @property
    def rows(self) -> int:
        """How many rows the chains hold."""
        return sum(s.rows for chain in self.chains.values() for s in chain)

    def check_sizes(self) -> None:
        """Raise :class:`DamagedState` unless every file exists with its recorded size."""
        for chain in self.chains.values():
            for segment in chain:
                check_size(self.folder / segment_name(segment.sha256), segment)

    def read_all(self) -> pa.Table:
        """Every kept row (checked)."""
        return self.read(chains=self.chains)

    def read_changed(self, identifiers: pa.Array, cases: pa.Array) -> pa.Table:
        """The kept rows of ``identifiers``: in chain ``n``, and in ``cases`` from ``h`` chains.

        A superset of the rows an incremental run needs (module docstring).
        """
        touched = pc.unique(cases)
        hub_chains = {case_chain(str(c)) for c in touched.to_pylist()}
        return pa.concat_tables(
            [
                self.read(chains=[NON_HUB], identifiers=identifiers),
                self.read(chains=hub_chains, identifiers=identifiers, cases=touched),
            ]
        )

    def read(
        self,
        *,
        chains: Iterable[str],
        identifiers: pa.Array | None = None,
        cases: pa.Array | None = None,
    ) -> pa.Table:
        """Rows of ``chains`` (of ``identifiers`` and ``cases`` only, when given), checked."""
        parts = [CASES_SCHEMA.empty_table()]
        for name in sorted(chains):
            for segment in self.chains.get(name, ()):
                path = self.folder / segment_name(segment.sha256)
                table = read_segment(path, segment, CASES_SCHEMA)
                if cases is not None:
                    table = table.filter(pc.is_in(table.column("case_id"), value_set=cases))
                if identifiers is not None:
                    keep = pc.is_in(table.column("identifier"), value_set=identifiers)
                    table = table.filter(keep)
                parts.append(table)
        return pa.concat_tables(parts)

    def append(self, rows: pa.Table, hubs: pa.Table, *, fresh: bool = False) -> KeptCases:
        """Write ``rows`` into the chains (``fresh``: instead of the kept files).

        Rows of the identifiers in ``hubs`` go to the ``h`` chains of their cases, the others
        to chain ``n``. A chain grown past :data:`MAX_SEGMENTS` files is rewritten as one.
        """
        chains = {} if fresh else dict(self.chains)
        for name, part in _split(rows.cast(CASES_SCHEMA), hubs).items():
            if part.num_rows == 0:
                continue
            kept = list(chains.get(name, ()))
            if len(kept) >= MAX_SEGMENTS:
                part = pa.concat_tables([self.read(chains=[name]), part])
                kept = []
            chains[name] = (*kept, write_segment(self.folder, part))
        return KeptCases(self.folder, chains)

    def names(self) -> set[str]:
        """File names of every segment."""
        return {segment_name(s.sha256) for chain in self.chains.values() for s in chain}


def case_chain(case_id: str) -> str:
    """The ``h`` chain of a case's hub rows (stable across processes and versions)."""
    digest = hashlib.sha256(case_id.encode()).digest()
    return f"h{int.from_bytes(digest[:8], 'big') % CASE_CHAINS:02d}"


def segment_name(sha256: str, table: str = "identifier_cases") -> str:
    """The file name of a segment; rejects anything that is not a SHA-256 (from a manifest)."""
    if len(sha256) != 64 or not all(c in "0123456789abcdef" for c in sha256):
        raise DamagedState("not a SHA-256")
    return f"{table}-{sha256}.arrow"


def write_segment(folder: Path, table: pa.Table, name: str = "identifier_cases") -> Segment:
    """Write ``table`` as the segment file of kept table ``name``."""
    data = _ipc_bytes(table)
    digest = hashlib.sha256(memoryview(data)).hexdigest()
    replace_file(folder / segment_name(digest, name), data)
    return Segment(digest, table.num_rows, data.size)


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


def replace_file(path: Path, data: bytes | pa.Buffer) -> None:
    """Write ``data`` to ``path`` atomically (durable before the rename)."""
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as handle:
        handle.write(memoryview(data))
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


def _split(rows: pa.Table, hubs: pa.Table) -> dict[str, pa.Table]:
    """``rows`` by chain: hub rows by case, the others in chain ``n``."""
    hub_keys = _keys(hubs.column("kind"), hubs.column("identifier"))
    is_hub = pc.is_in(_keys(rows.column("kind"), rows.column("identifier")), value_set=hub_keys)
    out = {NON_HUB: rows.filter(pc.invert(is_hub))}
    hub_rows = rows.filter(is_hub)
    cases = hub_rows.column("case_id")
    distinct = pc.unique(cases).to_pylist()
    chain_of = pa.array([case_chain(str(c)) for c in distinct], pa.string())
    chains = pc.take(chain_of, pc.index_in(cases, value_set=pa.array(distinct, pa.string())))
    for name in pc.unique(chains).to_pylist():
        out[str(name)] = hub_rows.filter(pc.equal(chains, name))
    return out


def _keys(kind: pa.ChunkedArray, identifier: pa.ChunkedArray) -> pa.ChunkedArray:
    # A null kind keys as "" (no kind is empty): the composite key of (kind, identifier).
    key: pa.ChunkedArray = pc.binary_join_element_wise(pc.fill_null(kind, ""), identifier, "\x1f")
    return key
