"""Numba kernels of the identifier memo: hash values and find them, straight from Arrow buffers.

A value is its UTF-8 bytes ``data[offsets[i]:offsets[i + 1]]`` (64-bit offsets) and its
validity. Its key is the MurmurHash3 x64 128 of its bytes (null: a fixed key no byte string
takes in practice); the map is :func:`penlink_adapters._kernels.map_put_kernel`'s. A found
row is checked byte for byte against the memo's own buffers: a collision is a miss.
"""

from __future__ import annotations

from typing import Any, Final

import numba
import numpy as np

from penlink_adapters._kernels import _murmur3

__all__ = ["memo_find_kernel", "memo_hash_kernel"]

_jit = numba.njit(cache=True, nogil=True)
_inline = numba.njit(cache=True, nogil=True, inline="always")

_NULL1: Final = np.uint64(0x9E3779B97F4A7C15)
_NULL2: Final = np.uint64(0xC2B2AE3D27D4EB4F)


@_inline
def _key(offsets: Any, data: Any, valid: Any, i: int) -> tuple[Any, Any]:
    """The 128-bit key of value ``i``."""
    if not valid[i]:
        return _NULL1, _NULL2
    start = offsets[i]
    return _murmur3(data, start, offsets[i + 1] - start)


@_jit
def memo_hash_kernel(offsets: Any, data: Any, valid: Any) -> tuple[Any, Any]:
    """The two 64-bit halves of each value's key (``uint64`` arrays)."""
    n = len(valid)
    h1s = np.empty(n, dtype=np.uint64)
    h2s = np.empty(n, dtype=np.uint64)
    for i in range(n):
        h1s[i], h2s[i] = _key(offsets, data, valid, i)
    return h1s, h2s


@_jit
def memo_find_kernel(
    h1s: Any,
    h2s: Any,
    offsets: Any,
    data: Any,
    valid: Any,
    slots: Any,
    m_offsets: Any,
    m_data: Any,
    m_valid: Any,
) -> Any:
    """The memo row of each value (``int64``), -1 when the map lacks it or holds another value.

    ``h1s``, ``h2s``: the values' keys (:func:`memo_hash_kernel`); ``slots``: the map of :func:`penlink_adapters._kernels.map_put_kernel` (``h1``, ``h2``,
    row plus one); ``m_*``: the memo's values, whose rows the map holds.
    """
    mask = len(slots) - 1
    n = len(valid)
    rows = np.full(n, -1, dtype=np.int64)
    for i in range(n):
        a = h1s[i]
        b = h2s[i]
        slot = np.int64(b & np.uint64(mask))
        while slots[slot, 2] != 0:
            if slots[slot, 0] == a and slots[slot, 1] == b:
                rows[i] = np.int64(slots[slot, 2]) - 1
                break
            slot = (slot + 1) & mask
    for i in range(n):  # every hit checked: validity, length, bytes
        r = rows[i]
        if r < 0:
            continue
        if valid[i] != m_valid[r]:
            rows[i] = -1
        elif valid[i]:
            start = offsets[i]
            m_start = m_offsets[r]
            length = offsets[i + 1] - start
            if m_offsets[r + 1] - m_start != length:
                rows[i] = -1
            else:
                for j in range(length):
                    if data[start + j] != m_data[m_start + j]:
                        rows[i] = -1
                        break
    return rows
