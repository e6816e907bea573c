"""The ``published`` step's dedup: drop records already stored or repeated in the batch.

The staged files are already in the stored schema, so a staged file from which nothing is
dropped is published as it is (renamed into its table under its content name): each Parquet
file of a batch of new records is written once. Which rows to drop is decided on the
``record_id`` column only:

1. the record-id index (:mod:`tls_core.store._record_index`) names the stored files that may
   hold one of the batch's ids (usually none), so the exact check reads those files, not the
   table;
2. when no stored file may hold one and the batch's id prefixes are all distinct, nothing is
   dropped and no SQL runs (the keys come from the commit, computed while it staged the
   records, so the staged files are not read back);
3. otherwise DuckDB (locked down, 1 GB memory limit, spilling to ``_tls/tmp``) lists the
   positions to drop: every repeat after the first occurrence of an id in the batch, and the
   first occurrences of ids already stored, which become ``record_refs`` rows.

Files with drops are rewritten without those rows; the order of the kept rows is the input
order.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Final

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from tls_core.store._files import DataFile, publish, publish_stream, write_staged
from tls_core.store._layout import STORED_SCHEMAS, Layout, TableName
from tls_core.store._record_index import IndexState, Keys, RecordIdIndex, record_id_keys
from tls_core.store._snapshot import Snapshot

__all__ = ["dedup_and_publish"]

_READ_ROWS: Final = 65_536
_ROW_BITS: Final = 32
"""A position is ``staged file ordinal << 32 | row number`` (a staged file has <= 2**32 rows)."""

_IDS: Final = pa.schema([pa.field("record_id", pa.string())])
_MANY_REPEATS: Final = 100_000
"""Beyond this many repeated keys in a batch (or twice as many rows holding them), its repeats
are found by DuckDB rather than in Python."""

_STAGED_SQL = f"""
SELECT record_id, (o.ordinal << {_ROW_BITS}) + file_row_number AS pos
FROM staged JOIN ordinals AS o USING (filename)
"""
"""Every staged row's id and position: one scan of the staged files, one after the other.

