"""Numba kernels of the identifier memo: keys of values and their rows, from Arrow buffers.

A value is its UTF-8 bytes ``data[offsets[i]:offsets[i + 1]]`` (64-bit offsets) and its
validity. Its 128-bit key (two words) is the value itself when it fits (up to 15 bytes:
the bytes, then the length in the top byte of the second word; null: its own length mark),
so that equal keys are equal values: phone numbers, IMSIs and IMEIs are found without
touching the memo's copy of the values. A longer value's key is the MurmurHash3 x64 128 of
its bytes (top byte all ones), and a hit on it is checked byte for byte against the memo's
values: a hash collision is a miss, never a wrong result.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, Final, TypeVar

import numba
import numpy as np

from penlink_adapters._kernels import _fmix, _le64, _murmur3, prefetch

__all__ = [
    "memo_hash_kernel",
    "memo_put_kernel",
    "memo_rows_kernel",
    "memo_view_rows_kernel",
]

_jit = numba.njit(cache=True, nogil=True)
_inline = numba.njit(cache=True, nogil=True, inline="always")
_F = TypeVar("_F", bound=Callable[..., Any])


def _wrapping(kernel: _F) -> _F:
    """Run ``kernel`` with numpy's overflow warning off when numba's JIT is disabled.

    The keys and slots are computed modulo 2**64 (as compiled code does); interpreted, numpy
    gives the same wrapped ``uint64`` results but warns at each overflow, and the test
    suite turns warnings into errors. Compiled, the kernel is returned unchanged.
    """
    if not getattr(numba.config, "DISABLE_JIT", False):
        return kernel

    @functools.wraps(kernel)
    def run(*args: Any) -> Any:
        with np.errstate(over="ignore"):
            return kernel(*args)

    return run  # type: ignore[return-value]


_TOP: Final = np.uint64(56)
_HASHED: Final = np.uint64(0xFF) << _TOP
_NULL: Final = np.uint64(0xFE) << _TOP
_MIX: Final = np.uint64(0x9E3779B97F4A7C15)


@_inline
def _key(offsets: Any, data: Any, valid: Any, i: int) -> tuple[Any, Any]:
    """The 128-bit key of value ``i``."""
    if not valid[i]:
        return np.uint64(0), _NULL
    start = offsets[i]
    length = offsets[i + 1] - start
    if length > 15:
        h1, h2 = _murmur3(data, start, length)
        return h1, h2 | _HASHED
    low = _le64(data, start, min(length, 8))
    high = _le64(data, start + 8, length - 8) if length > 8 else np.uint64(0)
    return low, high | (np.uint64(length) << _TOP)


@_inline
def _slot(a: Any, b: Any, mask: int) -> Any:
    """The first slot a key probes."""
    return np.int64(_fmix(a ^ (b * _MIX)) & np.uint64(mask))


@_wrapping
@_jit
def memo_hash_kernel(offsets: Any, data: Any, valid: Any) -> tuple[Any, Any]:
    """The two 64-bit words of each value's key (``uint64`` arrays)."""
    n = len(valid)
    h1s = np.empty(n, dtype=np.uint64)
    h2s = np.empty(n, dtype=np.uint64)
    for i in range(n):
        h1s[i], h2s[i] = _key(offsets, data, valid, i)
    return h1s, h2s


@_wrapping
@_jit
def memo_put_kernel(h1s: Any, h2s: Any, slots: Any, first_row: int) -> int:
    """Map each key ``i`` to row ``first_row + i`` unless the key is there already.

    ``slots``: ``(capacity, 3)`` words (power-of-two capacity), ``h1``, ``h2`` and the row
    plus one (0: an empty slot). The caller keeps the load <= 3/4. Returns how many keys
    were added.
    """
    mask = len(slots) - 1
    added = 0
    for i in range(len(h1s)):
        a = h1s[i]
        b = h2s[i]
        slot = _slot(a, b, mask)
        while slots[slot, 2] != 0:
            if slots[slot, 0] == a and slots[slot, 1] == b:
                break
            slot = (slot + 1) & mask
        if slots[slot, 2] == 0:
            slots[slot, 0] = a
            slots[slot, 1] = b
            slots[slot, 2] = np.uint64(first_row + i + 1)
            added += 1
    return added


