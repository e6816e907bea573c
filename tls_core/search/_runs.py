"""Sorted runs of the occurrence index: built once per data file, merged with bounded fan-in.

A run covers the record data files of some batches (its ``sources``: a batch and its
content-addressed file names). It holds two sorted Parquet files (see
:mod:`tls_core.search._parts`):

- ``occurrences``: one row per row of the linker's ``occurrences`` step run on the run's
  batches alone, with the batch in place of the case (``source``: index into the run's
  sources), sorted by :data:`ORDER` (the match key first);
- ``summary``: one row per (match key, identifier, kind, variant, source) with the occurrence
  count, roles, first/last seen and ``start``, the row of the group's first occurrence (the
  group's rows are contiguous), so a search reads the rows of one batch without the others.

No case is stored: a batch's cases (``case_links``, which change without any data file
changing: link, unlink) are applied when a search reads the run. A level-0 run is built from
the files of new batches (up to ``BUILD_ROWS`` records) by DuckDB with a memory limit and a
private spill directory; runs are merged by key ranges (a vectorized k-way merge: each input
is read once, row group by row group, and only one key range of every input is in memory at a
time), dropping the sources no longer in the repository (a purge rewrote or removed their
files).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, Final

import pyarrow as pa
import pyarrow.compute as pc

from tls_core.errors import LinkError
from tls_core.search._parts import SortedFile, describe
from tls_core.store import Snapshot
from tls_core.store._files import DataFile, fsync
from tls_core.store._layout import STORED_SCHEMAS, TABLES

__all__ = [
    "OCCURRENCES_SCHEMA",
    "ORDER",
    "ROLE_BITS",
    "SUMMARY_SCHEMA",
    "build_run",
    "merge_runs",
    "step_sql",
]

ROW_GROUP_ROWS: Final = 4096
"""Rows per row group: a point lookup reads about this many rows."""
BUILD_MEMORY: Final = "512MB"
"""DuckDB memory limit of a level-0 build; larger sorts spill to disk."""
BUILD_ROWS: Final = 2_000_000
"""Records indexed by one level-0 build at most (a single larger file excepted)."""
MERGE_ROWS: Final = 262_144
"""Rows of all inputs held at once by a merge (one key range; a single key may exceed it)."""
READ_ROWS: Final = 65_536
"""Rows per Arrow batch fetched from DuckDB by a level-0 build."""
ROLE_BITS: Final = {"target": 1, "contact": 2, "device": 4, "subscriber": 8, "misc": 16}
"""Bit of each role (``tls_core.link.ROLES``) in the summary's ``roles``."""

_UTC = pa.timestamp("us", tz="UTC")
OCCURRENCES_SCHEMA: Final = pa.schema(
    [
        pa.field("match_key", pa.string(), nullable=False),
        pa.field("identifier", pa.string(), nullable=False),
        pa.field("kind", pa.string(), nullable=False),
        pa.field("variant", pa.string()),
        pa.field("source", pa.int32(), nullable=False),
        pa.field("record_id", pa.string(), nullable=False),
        pa.field("role", pa.string(), nullable=False),
        pa.field("record_type", pa.string(), nullable=False),
        pa.field("seen_utc", _UTC),
        pa.field("target", pa.string()),
    ]
)
"""Columns of a run's occurrences: the linker's ``occurrences`` with ``source`` for the case."""

GROUP: Final = ("match_key", "identifier", "kind", "variant", "source")
"""Columns of one summary group."""
ORDER: Final = (*GROUP, "record_id", "role")
"""Sort order of the occurrences (unique: one row per identifier, role, batch and record)."""

SUMMARY_SCHEMA: Final = pa.schema(
    [
        *(OCCURRENCES_SCHEMA.field(c) for c in GROUP),
        pa.field("occurrences", pa.int64(), nullable=False),
        pa.field("roles", pa.int32(), nullable=False),
        pa.field("first_seen", _UTC),
        pa.field("last_seen", _UTC),
        pa.field("start", pa.int64(), nullable=False),
    ]
)
"""Columns of a run's summary; ``roles`` is a bit set over :data:`ROLE_BITS`, ``start`` the row
of the group's first occurrence in the run's occurrences file."""

