"""Identifier normalization: the one call to :func:`tls_core.identifiers.normalize` per chunk.

Every identifier column of a chunk goes through a single ``normalize`` call; the raw value is
kept beside its kind and canonical value. A value that normalization calls ``lossy_number``
(digits lost, e.g. an Excel ``1.21355E+10``) rejects its row; any other unrecognized value
(hashed ids, extensions) is kept with a null kind and canonical value. Record ids are made in
:mod:`penlink_adapters._record_ids`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

import numpy as np
import polars as pl
import pyarrow as pa

from penlink_adapters._record_ids import _EMPTY, _validity

__all__ = [
    "IdentifierMemo",
    "normalize_columns",
]

_NO_BITS: Final = b""
"""An empty validity bitmap: the column has no nulls."""

_REJECTING: Final = frozenset({"lossy_number"})
"""Normalization reasons that reject the row rather than leave the identifier unrecognized."""


_RESULT_SCHEMA: Final = {
    "_value": pl.String,
    "kind": pl.String,
    "canonical": pl.String,
    "reason": pl.String,
}


class IdentifierMemo:
    """Normalization results of the distinct values met so far in one read (one region).

    A return repeats its target and its contacts from chunk to chunk: each distinct value is
    normalized once per read. Bounded: past ``limit`` values the memo starts afresh. Values
    are found by numba kernels over their Arrow buffers (:meth:`rows`) in an open-addressing
    map from a 128-bit key to the row of :attr:`table`: a value of up to 15 bytes (a phone
    number, an IMSI, an IMEI) is its own key; a longer one's key is a hash of its bytes, and
    a hit on it is checked byte for byte against the memo's copy of its values: a hash
    collision is a miss, never a wrong result (:mod:`penlink_adapters._memo_kernel`).
    """

    def __init__(self, limit: int = 1_000_000) -> None:
        self.limit = limit
        self.table = pl.DataFrame(schema=_RESULT_SCHEMA)
        self._slots: Any = np.zeros((1 << 10, 3), dtype=np.uint64)
        self._values: _Buffers = _buffers(self.table["_value"])
        self._lossy: Any = np.zeros(0, dtype=np.bool_)
        self.region: str | None = None
        """The region the memo's values were normalized for (None: not bound yet)."""

    def bind(self, region: str) -> None:
        """Serve ``region``: a memo filled for another region starts afresh.

        A memo may be shared by the scans of several files (values repeated across them are
        normalized once), one scan at a time: it is not locked.
        """
        if region != self.region:
            self.table = pl.DataFrame(schema=_RESULT_SCHEMA)
            self._slots = np.zeros((1 << 10, 3), dtype=np.uint64)
            self._values = _buffers(self.table["_value"])
            self._lossy = np.zeros(0, dtype=np.bool_)
            self.region = region

    def remember(self, new: pl.DataFrame) -> None:
        """Add newly normalized values."""
        from penlink_adapters._memo_kernel import memo_put_kernel

        if not len(new):
            return
        if len(self.table) + len(new) > self.limit:
            self.table = new.head(self.limit)
            self._slots = np.zeros((1 << 10, 3), dtype=np.uint64)
            new, first = self.table, 0
        else:
            first = len(self.table)
            self.table = pl.concat([self.table, new], rechunk=True)
        self._values = _buffers(self.table["_value"])
        self._lossy = _lossy(self.table["reason"]).to_numpy()
        capacity = len(self._slots)
        while 4 * len(self.table) > 3 * capacity:
            capacity *= 2
        if capacity > len(self._slots):  # rebuilt from every value rather than rehashed
            self._slots = np.zeros((capacity, 3), dtype=np.uint64)
            new, first = self.table, 0
        memo_put_kernel(*_hashes(new["_value"]), self._slots, first)

    def rows(self, values: pl.Series) -> Any:
        """The row of :attr:`table` holding each value (``int64`` numpy), -1 when none does."""
        return self._locate(values)[0]

    def _locate(self, values: pl.Series) -> tuple[Any, bool]:
        """:meth:`rows`, and whether ``values`` (two or more) repeat one value (or null).

        A column of short values (all inline in polars' string views: phone numbers) is read
        from its views in place; any other goes through its Arrow offsets and bytes.
        """
        from penlink_adapters._memo_kernel import memo_rows_kernel, memo_view_rows_kernel

        n = len(values)
        if n > 1 and values.null_count() == n:  # an empty column: one lookup
            return np.full(n, self._locate(values.head(1))[0][0], dtype=np.int64), True
        array = values.to_arrow(compat_level=pl.CompatLevel.newest())
        if isinstance(array, pa.StringViewArray) and n:
            bufs, at = array.buffers(), array.offset
            words = np.frombuffer(bufs[1], dtype=np.uint64).reshape(-1, 2)[at : at + n]
            bits = _NO_BITS if bufs[0] is None or not array.null_count else bufs[0]
            rows, status = memo_view_rows_kernel(
                words, np.frombuffer(bits, dtype=np.uint8), at, self._slots
            )
            if status != 2:
                return rows, status == 1
        rows, status = memo_rows_kernel(*_buffers(values), self._slots, *self._values[:2])
        return rows, status == 1

    def find(self, values: pl.Series) -> pl.DataFrame:
        """:func:`_lookup` of ``values`` in :attr:`table`: the same frame, the same rows."""
        rows = self.rows(values)
        hit = pl.Series("_hit", rows >= 0)
        index = pl.Series("_i", rows).set(~hit, None) if not hit.all() else pl.Series(rows)
        found = self.table.select(pl.all().gather(index))
        return found.with_columns(
            values.alias("_value"), pl.when(hit).then(pl.lit(True)).alias("_hit")
        )


