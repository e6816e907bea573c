"""numba kernels of the adapters: 128-bit hashes over Arrow string buffers, and a set of them.

numba is imported only here, in :mod:`penlink_adapters._time_kernel` and in the identifier
kernels of ``tls_core`` (``tests/test_architecture.py``).

:func:`murmur3_hex_kernel` hashes every value of a string array with MurmurHash3 x64 128
(seed 0) and writes the 16-byte digest as 32 lowercase hex digits, ``h1`` then ``h2``, each
little-endian: the same bytes as the reference C implementation's output buffer (and
``mmh3.hash_bytes``). The pure-Python reference is
:func:`penlink_adapters._identify.murmur3_128`; the tests check that both agree.

:func:`set_insert_kernel` keeps the 128-bit hashes of the lines seen so far in an
open-addressing table, so that exact duplicate lines are found in one pass per chunk,
whatever the number of lines already seen.
"""

from __future__ import annotations

from typing import Any, Final

import numba
import numpy as np

__all__ = [
    "key_int_fill_kernel",
    "key_int_widths_kernel",
    "key_text_fill_kernel",
    "key_text_widths_kernel",
    "murmur3_hex_kernel",
    "plain_block_kernel",
    "rehash_kernel",
    "set_insert_kernel",
]

_jit = numba.njit(cache=True, nogil=True)
_inline = numba.njit(cache=True, nogil=True, inline="always")

_C1: Final = np.uint64(0x87C37B91114253D5)
_C2: Final = np.uint64(0x4CF5AD432745937F)
_F1: Final = np.uint64(0xFF51AFD7ED558CCD)
_F2: Final = np.uint64(0xC4CEB9FE1A85EC53)
_M5: Final = np.uint64(5)
_N1: Final = np.uint64(0x52DCE729)
_N2: Final = np.uint64(0x38495AB5)
_HEX: Final = np.frombuffer(b"0123456789abcdef", dtype=np.uint8).copy()


@_inline
def _rotl(x: Any, r: int) -> Any:
    return (x << np.uint64(r)) | (x >> np.uint64(64 - r))


@_inline
def _fmix(k: Any) -> Any:
    k ^= k >> np.uint64(33)
    k *= _F1
    k ^= k >> np.uint64(33)
    k *= _F2
    k ^= k >> np.uint64(33)
    return k


@_inline
def _le64(data: Any, start: int, count: int) -> Any:
    """``count`` (<= 8) bytes from ``start`` as a little-endian 64-bit word."""
    k = np.uint64(0)
    for j in range(count - 1, -1, -1):
        k = (k << np.uint64(8)) | np.uint64(data[start + j])
    return k


@_jit
def _murmur3(data: Any, start: int, length: int) -> tuple[Any, Any]:
    h1 = np.uint64(0)
    h2 = np.uint64(0)
    blocks = length // 16
    for b in range(blocks):
        at = start + 16 * b
        k1 = _le64(data, at, 8)
        k2 = _le64(data, at + 8, 8)
        k1 *= _C1
        k1 = _rotl(k1, 31)
        k1 *= _C2
        h1 ^= k1
        h1 = _rotl(h1, 27)
        h1 += h2
        h1 = h1 * _M5 + _N1
        k2 *= _C2
        k2 = _rotl(k2, 33)
        k2 *= _C1
        h2 ^= k2
        h2 = _rotl(h2, 31)
        h2 += h1
        h2 = h2 * _M5 + _N2
    tail = start + 16 * blocks
    rest = length - 16 * blocks
    if rest > 8:
        k2 = _le64(data, tail + 8, rest - 8)
        k2 *= _C2
        k2 = _rotl(k2, 33)
        k2 *= _C1
        h2 ^= k2
    if rest > 0:
        k1 = _le64(data, tail, min(rest, 8))
        k1 *= _C1
        k1 = _rotl(k1, 31)
        k1 *= _C2
        h1 ^= k1
    n = np.uint64(length)
    h1 ^= n
    h2 ^= n
    h1 += h2
    h2 += h1
    h1 = _fmix(h1)
    h2 = _fmix(h2)
    h1 += h2
    h2 += h1
    return h1, h2


@_jit
def murmur3_hex_kernel(offsets: Any, data: Any) -> Any:
    """32 hex digits per value (``uint8``, ``32 * n``): MurmurHash3 x64 128 of each value."""
    n = len(offsets) - 1
    out = np.empty(32 * n, dtype=np.uint8)
    for i in range(n):
        start = offsets[i]
        h1, h2 = _murmur3(data, start, offsets[i + 1] - start)
        at = 32 * i
        for word in (h1, h2):
            for j in range(8):
                byte = (word >> np.uint64(8 * j)) & np.uint64(0xFF)
                out[at] = _HEX[byte >> np.uint64(4)]
                out[at + 1] = _HEX[byte & np.uint64(0xF)]
                at += 2
    return out


@_jit
def set_insert_kernel(h1s: Any, h2s: Any, keys1: Any, keys2: Any, used: Any) -> tuple[Any, int]:
    """Insert hashes into the table; ``fresh[i]`` is False for a hash already there.

    The table (``keys1``, ``keys2``, ``used``; power-of-two size) must have room for every
    hash: the caller grows it first (:func:`rehash_kernel`). Returns ``(fresh, added)``.
    """
    mask = len(used) - 1
    fresh = np.ones(len(h1s), dtype=np.bool_)
    added = 0
    for i in range(len(h1s)):
        a = h1s[i]
        b = h2s[i]
        slot = np.int64(b & np.uint64(mask))
        while used[slot]:
            if keys1[slot] == a and keys2[slot] == b:
                fresh[i] = False
                break
            slot = (slot + 1) & mask
        if fresh[i]:
            used[slot] = True
            keys1[slot] = a
            keys2[slot] = b
            added += 1
    return fresh, added


@_jit
def rehash_kernel(keys1: Any, keys2: Any, used: Any, new1: Any, new2: Any, new_used: Any) -> None:
    """Move every hash of one table into a larger, empty one."""
    mask = len(new_used) - 1
    for i in range(len(used)):
        if used[i]:
            slot = np.int64(keys2[i] & np.uint64(mask))
            while new_used[slot]:
                slot = (slot + 1) & mask
            new_used[slot] = True
            new1[slot] = keys1[i]
            new2[slot] = keys2[i]


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


@_jit
def plain_block_kernel(buf: Any, after_cr: bool) -> bool:
    """Whether a block of a file can be plain: no quote, no NUL, no CR outside CRLF, one pass.

    ``after_cr``: the previous block ended with CR (then this one must begin with LF). A CR
    ending this block is allowed here (the next block decides).
    """
    n = len(buf)
    if after_cr and (n == 0 or buf[0] != 10):
        return False
    if n == 0:
        return True
    # No early exit and no branch in the loop: the compiler vectorizes it (about 3x faster
    # than a loop that stops at the first offending byte; most files are plain).
    bad = False
    for i in range(n - 1):
        b = buf[i]
        bad |= (b == 34) | (b == 0) | ((b == 13) & (buf[i + 1] != 10))
    b = buf[n - 1]
    return not (bad | (b == 34) | (b == 0))
