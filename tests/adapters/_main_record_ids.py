"""Main's record ids as they stood at 0027e94, kept as the reference of the record-id kernel.

A verbatim copy of ``table_record_ids`` and its key kernels as they stood at main 0027e94:
widths per column, a key text buffer filled column by column, then hashed and hexed. Record
ids are stored and deduplicate across batches, so the record-id kernel
(:mod:`penlink_adapters._record_id_kernel`) must give byte-identical ids.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any

import numba
import numpy as np
import pyarrow as pa

from penlink_adapters._kernels import murmur3_hex_kernel  # noqa: F401 (as k.murmur3_hex_kernel)
from penlink_adapters._record_ids import _hex_array

_jit = numba.njit(cache=True, nogil=True)
_inline = numba.njit(cache=True, nogil=True, inline="always")


@_inline
def _magnitude(v: Any) -> Any:
    """``abs(v)`` as ``uint64`` (exact at the smallest int64 too)."""
    if v < 0:
        return np.uint64(-(v + 1)) + np.uint64(1)
    return np.uint64(v)


@_inline
def _int_width(v: Any) -> int:
    """Characters of ``v`` (an integer) written in decimal, with its minus sign."""
    m = _magnitude(v)
    width = 2 if v < 0 else 1
    while m >= np.uint64(10):
        m //= np.uint64(10)
        width += 1
    return width


@_inline
def _write_int(out: Any, at: int, v: Any, width: int) -> None:
    """Write ``v`` in decimal into ``out[at:at + width]`` (``width`` from :func:`_int_width`)."""
    m = _magnitude(v)
    if v < 0:
        out[at] = 45  # "-"
    for p in range(at + width - 1, at + (1 if v < 0 else 0) - 1, -1):
        out[p] = np.uint8(48 + m % np.uint64(10))
        m //= np.uint64(10)


@_jit
def key_text_widths_kernel(
    widths: Any, offsets: Any, valid: Any, fb_offsets: Any, fb_valid: Any, has_fb: bool
) -> None:
    """Add a text column's share to each row's key width (value, or ``raw:`` fallback, or NUL).

    One separator byte is counted per column (the caller drops the last one).
    """
    for i in range(len(widths)):
        if valid[i]:
            widths[i] += offsets[i + 1] - offsets[i] + 1
        elif has_fb and fb_valid[i]:
            widths[i] += 4 + fb_offsets[i + 1] - fb_offsets[i] + 1
        else:
            widths[i] += 2


@_jit
def key_int_widths_kernel(widths: Any, values: Any, valid: Any) -> None:
    """Add an integer column's share to each row's key width (decimal digits, or NUL)."""
    for i in range(len(widths)):
        widths[i] += (_int_width(values[i]) if valid[i] else 1) + 1


@_jit
def key_text_fill_kernel(
    out: Any,
    cursor: Any,
    offsets: Any,
    data: Any,
    valid: Any,
    fb_offsets: Any,
    fb_data: Any,
    fb_valid: Any,
    has_fb: bool,
    last: bool,
) -> None:
    """Append a text column to each row's key at ``cursor[i]`` (then the separator, unless last)."""
    for i in range(len(cursor)):
        at = cursor[i]
        if valid[i]:
            for p in range(offsets[i], offsets[i + 1]):
                out[at] = data[p]
                at += 1
        elif has_fb and fb_valid[i]:
            out[at] = 114  # "raw:"
            out[at + 1] = 97
            out[at + 2] = 119
            out[at + 3] = 58
            at += 4
            for p in range(fb_offsets[i], fb_offsets[i + 1]):
                out[at] = fb_data[p]
                at += 1
        else:
            out[at] = 0
            at += 1
        if not last:
            out[at] = 31
            at += 1
        cursor[i] = at


@_jit
def key_int_fill_kernel(out: Any, cursor: Any, values: Any, valid: Any, last: bool) -> None:
    """Append an integer column (decimal, NUL when null) to each row's key at ``cursor[i]``."""
    for i in range(len(cursor)):
        at = cursor[i]
        if valid[i]:
            width = _int_width(values[i])
            _write_int(out, at, values[i], width)
            at += width
        else:
            out[at] = 0
            at += 1
        if not last:
            out[at] = 31
            at += 1
        cursor[i] = at