(A view per staged file joined by ``UNION ALL`` had DuckDB open every file at once: a batch of
40 staged files, a 40 M-row return, ran out of its 1 GB of memory instead of spilling.)"""

_DROPS_SQL = f"""
WITH s AS ({_STAGED_SQL}),
firsts AS (SELECT record_id, min(pos) AS pos FROM s GROUP BY record_id)
SELECT pos FROM s ANTI JOIN firsts USING (pos)
UNION ALL
SELECT pos FROM firsts SEMI JOIN existing USING (record_id)
"""

_REFS_SQL = f"""
SELECT DISTINCT s.record_id, $1 AS batch_id
FROM ({_STAGED_SQL}) AS s
SEMI JOIN existing AS e ON s.record_id = e.record_id
ORDER BY s.record_id
"""


def dedup_and_publish(
    layout: Layout,
    snap: Snapshot,
    index: RecordIdIndex,
    table: TableName,
    staged: list[tuple[Path, int]],
    batch_id: str,
    keys: list[Keys] | None = None,
) -> tuple[list[DataFile], list[DataFile], Callable[[], None]]:
    """Publish the batch's records without duplicates.

    Args:
        layout: The repository.
        snap: The snapshot the commit started from (under the lock).
        index: The repository's record-id index.
        table: The record table of the batch.
        staged: ``(path, rows)`` of each staged file, in order.
        batch_id: The new batch's id (the owner of the published files).
        keys: The ``record_id`` keys of each staged file's rows, when the caller computed them
            while staging; otherwise they are read back from the staged files.

    Returns:
        ``(record files, ref files, extend)``: call ``extend()`` once the batch is committed to
        add its files to the record-id index.
    """
    if not staged:
        return [], [], _nothing
    if keys is None or [len(k) for k in keys] != [rows for _, rows in staged]:
        keys = [_read_back(path) for path, _ in staged]
    candidates, state = index.candidates(snap, table, np.concatenate(keys))
    drops: npt.NDArray[np.int64] | None = None  # None: DuckDB decides
    refs: list[DataFile] = []
    if not candidates:  # none of the ids is stored: only repeats inside the batch
        distinct = state.distinct_prefixes == sum(len(k) for k in keys)
        drops = np.empty(0, np.int64) if distinct else _repeats(staged, keys)
    if drops is None:
        drops, refs = _drops_and_refs(layout, snap.checked_paths(candidates), staged, batch_id)
    kept: list[DataFile] = []
    added: list[tuple[str, npt.NDArray[np.uint64]]] = []
    for ordinal, (path, rows) in enumerate(staged):
        dropped = _rows_of(drops, ordinal)
        published = _publish_kept(layout, table, path, rows, dropped, batch_id)
        if published is not None:
            kept.append(published)
            own = np.delete(keys[ordinal], dropped) if len(dropped) else keys[ordinal]
            added.append((published.name, own))
    return kept, refs, functools.partial(_extend, index, state, added)


def _repeats(staged: list[tuple[Path, int]], keys: list[Keys]) -> npt.NDArray[np.int64] | None:
    """Positions of the rows whose id came earlier in the batch, found from the keys.

    Only rows whose 64-bit key repeats can repeat an id: their ids are read from the staged
    files and compared exactly (equal keys of different ids drop nothing). Sorting the keys
    costs about 8 ms per million rows where DuckDB's query over every id took 50 ms, and a
    batch of 40 M rows needed minutes of it. None when too many rows share keys (a batch
    mostly of repeats): the DuckDB query decides then.
    """
    every = np.concatenate(keys)
    ordered = np.sort(every)
    same = ordered[1:][ordered[1:] == ordered[:-1]]
    if not len(same):
        return np.empty(0, np.int64)
    values = np.unique(same)
    if len(values) > _MANY_REPEATS:
        return None
    asked = np.flatnonzero(np.isin(every, values))  # ascending: input order
    if len(asked) > 2 * _MANY_REPEATS:
        return None
    starts = np.cumsum([0] + [rows for _, rows in staged])
    files = np.searchsorted(starts, asked, side="right") - 1
    ids: list[str] = []
    for ordinal in np.unique(files).tolist():
        rows = asked[files == ordinal] - starts[ordinal]
        ids += _ids_at(staged[ordinal][0], rows)
    first: set[str] = set()
    drops = []
    for at, record_id in zip(asked.tolist(), ids, strict=True):
        if record_id in first:
            drops.append(at)
        first.add(record_id)
    dropped = np.asarray(drops, dtype=np.int64)
    ordinals = np.searchsorted(starts, dropped, side="right") - 1
    positions: npt.NDArray[np.int64] = (ordinals << _ROW_BITS) + (dropped - starts[ordinals])
    return positions


def _ids_at(path: Path, rows: npt.NDArray[np.int64]) -> list[str]:
    """The ``record_id`` of some rows (ascending) of a staged file: only their row groups read."""
    import pyarrow.parquet as pq

    found: list[str] = []
    with pq.ParquetFile(path) as parquet:
        meta = parquet.metadata
        sizes = [meta.row_group(g).num_rows for g in range(meta.num_row_groups)]
        starts = np.cumsum([0, *sizes])
        groups = np.searchsorted(starts, rows, side="right") - 1
        for group in np.unique(groups).tolist():
            wanted = rows[groups == group] - starts[group]
            ids = parquet.read_row_group(group, columns=["record_id"]).column(0)
            found += ids.take(pa.array(wanted)).to_pylist()
    return found


def _read_back(path: Path) -> Keys:
    import pyarrow.parquet as pq

    return record_id_keys(pq.read_table(path, columns=["record_id"]).column(0))


def _extend(
    index: RecordIdIndex, state: IndexState, added: list[tuple[str, npt.NDArray[np.uint64]]]
) -> None:
    index.extend(state, added)


def _nothing() -> None:
    return None


def _drops_and_refs(
    layout: Layout, existing: list[Path], staged: list[tuple[Path, int]], batch_id: str
) -> tuple[npt.NDArray[np.int64], list[DataFile]]:
    from tls_core.store._duck import connect_locked

    paths = [p for p, _ in staged]
    ordinals = pa.table(
        {"filename": [str(p) for p in paths], "ordinal": pa.array(range(len(paths)), pa.int64())}
    )
    views: dict[str, list[Path] | pa.Table] = {
        "staged": paths,
        "existing": existing,
        "ordinals": ordinals,
    }
    schemas = {"staged": _IDS, "existing": _IDS, "ordinals": ordinals.schema}
    con = connect_locked(
        views,
        empty_schemas=schemas,
        temp_dir=layout.internal / "tmp",
        memory_limit="1GB",
        numbered=("staged",),
    )
    try:
        drops = con.sql(_DROPS_SQL).fetchnumpy()["pos"]
        reader = con.sql(_REFS_SQL, params=[batch_id])
        refs = publish_stream(layout, "record_refs", reader.to_arrow_reader(_READ_ROWS), batch_id)
    finally:
        con.close()
    return np.sort(np.asarray(drops, dtype=np.int64)), refs


def _rows_of(drops: npt.NDArray[np.int64], ordinal: int) -> npt.NDArray[np.int64]:
    lo = np.searchsorted(drops, ordinal << _ROW_BITS)
    hi = np.searchsorted(drops, (ordinal + 1) << _ROW_BITS)
    return drops[lo:hi] - (ordinal << _ROW_BITS)


def _publish_kept(
    layout: Layout,
    table: TableName,
    path: Path,
    rows: int,
    dropped: npt.NDArray[np.int64],
    batch_id: str,
) -> DataFile | None:
    """Publish a staged file as is, or rewritten without the dropped rows (None: no row left)."""
    if not len(dropped):
        return publish(layout, table, path, batch_id, rows)
    keep = np.ones(rows, dtype=bool)
    keep[dropped] = False
    rewritten = write_staged(layout, _filtered(path, keep), STORED_SCHEMAS[table])
    path.unlink()
    if not rewritten:
        return None
    ((new_path, kept),) = rewritten
    return publish(layout, table, new_path, batch_id, kept)


def _filtered(path: Path, keep: npt.NDArray[np.bool_]) -> Iterator[pa.RecordBatch]:
    import pyarrow.parquet as pq

    start = 0
    for batch in pq.ParquetFile(path).iter_batches(_READ_ROWS):
        mask: Any = pa.array(keep[start : start + batch.num_rows])
        start += batch.num_rows
        yield batch.filter(mask)