_Buffers = tuple[Any, Any, Any]
"""A string column's 64-bit offsets, bytes (``uint8``) and validity (``bool``), numpy."""


def _buffers(values: pl.Series) -> _Buffers:
    """The Arrow buffers of a string column, as :mod:`penlink_adapters._memo_kernel` reads them.

    The bytes are a copy when polars holds string views.
    """
    array = values.to_arrow(compat_level=pl.CompatLevel.oldest())
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    array = array.cast(pa.large_string())
    n = len(array)
    bufs = array.buffers()
    offsets = np.frombuffer(bufs[1], dtype=np.int64)[array.offset : array.offset + n + 1]
    data = np.frombuffer(bufs[2], dtype=np.uint8) if bufs[2] is not None else _EMPTY
    return offsets, data, _validity(array)


def _lossy(reasons: pl.Series) -> pl.Series:
    """Whether each normalization reason rejects its row (never null)."""
    return reasons.is_in(list(_REJECTING)).fill_null(False)


def _hashes(values: pl.Series) -> tuple[Any, Any]:
    """Two 64-bit hashes of each value (null included): one 128-bit key, the memo's."""
    from penlink_adapters._memo_kernel import memo_hash_kernel

    return memo_hash_kernel(*_buffers(values))


def _normalized(values: pl.Series, region: str) -> pl.DataFrame:
    """``_value`` and its normalization (``kind``, ``canonical``, ``reason``), one call."""
    if not len(values):
        return pl.DataFrame(schema=_RESULT_SCHEMA)
    from tls_core.identifiers import normalize

    result = normalize(values.to_arrow(), "auto", default_region=region)
    return pl.DataFrame(
        [
            values.alias("_value"),
            *(
                pl.Series(name, result.column(name).cast(pa.string())).cast(pl.String)
                for name in ("kind", "canonical", "reason")
            ),
        ]
    )


def _lookup(values: pl.Series, table: pl.DataFrame) -> pl.DataFrame:
    """Each value's ``kind``, ``canonical``, ``reason`` in ``table`` (``_hit``: found), in order."""
    known = table.with_columns(pl.lit(True).alias("_hit"))
    if len(values) == 1:  # a scan of the table costs less than hashing it for a join
        value = values[0]
        hit = pl.col("_value").is_null() if value is None else pl.col("_value") == value
        found = known.filter(hit).head(1)
        if len(found):
            return found
    return values.to_frame().join(
        known, on="_value", how="left", nulls_equal=True, maintain_order="left"
    )


