"""Record ids: the content hash of a record's natural key (stored; used to deduplicate).

A row's key text is its natural-key values joined by U+001F (:func:`content_key`); its id is
the MurmurHash3 x64 128 of that text as 32 hex digits (:func:`content_id`, the pure-Python
reference). :func:`table_record_ids` makes the ids of a whole table in one numba pass over its
Arrow buffers (:mod:`penlink_adapters._record_id_kernel`).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from datetime import datetime
from typing import Any, Final

import numpy as np
import polars as pl
import pyarrow as pa

__all__ = [
    "content_id",
    "content_key",
    "hex_ids",
    "murmur3_128",
    "record_id_array",
    "record_ids",
    "table_record_ids",
]


def murmur3_128(data: bytes) -> bytes:
    """MurmurHash3 x64 128 (seed 0) of ``data``: 16 bytes, ``h1`` then ``h2``, little-endian.

    The pure-Python reference of :func:`penlink_adapters._kernels.murmur3_hex_kernel` (Austin
    Appleby's public-domain ``MurmurHash3_x64_128``; equal to ``mmh3.hash_bytes(data)``).

    Examples:
        >>> murmur3_128(b"").hex()
        '00000000000000000000000000000000'
        >>> murmur3_128(b"hello").hex()
        '029bbd41b3a7d8cb191dae486a901e5b'
    """
    mask = (1 << 64) - 1
    c1, c2 = 0x87C37B91114253D5, 0x4CF5AD432745937F

    def rotl(x: int, r: int) -> int:
        return ((x << r) | (x >> (64 - r))) & mask

    def fmix(k: int) -> int:
        k ^= k >> 33
        k = (k * 0xFF51AFD7ED558CCD) & mask
        k ^= k >> 33
        k = (k * 0xC4CEB9FE1A85EC53) & mask
        return k ^ (k >> 33)

    h1 = h2 = 0
    blocks = len(data) // 16
    for b in range(blocks):
        k1 = int.from_bytes(data[16 * b : 16 * b + 8], "little")
        k2 = int.from_bytes(data[16 * b + 8 : 16 * b + 16], "little")
        h1 ^= (rotl((k1 * c1) & mask, 31) * c2) & mask
        h1 = (rotl(h1, 27) + h2) & mask
        h1 = (h1 * 5 + 0x52DCE729) & mask
        h2 ^= (rotl((k2 * c2) & mask, 33) * c1) & mask
        h2 = (rotl(h2, 31) + h1) & mask
        h2 = (h2 * 5 + 0x38495AB5) & mask
    tail = data[16 * blocks :]
    if len(tail) > 8:
        k2 = int.from_bytes(tail[8:], "little")
        h2 ^= (rotl((k2 * c2) & mask, 33) * c1) & mask
    if tail:
        k1 = int.from_bytes(tail[:8], "little")
        h1 ^= (rotl((k1 * c1) & mask, 31) * c2) & mask
    h1 ^= len(data)
    h2 ^= len(data)
    h1 = (h1 + h2) & mask
    h2 = (h2 + h1) & mask
    h1, h2 = fmix(h1), fmix(h2)
    h1 = (h1 + h2) & mask
    h2 = (h2 + h1) & mask
    return h1.to_bytes(8, "little") + h2.to_bytes(8, "little")


def content_key(values: Sequence[object]) -> bytes:
    """The bytes a content id hashes: values joined by U+001F (null as U+0000), UTF-8.

    Datetimes count as integer microseconds since the epoch, so the id does not depend on how
    the file wrote the time.
    """
    parts = []
    for value in values:
        if value is None:
            parts.append("\x00")
        elif isinstance(value, datetime):
            parts.append(str(round(value.timestamp() * 1_000_000)))
        else:
            parts.append(str(value))
    return "\x1f".join(parts).encode("utf-8")


def content_id(values: Sequence[object]) -> str:
    """The 32 hex digits of the MurmurHash3 x64 128 of :func:`content_key` (one row, reference).

    :func:`record_ids` computes the same ids vectorized.

    Examples:
        >>> content_id(["+12135550142", None, 42])
        '612ac1288de51baa1135dfc3d03d4baa'
    """
    return murmur3_128(content_key(values)).hex()


def record_ids(df: pl.DataFrame, key: Sequence[str]) -> pl.Series:
    """Content-hash ids of the rows of ``df`` over the ``key`` columns (see :func:`content_id`).

    A canonical identifier column that is null while its raw value is not (a hashed or
    otherwise unrecognized id) contributes ``raw:`` plus the raw value, so that distinct
    correspondents do not collapse into one id. The key text is built by polars and hashed by
    a numba kernel over its Arrow buffers (no Python object per row).
    """
    return pl.Series("record_id", record_id_array(df, key), dtype=pl.String)


def record_id_array(df: pl.DataFrame, key: Sequence[str]) -> pa.Array:
    """:func:`record_ids` as an Arrow string array (what the canonical table holds)."""
    if not len(df):
        return pa.array([], pa.string())
    exprs = []
    needed = _raw_needed(df, key)
    for name in key:
        col = pl.col(name)
        if name in needed:
            col = pl.coalesce(col, pl.lit("raw:") + pl.col(needed[name]))
        dtype = df.schema[name]
        if isinstance(dtype, pl.Datetime):
            col = col.dt.cast_time_unit("us").dt.epoch("us")
        elif dtype == pl.Date:
            col = col.cast(pl.Int32)
        exprs.append(col.cast(pl.String).fill_null("\x00"))
    joined = df.select(pl.concat_str(exprs, separator="\x1f").alias("k"))["k"]
    # Oldest compat level: polars writes large strings (what the kernel reads), not views.
    return hex_ids(joined.to_arrow(compat_level=pl.CompatLevel.oldest()))


def _raw_needed(df: pl.DataFrame, key: Sequence[str]) -> dict[str, str]:
    """Canonical key columns with some row whose raw id has no canonical value: their raw column.

    Only those need the ``raw:`` fallback (one pass over the frame for all of them).
    """
    pairs = {
        name: name.removesuffix("_canonical") + "_raw"
        for name in key
        if name.endswith("_canonical") and name.removesuffix("_canonical") + "_raw" in df.columns
    }
    if not pairs:
        return {}
    hits = df.select(
        (pl.col(c).is_null() & pl.col(r).is_not_null()).any().alias(c) for c, r in pairs.items()
    ).row(0, named=True)
    return {c: r for c, r in pairs.items() if hits[c]}


def table_record_ids(table: pa.Table, key: Sequence[str]) -> pa.Array:
    """:func:`record_ids` of a canonical table's rows, built from its Arrow buffers.

    The same key text (values joined by U+001F, null as U+0000, ``raw:`` plus the raw value
    for a canonical identifier without one, times as integer microseconds) is written, hashed
    and hexed by one numba kernel straight from the columns, a tile of rows at a time
    (:func:`~penlink_adapters._record_id_kernel.record_id_kernel`): no key column, no polars
    string concatenation. Key columns are text, integer, timestamp or date columns.
    """
    from penlink_adapters._record_id_kernel import record_id_kernel

    n, k = table.num_rows, len(key)
    texts: list[tuple[Any, Any]] = []
    ints: list[Any] = []
    plan = np.full((3, k), -1, dtype=np.int64)  # kinds, index, fallback
    valid = _reused("valid", (2 * k, n), np.bool_)
    for c, name in enumerate(key):
        array = _one_chunk(table.column(name))
        _fill_validity(valid[c], array)
        raw = name.removesuffix("_canonical") + "_raw"
        if name.endswith("_canonical") and raw in table.column_names and array.null_count:
            fallback = _one_chunk(table.column(raw))
            if _is_text(fallback) and fallback.null_count < n:  # some row may fall back
                _fill_validity(valid[k + c], fallback)
                plan[2, c] = len(texts)
                texts.append(_text_buffers(fallback))
        if _is_text(array):
            plan[:2, c] = 0, len(texts)
            texts.append(_text_buffers(array))
        else:
            plan[:2, c] = 1, len(ints)
            ints.append(_int_values(array))
    offsets, data = _stacked_texts(texts, n)
    values = _reused("values", (max(len(ints), 1), n), np.int64)
    for j, column in enumerate(ints):
        values[j] = column
    kinds, index, fallback = plan
    return _hex_array(record_id_kernel(kinds, index, fallback, offsets, data, values, valid), n)


def _one_chunk(chunked: pa.ChunkedArray) -> pa.Array:
    return chunked.combine_chunks() if chunked.num_chunks != 1 else chunked.chunk(0)


def _is_text(array: pa.Array) -> bool:
    return bool(pa.types.is_string(array.type) or pa.types.is_large_string(array.type))


def _fill_validity(row: Any, array: pa.Array) -> None:
    """Write whether each value of ``array`` is non-null into ``row``."""
    if array.null_count:
        bits = np.frombuffer(array.buffers()[0], dtype=np.uint8)
        n, at = len(array), array.offset
        row[:] = np.unpackbits(bits, count=at + n, bitorder="little")[at:].view(np.bool_)
    else:
        row[:] = True


def _text_buffers(array: pa.Array) -> tuple[Any, Any]:
    """A text column's 64-bit offsets (as the array has them) and its bytes."""
    bufs = array.buffers()
    wide = np.int64 if pa.types.is_large_string(array.type) else np.int32
    offsets = np.frombuffer(bufs[1], dtype=wide)[array.offset : array.offset + len(array) + 1]
    data = np.frombuffer(bufs[2], dtype=np.uint8) if bufs[2] is not None else _EMPTY
    return offsets, data


def _stacked_texts(texts: list[tuple[Any, Any]], n: int) -> tuple[Any, Any]:
    """Text columns as one ``(columns, n + 1)`` offsets array into one bytes array.

    Only each column's own span of bytes is copied (a slice or a chunk of a larger buffer
    brings no more), into an 8-byte aligned buffer with zeroed words past its end: the kernel
    reads whole words.
    """
    offsets = _reused("offsets", (max(len(texts), 1), n + 1), np.int64)
    spans = [(int(o[0]), int(o[-1])) for o, _ in texts]
    size = sum(last - first for first, last in spans)
    padded = _reused("data", (8 * (size // 8 + _PAD_WORDS + 1),), np.uint8)
    padded[size:] = 0
    base = 0
    for j, ((column_offsets, data), (first, last)) in enumerate(zip(texts, spans, strict=True)):
        np.subtract(column_offsets, first - base, out=offsets[j], casting="unsafe")
        padded[base : base + last - first] = data[first:last]
        base += last - first
    return offsets, padded


_LOCAL: Final = threading.local()
_REUSED_BYTES: Final = 64 << 20
"""Work arrays up to this size are kept per thread and reused from call to call."""


def _reused(slot: str, shape: tuple[int, ...], dtype: Any) -> Any:
    """An uninitialized, 8-byte aligned work array, reused by the next call in this thread.

    Freshly allocated memory costs a page fault per 4 KiB page at first touch (as much as the
    work done in it, for the few megabytes of a chunk); arrays past :data:`_REUSED_BYTES` are
    not kept.
    """
    size = int(np.prod(shape)) * np.dtype(dtype).itemsize
    pool: dict[str, Any] = _LOCAL.__dict__.setdefault("pool", {})
    buffer = pool.get(slot)
    if buffer is None or len(buffer) < size:
        buffer = np.empty(size // 8 + 1, dtype=np.uint64).view(np.uint8)
        if size <= _REUSED_BYTES:
            pool[slot] = buffer
    return buffer[:size].view(dtype).reshape(shape)


def _int_values(array: pa.Array) -> Any:
    """An integer, timestamp (microseconds) or date (day number) column as ``int64`` values.

    A null slot's value is whatever the buffer holds (the kernel reads validity first).
    """
    if pa.types.is_timestamp(array.type) and array.type.unit != "us":
        array = array.cast(pa.timestamp("us", array.type.tz))
    if pa.types.is_timestamp(array.type):
        dtype: Any = np.int64
    elif pa.types.is_date32(array.type):
        dtype = np.int32
    else:
        dtype = np.dtype(array.type.to_pandas_dtype())
    values = np.frombuffer(array.buffers()[1], dtype=dtype)
    return values[array.offset : array.offset + len(array)].astype(np.int64, copy=False)


def _validity(array: pa.Array) -> Any:
    """Whether each value is non-null (``bool`` numpy array)."""
    n = len(array)
    if array.null_count == 0:
        return np.ones(n, dtype=np.bool_)
    bits = np.frombuffer(array.buffers()[0], dtype=np.uint8)
    return np.unpackbits(bits, bitorder="little")[array.offset : array.offset + n].view(np.bool_)


_EMPTY: Final = np.zeros(1, dtype=np.uint8)
_PAD_WORDS: Final = 2
"""Whole words the record-id kernel may read past the text bytes."""


def _hex_array(digits: Any, n: int) -> pa.Array:
    """Strings of 32 hex digits each (``string``, or ``large_string`` past 2 GiB)."""
    if 32 * n < 2**31:  # 32-bit offsets fit: the canonical ``string`` type, no cast later
        short = np.arange(0, 32 * (n + 1), 32, dtype=np.int32)
        return pa.StringArray.from_buffers(n, pa.py_buffer(short), pa.py_buffer(digits))
    bounds = np.arange(0, 32 * (n + 1), 32, dtype=np.int64)
    return pa.LargeStringArray.from_buffers(n, pa.py_buffer(bounds), pa.py_buffer(digits))


def hex_ids(texts: pa.Array) -> pa.Array:
    """32 hex digits of the MurmurHash3 x64 128 of each (non-null) UTF-8 value of ``texts``.

    A ``string`` array, or a ``large_string`` one past 2 GiB of digits.
    """
    from penlink_adapters._kernels import murmur3_hex_kernel

    array = texts.cast(pa.large_string())
    n = len(array)
    bufs = array.buffers()
    offsets = np.frombuffer(bufs[1], dtype=np.int64)[array.offset : array.offset + n + 1]
    data = np.frombuffer(bufs[2], dtype=np.uint8) if bufs[2] is not None else np.zeros(1, np.uint8)
    return _hex_array(murmur3_hex_kernel(offsets, data), n)