@_inline
def _probe(a: Any, b: Any, slots: Any, mask: int) -> Any:
    """The row the map holds for key ``(a, b)``, -1 when it holds none."""
    slot = _slot(a, b, mask)
    while slots[slot, 2] != 0:
        if slots[slot, 0] == a and slots[slot, 1] == b:
            return np.int64(slots[slot, 2]) - 1
        slot = (slot + 1) & mask
    return np.int64(-1)


@_inline
def _recent_row(recent: Any, a: Any, b: Any, slots: Any, mask: int) -> tuple[Any, bool]:
    """The row of key ``(a, b)`` and whether it is the previous value's key.

    ``recent``: the last two distinct keys met and their rows plus two (0: none yet). A
    return alternates its target with its contacts, and repeats a value on the next row:
    such a value costs two compares rather than a probe of the map (a cache miss).
    """
    if recent[0, 2] != 0 and recent[0, 0] == a and recent[0, 1] == b:
        return np.int64(recent[0, 2]) - 2, True
    if recent[1, 2] != 0 and recent[1, 0] == a and recent[1, 1] == b:
        row = np.int64(recent[1, 2]) - 2
    else:
        row = _probe(a, b, slots, mask)
    recent[1, 0] = recent[0, 0]
    recent[1, 1] = recent[0, 1]
    recent[1, 2] = recent[0, 2]
    recent[0, 0] = a
    recent[0, 1] = b
    recent[0, 2] = np.uint64(row + 2)
    return row, False


@_inline
def _bit(bits: Any, at: int) -> Any:
    """Bit ``at`` of an Arrow validity bitmap (least significant bit first), a boolean."""
    return (bits[at >> 3] >> (at & 7)) & 1 == 1


@_wrapping
@_jit
def memo_view_rows_kernel(words: Any, bits: Any, at: int, slots: Any) -> tuple[Any, int]:
    """The memo row of each value of an Arrow string-view column whose values are inline.

    One pass: each value's key (the one :func:`memo_hash_kernel` gives its bytes) is built
    from its 16-byte view with a few shifts and found in the map at once; a value repeating
    one of the last two distinct values (a return alternates its target with its contacts)
    costs two compares rather than a probe of the map (a cache miss). A value of up to 12
    bytes lies inside its view: no key is hashed, no bytes need checking. The first slot of
    the value :data:`_AHEAD` rows on is fetched while this one is found, so that the map's
    cache misses overlap (a third less time per value over the contacts of a return).

    Args:
        words: The views buffer as ``uint64`` pairs (``(n, 2)``) from the column's first value.
        bits: The validity bitmap (``uint8``; empty: no nulls).
        at: The bit of the column's first value in ``bits``.
        slots: The map of :func:`memo_put_kernel`.

    Returns:
        The rows (``int64``, -1: not in the map) and a status: 0, 1 when the column (of two
        values or more) holds one same value (or null) on every row, 2 when a value is longer
        than 12 bytes (the rows are then incomplete: read the column as offsets instead).
    """
    mask = len(slots) - 1
    n = len(words)
    rows = np.empty(n, dtype=np.int64)
    same = n > 1
    a1 = b1 = a2 = b2 = np.uint64(0)
    r1 = r2 = np.int64(-1)
    seen = 0  # distinct keys met so far, up to 2
    flat = slots.reshape(-1)
    for i in range(n):
        if i + _AHEAD < n:  # the slot a later value probes first, fetched meanwhile
            ahead = _view_key(words[i + _AHEAD, 0], words[i + _AHEAD, 1])
            prefetch(flat, 3 * _slot(ahead[0], ahead[1], mask))
        if len(bits) and not _bit(bits, at + i):
            a, b = np.uint64(0), _NULL
        else:
            a, b = _view_key(words[i, 0], words[i, 1])
            if b == _LONG:
                return rows, 2
        if seen and a == a1 and b == b1:
            rows[i] = r1
            continue
        same = same and i == 0
        row = r2 if seen == 2 and a == a2 and b == b2 else _probe(a, b, slots, mask)
        rows[i] = row
        a2, b2, r2 = a1, b1, r1
        a1, b1, r1 = a, b, row
        seen = min(seen + 1, 2)
    return rows, 1 if same else 0


