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

from penlink_adapters._kernels import _fmix, _le64, _murmur3

__all__ = ["memo_find_kernel", "memo_hash_kernel", "memo_put_kernel"]

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


@_wrapping
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
) -> Any:
    """The memo row of each value (``int64``), -1 when the map lacks it or holds another value.

    ``h1s``, ``h2s``: the values' keys (:func:`memo_hash_kernel`); ``slots``: the map of
    :func:`memo_put_kernel`; ``m_offsets``, ``m_data``: the memo's values, whose rows the
    map holds (read only to check a hit on a hashed key).
    """
    mask = len(slots) - 1
    n = len(h1s)
    rows = np.full(n, -1, dtype=np.int64)
    for i in range(n):
        a = h1s[i]
        b = h2s[i]
        slot = _slot(a, b, mask)
        while slots[slot, 2] != 0:
            if slots[slot, 0] == a and slots[slot, 1] == b:
                rows[i] = np.int64(slots[slot, 2]) - 1
                break
            slot = (slot + 1) & mask
    for i in range(n):  # a hit on a hashed key: check the bytes
        r = rows[i]
        if r < 0 or h2s[i] >> _TOP != np.uint64(0xFF):
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
    return rows