def main_table_record_ids(table: pa.Table, key: Sequence[str]) -> pa.Array:
    with np.errstate(over="ignore"):  # the no-JIT job: numpy wraps as compiled code does
        return _main_table_record_ids(table, key)


def _main_table_record_ids(table: pa.Table, key: Sequence[str]) -> pa.Array:
    """:func:`record_ids` of a canonical table's rows, built from its Arrow buffers.

    The same key text (values joined by U+001F, null as U+0000, ``raw:`` plus the raw value
    for a canonical identifier without one, times as integer microseconds) is written by
    numba kernels straight from the columns, then hashed: no polars string concatenation.
    Key columns are text, integer, timestamp (microseconds) or date columns.
    """
    k = sys.modules[__name__]

    n = table.num_rows
    widths = np.zeros(n, dtype=np.int64)
    parts = []
    for name in key:
        column = _key_column(table.column(name))
        raw = name.removesuffix("_canonical") + "_raw"
        fallback = None
        if name.endswith("_canonical") and raw in table.column_names:
            fallback = _key_column(table.column(raw))
        parts.append((column, fallback))
        if len(column) == 3:
            fb = fallback if fallback is not None and len(fallback) == 3 else column
            k.key_text_widths_kernel(
                widths, column[0], column[2], fb[0], fb[2], fallback is not None
            )
        else:
            k.key_int_widths_kernel(widths, column[0], column[1])
    offsets = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(widths - 1, out=offsets[1:])  # no separator after the last column
    out = np.empty(max(int(offsets[-1]), 1), dtype=np.uint8)
    cursor = offsets[:-1].copy()
    for i, (column, fallback) in enumerate(parts):
        last = i == len(parts) - 1
        if len(column) == 3:
            fb = fallback if fallback is not None and len(fallback) == 3 else column
            k.key_text_fill_kernel(
                out, cursor, *column[:2], column[2], *fb, fallback is not None, last
            )
        else:
            k.key_int_fill_kernel(out, cursor, column[0], column[1], last)
    return _hex_array(k.murmur3_hex_kernel(offsets, out), n)


def _key_column(chunked: pa.ChunkedArray) -> tuple[Any, ...]:
    """A key column as numpy arrays: ``(offsets, data, valid)`` for text, else ``(values, valid)``.

    Values of a text column are its bytes (32- or 64-bit offsets, as the array has them); of
    a timestamp, its integer count of its unit; of a date, its day number.
    """
    array = chunked.combine_chunks() if chunked.num_chunks != 1 else chunked.chunk(0)
    valid = _validity(array)
    if pa.types.is_string(array.type) or pa.types.is_large_string(array.type):
        bufs = array.buffers()
        wide = np.int64 if pa.types.is_large_string(array.type) else np.int32
        offsets = np.frombuffer(bufs[1], dtype=wide)[array.offset : array.offset + len(array) + 1]
        data = np.frombuffer(bufs[2], dtype=np.uint8) if bufs[2] is not None else _EMPTY
        return offsets, data, valid
    if pa.types.is_timestamp(array.type) or pa.types.is_date32(array.type):
        array = array.view(pa.int64() if pa.types.is_timestamp(array.type) else pa.int32())
    values = array.cast(pa.int64()).fill_null(0).to_numpy(zero_copy_only=False)
    return values, valid


def _validity(array: pa.Array) -> Any:
    """Whether each value is non-null (``bool`` numpy array)."""
    n = len(array)
    if array.null_count == 0:
        return np.ones(n, dtype=np.bool_)
    bits = np.frombuffer(array.buffers()[0], dtype=np.uint8)
    return np.unpackbits(bits, bitorder="little")[array.offset : array.offset + n].view(np.bool_)


_EMPTY = np.zeros(1, dtype=np.uint8)