_AHEAD: Final = 32
"""Rows ahead whose first slot :func:`memo_view_rows_kernel` prefetches: 16, 24, 32 and 48
took 0.73, 0.69, 0.68 and 0.68 ms per 100,000-row column against 1.12 ms without."""
_LONG: Final = np.uint64(0xFD) << _TOP
"""Not a key: a view of a value longer than 12 bytes."""
_ONES: Final = np.uint64(0xFFFFFFFFFFFFFFFF)


@_inline
def _view_key(w0: Any, w1: Any) -> tuple[Any, Any]:
    """The key of a value from its view's two words (length, then up to 12 inline bytes).

    The bytes past the length are masked off (a view's padding is not relied upon).
    """
    length = w0 & np.uint64(0xFFFFFFFF)
    if length > np.uint64(12):
        return np.uint64(0), _LONG
    low = (w0 >> np.uint64(32)) | (w1 << np.uint64(32))
    high = w1 >> np.uint64(32)
    if length < np.uint64(8):
        keep = (np.uint64(1) << (length * np.uint64(8))) - np.uint64(1)
        return low & keep, length << _TOP
    keep = (np.uint64(1) << ((length - np.uint64(8)) * np.uint64(8))) - np.uint64(1)
    return low, (high & keep) | (length << _TOP)


@_wrapping
@_jit
def memo_rows_kernel(
    offsets: Any, data: Any, valid: Any, slots: Any, m_offsets: Any, m_data: Any
) -> tuple[Any, int]:
    """The memo row of each value (-1: none), keys built and found in one pass.

    Each value's key (that of :func:`memo_hash_kernel`) is found in the map as it is built
    (no keys arrays), a value repeating one of the last two distinct values without a
    probe; a hit on a hashed key is checked byte for byte against the memo's values
    (``m_offsets``, ``m_data``): a hash collision is a miss, never a wrong row.

    Returns:
        The rows (``int64``) and a status: 1 when the column (of two values or more) holds
        one same value (or null) on every row, else 0.
    """
    mask = len(slots) - 1
    n = len(valid)
    rows = np.empty(n, dtype=np.int64)
    recent = np.zeros((2, 3), dtype=np.uint64)
    same = n > 1
    for i in range(n):
        a, b = _key(offsets, data, valid, i)
        row, repeated = _recent_row(recent, a, b, slots, mask)
        rows[i] = row
        same = same and (repeated or i == 0)
    for i in range(n):  # a hit on a hashed key: check the bytes
        r = rows[i]
        if r < 0 or not valid[i] or offsets[i + 1] - offsets[i] <= 15:
            continue
        start = offsets[i]
        m_start = m_offsets[r]
        length = offsets[i + 1] - start
        if m_offsets[r + 1] - m_start != length:
            rows[i] = -1
            continue
        for j in range(length):
            if data[start + j] != m_data[m_start + j]:
                rows[i] = -1
                break
    if same and valid[0] and offsets[1] - offsets[0] > 15:  # one hashed key: one value?
        same = _all_equal(offsets, data)
    return rows, 1 if same else 0


@_inline
def _all_equal(offsets: Any, data: Any) -> bool:
    """Whether every value has the bytes of the first (all of them valid)."""
    first = offsets[0]
    length = offsets[1] - first
    for i in range(1, len(offsets) - 1):
        start = offsets[i]
        if offsets[i + 1] - start != length:
            return False
        for j in range(length):
            if data[start + j] != data[first + j]:
                return False
    return True
