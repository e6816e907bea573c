"""The record-id kernel: each row's natural key written, hashed and hexed, a tile of rows at a time.

A row's key text (:func:`penlink_adapters._record_ids.content_key`: values joined by U+001F,
null as U+0000, ``raw:`` plus the raw value for a canonical identifier without one, integers
in decimal) is hashed with MurmurHash3 x64 128 (seed 0) and written as 32 lowercase hex digits
(``h1`` then ``h2``, little-endian): no key column, no separate hex pass.

Rows are taken :data:`TILE` at a time. Each row of a tile gets room in a small scratch buffer
(its text values and fallbacks whole, 21 bytes per integer, separators, slack), then the tile's
keys are written column by column, each row's key growing at its own position, and hashed row by
row. Column by column, the loop over a tile is one kind of value with the same branches each
time, reading each column's offsets and bytes in order; row by row, each key was ten unlike
writes in a chain of positions (the pass of main at 811d332, about 1.5 times the time per row).
The scratch buffer of a tile (some tens of kilobytes) stays in the core's cache between the
columns. Text is copied eight bytes a load and store at any byte position, integers are written
eight decimal digits a store, hex digits four byte pairs a store; the stores may spill up to
seven bytes past a value, into what the next value overwrites or the row's slack, never hashed.

Columns come as a few flat arrays (no per-column Python objects in the row loop): the text
columns' bytes in one ``data`` array with one row of 64-bit ``offsets`` each, the integer
columns' values one row each, and validity one row per key column (and per fallback).
"""

from __future__ import annotations

from typing import Any, Final

import numba
import numpy as np

from penlink_adapters._block_kernel import _load64, _murmur3, _store64
from penlink_adapters._memo_kernel import _wrapping

__all__ = ["record_id_kernel"]

_jit = numba.njit(cache=True, nogil=True)
_inline = numba.njit(cache=True, nogil=True, inline="always")

_TEXT: Final = 0
_POW10: Final = np.array([10**p for p in range(20)], dtype=np.uint64)
_PAIRS: Final = np.frombuffer("".join(f"{p:02d}" for p in range(100)).encode(), np.uint8).copy()
_PAIRS16: Final = _PAIRS.view("<u2").astype(np.uint64)
"""The two decimal digits of ``p`` (below 100) as the little-endian 16-bit word holding them."""
_E2: Final = np.uint64(100)
_E8: Final = np.uint64(10**8)
_HEX_PAIRS: Final = np.frombuffer("".join(f"{b:02x}" for b in range(256)).encode(), np.uint8).copy()
_HEX16: Final = _HEX_PAIRS.view("<u2").astype(np.uint64)
"""Byte ``b``'s two hex digits as the little-endian 16-bit word that holds them."""
_FF: Final = np.uint64(0xFF)
_SLACK: Final = 16
"""Bytes kept free past a key: a tail word may be read whole, and a word written past it."""
TILE: Final = 512
"""Rows whose keys are written together (a few tens of kilobytes of scratch buffer): from 128 to
4,096 rows a tile took the same time within the noise, about two thirds of the row-by-row pass."""
_RAW: Final = np.uint64(int.from_bytes(b"raw:", "little"))


@_inline
def _put_int(keys: Any, at: int, v: Any) -> int:
    """Write ``v`` in decimal at ``keys[at]``; return the position after it."""
    if v < 0:
        m = np.uint64(-(v + 1)) + np.uint64(1)  # exact at the smallest int64 too
        keys[at] = 45  # "-"
        at += 1
    else:
        m = np.uint64(v)
    low = m % _E8
    high = m // _E8
    if high == 0:
        return _put_digits(keys, at, low, _width8(low))
    middle = high % _E8
    top = high // _E8
    if top == 0:
        at = _put_digits(keys, at, middle, _width8(middle))
    else:  # below 10**4: 20 digits at most
        at = _put_digits(keys, at, top, _width8(top))
        at = _put_digits(keys, at, middle, 8)
    return _put_digits(keys, at, low, 8)


@_inline
def _width8(x: Any) -> int:
    """How many decimal digits ``x`` (below 10**8) has."""
    width = 1
    while width < 8 and x >= _POW10[width]:
        width += 1
    return width