def normalize_columns(
    df: pl.DataFrame, parties: Sequence[str], region: str, memo: IdentifierMemo | None = None
) -> pl.DataFrame:
    """Add ``<p>_kind``, ``<p>_canonical`` and ``<p>_lossy`` for each party ``p``.

    Reads ``<p>_input`` (the value after carrier quirks); ``<p>_raw`` is left to the caller.
    The distinct values of all party columns (a return repeats its target and contacts on
    every row) go through one ``normalize`` call, minus those the ``memo`` already knows,
    and are joined back (with a memo: gathered from its rows). A column holding one value
    (the target, a dialed column left empty) is looked up once and repeated rather than
    joined row by row.
    """
    columns = [df[f"{p}_input"].alias("_value") for p in parties]
    if memo is None:
        keys = [c.head(1) if _single(c) else c for c in columns]
        table = _normalized(pl.concat([k.unique() for k in keys]).unique(), region)
        parts = [_lookup(k, table) for k in keys]
        results = [(p["kind"], p["canonical"], _lossy(p["reason"])) for p in parts]
    else:
        keys, results = _memo_results(columns, region, memo)
    out: list[pl.Series | pl.Expr] = []
    for p, key, (kind, canonical, lossy) in zip(parties, keys, results, strict=True):
        named = [
            kind.alias(f"{p}_kind"),
            canonical.alias(f"{p}_canonical"),
            lossy.alias(f"{p}_lossy"),
        ]
        one = len(key) == 1 and len(df) != 1
        out += [pl.lit(s[0], s.dtype).alias(s.name) for s in named] if one else named
    return df.with_columns(out)


_Result = tuple[pl.Series, pl.Series, pl.Series]
"""A column's ``kind``, ``canonical`` and ``lossy``, one row per value."""


def _memo_results(
    columns: list[pl.Series], region: str, memo: IdentifierMemo
) -> tuple[list[pl.Series], list[_Result]]:
    """Each column's key (its first value when it repeats one) and results from the memo.

    Values the memo lacks are normalized in one call, found in those new results (the memo
    may start afresh when it remembers them) and remembered. The results of all columns
    are gathered from the memo's rows at once.
    """
    located = [memo._locate(c) for c in columns]
    keys = [c.head(1) if one else c for c, (_, one) in zip(columns, located, strict=True)]
    rows = [r[:1] if one else r for r, one in located]
    table, lossy = memo.table, memo._lossy
    index = np.concatenate(rows)
    if index.min(initial=0) < 0:
        table, lossy = _fill_misses(keys, rows, [r < 0 for r in rows], region, memo)
        if any((r < 0).any() for r in rows):  # a collision left a value unfound: join it
            parts = [_lookup(key, table) for key in keys]
            return keys, [(p["kind"], p["canonical"], _lossy(p["reason"])) for p in parts]
        index = np.concatenate(rows)
    # A frame indexed by a UInt32 series (polars' own index type) is one plain gather: no
    # query plan, no cast of the index.
    found = table.select("kind", "canonical")[pl.Series(index.astype(np.uint32))]
    kinds, canonicals, flags = found["kind"], found["canonical"], pl.Series(lossy[index])
    results: list[_Result] = []
    start = 0
    for r in rows:
        part = (kinds.slice(start, len(r)), canonicals.slice(start, len(r)))
        results.append((*part, flags.slice(start, len(r))))
        start += len(r)
    return keys, results


def _fill_misses(
    keys: list[pl.Series], rows: list[Any], misses: list[Any], region: str, memo: IdentifierMemo
) -> tuple[pl.DataFrame, Any]:
    """Normalize the values the memo lacks, point their ``rows`` at them and remember them.

    Returns the table (and its lossy flags) the rows now point into: the memo's, or, when
    the memo starts afresh, its old rows followed by the new ones.
    """
    table, lossy = memo.table, memo._lossy
    missing = [k.filter(pl.Series(m)) for k, m in zip(keys, misses, strict=True)]
    new = _normalized(pl.concat(missing).unique(), region)
    fresh = IdentifierMemo(limit=len(new))
    fresh.remember(new)
    for r, m, values in zip(rows, misses, missing, strict=True):
        found = fresh.rows(values)  # -1 only for a 128-bit collision among new values
        r[m] = np.where(found < 0, -1, found + len(table))
    if len(table) + len(new) <= memo.limit:  # appended: the memo's rows are these rows
        memo.remember(new)
        return memo.table, memo._lossy
    table = pl.concat([table, new], rechunk=True)
    lossy = np.concatenate([lossy, fresh._lossy])
    memo.remember(new)  # the memo starts afresh
    return table, lossy


def _single(column: pl.Series) -> bool:
    """Whether every row of ``column`` (more than one) holds one same value, or null."""
    n = len(column)
    if n < 2:
        return False
    nulls = column.null_count()
    if nulls == n:
        return True
    if nulls or column[0] != column[n - 1] or column[0] != column[n // 2]:
        return False  # most columns that vary show it at once: no pass over them
    return bool(column.min() == column.max())
