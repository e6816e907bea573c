"""The numba kernel that dictionary-encodes a string column of a few short values.

Arrow's Parquet writer hashes every value of a plain string column into its dictionary; handed
a ``DictionaryArray`` it writes the indices as they are. For a column of a few values (the
call directions, the event types, the two targets of a return) the hashing cost more than
10 ns a row; :func:`few_values` finds the distinct values in order of first appearance, as the
writer's own dictionary orders them, in about 2 ns a row.

A value of at most 16 bytes is known by its width and two 8-byte words (its first and last
eight bytes, or its bytes alone when shorter), read without going past its end, so each row
is compared with every value found so far by three integer compares and no branch on which
one matched. The kernel gives up (returns -1) at the first value past ``limit`` or longer
than 16 bytes: a column of many or long values costs a look at its first rows only.
"""

from __future__ import annotations

from typing import Final

import numba
import numpy as np
import numpy.typing as npt

__all__ = ["WIDEST", "few_values"]

WIDEST: Final = 16
"""The longest value (bytes) the kernel takes."""

_inline = numba.njit(cache=True, nogil=True, inline="always")


@_inline
def _word(data: npt.NDArray[np.uint8], at: int) -> np.uint64:  # pragma: no cover - compiled
    """The 8 bytes at ``data[at]`` as a little-endian word.

    Unsigned indices: compiled, numba checks a signed index for a negative value on each load
    (four times the kernel's time per row).
    """
    w = np.uint64(0)
    base = np.uintp(at)
    for p in range(8):
        w |= np.uint64(data[base + np.uintp(p)]) << np.uint64(8 * p)
    return w


@_inline
def _key(
    data: npt.NDArray[np.uint8], start: int, end: int
) -> tuple[np.uint64, np.uint64]:  # pragma: no cover - compiled
    """Two words that, with the width, tell a value of at most 16 bytes from any other.

    Only bytes of the value, or before it, are read (never past its end): the value's bytes
    sit in the low bytes of the first word when it is shorter than eight.
    """
    width = end - start
    if width >= 8:
        return _word(data, start), _word(data, end - 8)
    if width == 0:
        return np.uint64(0), np.uint64(0)
    if end >= 8:
        return _word(data, end - 8) >> np.uint64(8 * (8 - width)), np.uint64(0)
    w = np.uint64(0)
    for p in range(width):
        w |= np.uint64(data[start + p]) << np.uint64(8 * p)
    return w, np.uint64(0)


@numba.njit(cache=True, nogil=True)
def few_values(
    offsets: npt.NDArray[np.int32],
    data: npt.NDArray[np.uint8],
    limit: int,
    indices: npt.NDArray[np.int32],
    firsts: npt.NDArray[np.int64],
) -> int:  # pragma: no cover - compiled (the nojit job runs it as Python)
    """Index each row's value among the distinct values; how many there are, or -1.

    Row ``i``'s value is ``data[offsets[i]:offsets[i + 1]]``. ``indices[i]`` is set to the
    position of row ``i``'s value in the order of first appearance and ``firsts[k]`` (room
    for ``limit``) to the row where value ``k`` first appears. Returns the number of distinct
    values, or -1 as soon as there are more than ``limit`` or a value is longer than
    :data:`WIDEST` bytes (``indices`` and ``firsts`` are then partly written).
    """
    n = len(offsets) - 1
    room = max(limit, 1)
    widths = np.empty(room, dtype=np.int64)
    lows = np.empty(room, dtype=np.uint64)
    highs = np.empty(room, dtype=np.uint64)
    count = 0
    for i in range(n):
        start = offsets[i]
        end = offsets[i + 1]
        width = end - start
        if width > WIDEST:
            return -1
        low, high = _key(data, start, end)
        k = -1
        for j in range(count):  # every value found so far: no branch on which one matches
            same = (widths[j] == width) & (lows[j] == low) & (highs[j] == high)
            k = j if same else k
        if k < 0:
            if count == limit:
                return -1
            k = count
            widths[k] = width
            lows[k] = low
            highs[k] = high
            firsts[k] = i
            count += 1
        indices[i] = k
    return count