_KEYED = """
SELECT
    CASE
        WHEN o.kind = 'phone' THEN 'phone:' || CASE
            WHEN list_contains($cc1, substr(o.identifier, 2, 1)) THEN substr(o.identifier, 3)
            WHEN list_contains($cc2, substr(o.identifier, 2, 2)) THEN substr(o.identifier, 4)
            WHEN list_contains($cc3, substr(o.identifier, 2, 3)) THEN substr(o.identifier, 5)
            ELSE substr(o.identifier, 2) END
        WHEN o.kind = 'imei' THEN 'imei:' || substr(o.identifier, 1, 14)
        WHEN o.kind = 'esn' THEN 'pesn:' || o.identifier
        WHEN o.kind = 'meid' THEN 'pesn:80' || upper(right(sha1(unhex(o.identifier)), 6))
        ELSE o.kind || ':' || o.identifier
    END AS match_key,
    o.identifier, o.kind, o.variant, s.source, o.record_id, o.role, o.record_type,
    o.seen_utc, o.target
FROM occurrences o
JOIN run_sources s ON s.batch_id = o.case_id
ORDER BY match_key, o.identifier, o.kind, o.variant, s.source, o.record_id, o.role
"""

# Each batch of the file stands for its own case: the step's case is then the batch.
_BATCH_LINKS = " UNION ".join(
    f"SELECT DISTINCT batch_id, batch_id AS case_id FROM {t}"
    for t in ("call_records", "subscriber_records", "misc_records")
)

_RECORD_TABLES: Final = ("call_records", "subscriber_records", "misc_records")


def step_sql() -> str:
    """The SQL a run is built with (part of the index format: a change means a rebuild)."""
    from tls_core.link import occurrences_sql

    return occurrences_sql() + _KEYED + _BATCH_LINKS


def build_run(
    snap: Snapshot, data_files: Sequence[DataFile], directory: Path, spill: Path
) -> dict[str, Any]:
    """Build the level-0 run of some record data files (each checked against its SHA-256).

    A source is the given files of one batch.

    Raises:
        IntegrityError: the data file fails its check.
        LinkError: an SQL step failed (names the step and its SQL).
    """
    import duckdb

    from tls_core.link import create_occurrences
    from tls_core.store._duck import connect_locked

    views: dict[str, Sequence[Path] | pa.Table] = {t: [] for t in TABLES if t != "registry"}
    for table in _RECORD_TABLES:
        views[table] = snap.checked_paths([f for f in data_files if f.table == table])
    views["registry"] = STORED_SCHEMAS["registry"].empty_table()
    con = connect_locked(
        views,
        empty_schemas={str(k): v for k, v in STORED_SCHEMAS.items()},
        memory_limit=BUILD_MEMORY,
        temp_dir=spill,
    )
    step, sql = "case_links", _BATCH_LINKS
    try:
        con.execute(f"CREATE TEMP VIEW case_links AS {_BATCH_LINKS}")
        batches = sorted(r[0] for r in con.execute("SELECT batch_id FROM case_links").fetchall())
        sources = pa.table(
            {"batch_id": batches, "source": pa.array(range(len(batches)), pa.int32())}
        )
        con.register("run_sources", sources)
        step, sql = "occurrences", "(tls_core.link.create_occurrences)"
        create_occurrences(con)
        step, sql = "search_run", _KEYED
        reader = con.sql(_KEYED, params=_country_params()).to_arrow_reader(READ_ROWS)
        entry = write_run(directory, _batches(reader), level=0)
    except duckdb.Error as err:
        raise LinkError(f"search index step {step!r} failed: {err}", step=step, sql=sql) from err
    finally:
        con.close()
    files: dict[str, list[str]] = {}
    for f in data_files:
        files.setdefault(f.owner_id, []).append(f.name)
    entry["sources"] = [{"batch": b, "files": sorted(files.get(b, []))} for b in batches]
    return entry