@_inline
def _put_digits(keys: Any, at: int, x: Any, width: int) -> int:
    """Write the last ``width`` of the eight decimal digits of ``x`` (below 10**8) at ``at``."""
    a = x // np.uint64(10000)
    b = x % np.uint64(10000)
    w = (
        _PAIRS16[np.int64(a // _E2)]
        | (_PAIRS16[np.int64(a % _E2)] << np.uint64(16))
        | (_PAIRS16[np.int64(b // _E2)] << np.uint64(32))
        | (_PAIRS16[np.int64(b % _E2)] << np.uint64(48))
    )
    _store64(keys, at, w >> np.uint64(8 * (8 - width)))
    return at + width


@_inline
def _put_text(keys: Any, at: int, data: Any, start: int, stop: int) -> int:
    """Copy ``data[start:stop]`` to ``keys[at:]`` a word at a time; the position after it."""
    for p in range(start, stop, 8):
        _store64(keys, at + p - start, _load64(data, p))
    return at + stop - start


@_wrapping
@_jit
def record_id_kernel(
    kinds: Any, index: Any, fallback: Any, offsets: Any, data: Any, values: Any, valid: Any
) -> Any:
    """32 hex digits per row (``uint8``, ``32 * n``) of the MurmurHash3 of its key text.

    Key column ``c`` is text column ``index[c]`` (``offsets[index[c]]`` into ``data``) when
    ``kinds[c]`` is 0, else integer column ``index[c]`` (``values[index[c]]``); it is valid
    where ``valid[c]``. A null text value falls back to ``raw:`` plus text column
    ``fallback[c]`` when that is not -1 and valid there (``valid[len(kinds) + c]``).
    ``data`` has at least 8 readable bytes past the last text byte (words are read whole).
    """
    n = valid.shape[1]
    k = len(kinds)
    out = np.empty(32 * n, dtype=np.uint8)
    starts = np.empty(TILE + 1, dtype=np.int64)
    ends = np.empty(TILE, dtype=np.int64)  # where each row's key has been written up to
    keys = np.zeros(0, dtype=np.uint8)
    for first in range(0, n, TILE):
        m = min(n, first + TILE) - first
        _room(kinds, index, fallback, offsets, first, m, ends)
        starts[0] = 0
        for j in range(m):
            starts[j + 1] = starts[j] + ((ends[j] + 7) & ~7)
            ends[j] = starts[j]
        if starts[m] + _SLACK > len(keys):
            keys = np.zeros(2 * (starts[m] + _SLACK), dtype=np.uint8)
        for c in range(k):
            if c > 0:
                for j in range(m):
                    keys[ends[j]] = 31
                    ends[j] += 1
            if kinds[c] == _TEXT:
                _put_texts(c, index, fallback, offsets, data, valid, keys, ends, first, m)
            else:
                _put_ints(c, values[index[c]], valid, keys, ends, first, m)
        for j in range(m):
            h1, h2 = _murmur3(keys, starts[j], ends[j] - starts[j])
            _put_hex(out, first + j, h1, h2)
    return out


@_inline
def _room(
    kinds: Any, index: Any, fallback: Any, offsets: Any, first: int, m: int, room: Any
) -> None:
    """Bytes each row of the tile may need, into ``room``.

    Its text values and fallbacks whole, 21 per integer, a separator and ``raw:`` (or a null
    byte) per column, and :data:`_SLACK`.
    """
    k = len(kinds)
    for j in range(m):
        room[j] = 5 * k + _SLACK
    for c in range(k):
        if kinds[c] != _TEXT:
            for j in range(m):
                room[j] += 21
            continue
        for col in (index[c], fallback[c]):
            if col >= 0:
                o = offsets[col]
                for j in range(m):
                    room[j] += o[first + j + 1] - o[first + j]


@_inline
def _put_texts(
    c: int,
    index: Any,
    fallback: Any,
    offsets: Any,
    data: Any,
    valid: Any,
    keys: Any,
    ends: Any,
    first: int,
    m: int,
) -> None:
    """Text key column ``c`` of the tile's rows, each at its row's end."""
    k = len(index)
    o = offsets[index[c]]
    fb = fallback[c]
    for j in range(m):
        i = first + j
        if valid[c, i]:
            ends[j] = _put_text(keys, ends[j], data, o[i], o[i + 1])
        elif fb >= 0 and valid[k + c, i]:
            _store64(keys, ends[j], _RAW)
            f = offsets[fb]
            ends[j] = _put_text(keys, ends[j] + 4, data, f[i], f[i + 1])
        else:
            keys[ends[j]] = 0
            ends[j] += 1


@_inline
def _put_ints(c: int, ints: Any, valid: Any, keys: Any, ends: Any, first: int, m: int) -> None:
    """Integer key column ``c`` (values ``ints``) of the tile's rows, each at its row's end."""
    for j in range(m):
        i = first + j
        if valid[c, i]:
            ends[j] = _put_int(keys, ends[j], ints[i])
        else:
            keys[ends[j]] = 0
            ends[j] += 1


@_inline
def _put_hex(out: Any, i: int, h1: Any, h2: Any) -> None:
    """Row ``i``'s 32 hex digits (``h1`` then ``h2``, bytes little-endian) into ``out``."""
    at = 32 * i
    for word in (h1, h2):
        for half in range(2):
            digits = np.uint64(0)
            for j in range(4):
                byte = (word >> np.uint64(32 * half + 8 * j)) & _FF
                digits |= _HEX16[np.int64(byte)] << np.uint64(16 * j)
            _store64(out, at, digits)
            at += 8