def _country_params() -> dict[str, list[str]]:
    from tls_core.search._keys import country_codes

    codes = country_codes()
    return {f"cc{w}": sorted(c for c in codes if len(c) == w) for w in (1, 2, 3)}


def _batches(reader: Any) -> Iterator[pa.Table]:
    """Chunks of sorted occurrences ending on a match key boundary (a group is never split)."""
    pending: list[pa.Table] = []
    count = 0
    for batch in reader:
        pending.append(_conform(pa.Table.from_batches([batch])))
        count += batch.num_rows
        if count >= MERGE_ROWS:
            head, tail = _split_last_key(pa.concat_tables(pending).combine_chunks())
            yield head
            pending, count = [tail], tail.num_rows
    if pending:
        yield pa.concat_tables(pending).combine_chunks()


def _conform(table: pa.Table) -> pa.Table:
    columns = [table.column(f.name).cast(f.type) for f in OCCURRENCES_SCHEMA]
    return pa.Table.from_arrays(columns, schema=OCCURRENCES_SCHEMA)


def _split_last_key(table: pa.Table) -> tuple[pa.Table, pa.Table]:
    """Split off the rows of the last match key (they may continue in the next chunk)."""
    keys = table.column("match_key")
    last = keys[-1]
    first = pc.index(keys, last).as_py()
    return table.slice(0, first), table.slice(first)


def write_run(directory: Path, chunks: Iterator[pa.Table], *, level: int) -> dict[str, Any]:
    """Write sorted occurrence chunks and their summary as a run (files named by SHA-256)."""
    import pyarrow.parquet as pq

    tmp = {n: directory / f"tmp-{uuid.uuid4().hex}.parquet" for n in ("occurrences", "summary")}
    try:
        rows = {"occurrences": 0, "summary": 0}
        with (
            pq.ParquetWriter(tmp["occurrences"], OCCURRENCES_SCHEMA, compression="zstd") as occ,
            pq.ParquetWriter(tmp["summary"], SUMMARY_SCHEMA, compression="zstd") as summ,
        ):
            for chunk in chunks:
                if chunk.num_rows == 0:
                    continue
                summary = summarize(chunk, rows["occurrences"])
                occ.write_table(chunk, row_group_size=ROW_GROUP_ROWS)
                summ.write_table(summary, row_group_size=ROW_GROUP_ROWS)
                rows["occurrences"] += chunk.num_rows
                rows["summary"] += summary.num_rows
        files = {}
        for name, path in tmp.items():
            fsync(path)
            files[name] = describe(path, rows[name])
            os.replace(path, directory / files[name]["file"])
    finally:
        for path in tmp.values():
            path.unlink(missing_ok=True)
    return {"level": level, "files": files}


def summarize(chunk: pa.Table, offset: int) -> pa.Table:
    """Summary rows of sorted occurrences whose first row is row ``offset`` of its file.

    The chunk is sorted by :data:`ORDER`, so a group is a run of equal :data:`GROUP` values:
    its rows are found by comparing each row with the previous one (no hashing).
    """
    import numpy as np

    n = chunk.num_rows
    if n == 0:
        return SUMMARY_SCHEMA.empty_table()
    chunk = chunk.combine_chunks()
    edge = np.zeros(n, dtype=bool)
    edge[0] = True
    for name in GROUP:
        col = chunk.column(name).combine_chunks()
        for values in (col.is_null(), col.fill_null("") if col.null_count else col):
            diff = pc.not_equal(values.slice(1), values.slice(0, n - 1))
            edge[1:] |= diff.to_numpy(zero_copy_only=False)
    starts = np.flatnonzero(edge)
    counts = np.diff(np.append(starts, n))
    roles = pc.index_in(chunk.column("role"), value_set=pa.array(list(ROLE_BITS)))
    bits = np.left_shift(1, roles.to_numpy(zero_copy_only=False).astype(np.int64))
    seen = chunk.column("seen_utc").cast(pa.int64())
    valid = seen.is_valid().to_numpy(zero_copy_only=False)
    micros = seen.fill_null(0).to_numpy(zero_copy_only=False)
    low = np.minimum.reduceat(np.where(valid, micros, np.iinfo(np.int64).max), starts)
    high = np.maximum.reduceat(np.where(valid, micros, np.iinfo(np.int64).min), starts)
    any_seen = np.logical_or.reduceat(valid, starts)
    heads = chunk.select(list(GROUP)).take(pa.array(starts))
    columns = [heads.column(c) for c in GROUP]
    columns += [
        pa.array(counts, pa.int64()),
        pa.array(np.bitwise_or.reduceat(bits, starts), pa.int32()),
        pa.array(low, pa.int64(), mask=~any_seen).cast(SUMMARY_SCHEMA.field("first_seen").type),
        pa.array(high, pa.int64(), mask=~any_seen).cast(SUMMARY_SCHEMA.field("last_seen").type),
        pa.array(starts + offset, pa.int64()),
    ]
    return pa.Table.from_arrays(columns, schema=SUMMARY_SCHEMA)


def merge_runs(
    directory: Path,
    inputs: Sequence[tuple[Mapping[str, Any], SortedFile]],
    live: Sequence[frozenset[int]],
    *,
    level: int,
) -> dict[str, Any]:
    """Merge runs into one, keeping the sources in ``live`` (one set per input) only.

    ``inputs`` are (run entry, its checked occurrences file). Sources are renumbered in input
    order. Reads every row group of every input once, each checked against its SHA-256.

    Raises:
        IntegrityError: a row group of an input fails its check.
    """
    sources: list[dict[str, Any]] = []
    remaps: list[pa.Array] = []
    for (entry, _), keep in zip(inputs, live, strict=True):
        mapping = []
        for i, source in enumerate(entry["sources"]):
            if i in keep:
                mapping.append(len(sources))
                sources.append(dict(source))
            else:
                mapping.append(-1)
        remaps.append(pa.array(mapping, pa.int32()))
    files = [f for _, f in inputs]
    chunks = _merged(files, lambda i, t: _renumber(t, remaps[i]))
    entry = write_run(directory, chunks, level=level)
    entry["sources"] = sources
    return entry


def _renumber(table: pa.Table, remap: pa.Array) -> pa.Table:
    new = pc.take(remap, table.column("source"))
    i = table.schema.get_field_index("source")
    table = table.set_column(i, OCCURRENCES_SCHEMA.field("source"), new)
    return table.filter(pc.greater_equal(new, 0))


def _merged(
    files: Sequence[SortedFile], prepare: Callable[[int, pa.Table], pa.Table]
) -> Iterator[pa.Table]:
    """Sorted chunks of the union of sorted files, one key range at a time."""
    cursor = [0] * len(files)
    carry: list[pa.Table | None] = [None] * len(files)
    bounds = sorted({m for f in files for m in f.maxs})
    step = max(1, MERGE_ROWS // (ROW_GROUP_ROWS * max(1, len(files))))
    for hi in [*bounds[step - 1 :: step], *bounds[-1:]]:
        parts = []
        for i, f in enumerate(files):
            taken = _take_upto(f, i, hi, cursor, carry)
            if taken is not None:
                parts.append(prepare(i, taken))
        if parts:
            merged = pa.concat_tables(parts).sort_by([(c, "ascending") for c in ORDER])
            if merged.num_rows:
                yield merged


def _take_upto(
    f: SortedFile, i: int, hi: str, cursor: list[int], carry: list[pa.Table | None]
) -> pa.Table | None:
    """Rows of file ``i`` with a match key <= ``hi`` not taken yet; the rest stays carried."""
    groups = []
    while cursor[i] < len(f.row_groups) and f.mins[cursor[i]] <= hi:
        groups.append(cursor[i])
        cursor[i] += 1
    tables = [t for t in (carry[i],) if t is not None]
    if groups:
        tables.append(f.read(groups, OCCURRENCES_SCHEMA.names))
    if not tables:
        return None
    table = pa.concat_tables(tables)
    keys = table.column("match_key")
    upto = pc.less_equal(keys, hi)
    carry[i] = table.filter(pc.invert(upto))
    return table.filter(upto)
