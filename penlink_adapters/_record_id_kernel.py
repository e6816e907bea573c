"""The record-id kernel: each row's natural key written, hashed and hexed in one pass.

A row's key text (:func:`penlink_adapters._record_ids.content_key`: values joined by U+001F,
null as U+0000, ``raw:`` plus the raw value for a canonical identifier without one, integers
in decimal) is written into a small scratch buffer, hashed there with MurmurHash3 x64 128
(seed 0) and written as 32 lowercase hex digits (``h1`` then ``h2``, little-endian): no key
column, no widths pass, no separate hex pass. The scratch buffer is a ``uint64`` array read a
word at a time; a row whose key does not fit starts the pass again with a larger one. On a
little-endian machine it is also written a word at a time: text eight bytes per (unaligned)
word from a padded source, integers eight decimal digits per word, and the hex digits four
byte pairs per word; a big-endian machine writes byte by byte.

Columns come as a few flat arrays (no per-column Python objects in the row loop): the text
columns' bytes in one ``data`` array with one row of 64-bit ``offsets`` each, the integer
columns' values one row each, and validity one row per key column (and per fallback).
"""

from __future__ import annotations

import sys
from typing import Any, Final

import numba
import numpy as np

from penlink_adapters._kernels import _finish, _le64, _rotl
from penlink_adapters._memo_kernel import _wrapping

__all__ = ["record_id_kernel"]

_jit = numba.njit(cache=True, nogil=True)
_inline = numba.njit(cache=True, nogil=True, inline="always")

_LITTLE: Final = sys.byteorder == "little"
_C1: Final = np.uint64(0x87C37B91114253D5)
_C2: Final = np.uint64(0x4CF5AD432745937F)
_M5: Final = np.uint64(5)
_N1: Final = np.uint64(0x52DCE729)
_N2: Final = np.uint64(0x38495AB5)
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


@_inline
def _word(words: Any, scratch: Any, j: int) -> Any:
    """Little-endian 64-bit word ``j`` of the scratch buffer."""
    if _LITTLE:
        return words[j]
    return _le64(scratch, 8 * j, 8)


@_inline
def _murmur3_words(words: Any, scratch: Any, length: int) -> tuple[Any, Any]:
    """MurmurHash3 x64 128 of ``scratch[:length]``, reading whole words."""
    h1 = np.uint64(0)
    h2 = np.uint64(0)
    blocks = length // 16
    for b in range(blocks):
        k1 = _word(words, scratch, 2 * b) * _C1
        k2 = _word(words, scratch, 2 * b + 1) * _C2
        h1 ^= _rotl(k1, 31) * _C2
        h1 = _rotl(h1, 27) + h2
        h1 = h1 * _M5 + _N1
        h2 ^= _rotl(k2, 33) * _C1
        h2 = _rotl(h2, 31) + h1
        h2 = h2 * _M5 + _N2
    rest = length - 16 * blocks
    if rest > 8:
        k2 = _word(words, scratch, 2 * blocks + 1)
        k2 &= (np.uint64(1) << np.uint64(8 * (rest - 8))) - np.uint64(1)
        h2 ^= _rotl(k2 * _C2, 33) * _C1
    if rest > 0:
        k1 = _word(words, scratch, 2 * blocks)
        if rest < 8:
            k1 &= (np.uint64(1) << np.uint64(8 * rest)) - np.uint64(1)
        h1 ^= _rotl(k1 * _C1, 31) * _C2
    return _finish(h1, h2, length)


@_inline
def _put_int(words: Any, scratch: Any, at: int, v: Any) -> int:
    """Write ``v`` in decimal at ``at``; return the position after it."""
    if v < 0:
        m = np.uint64(-(v + 1)) + np.uint64(1)  # exact at the smallest int64 too
        scratch[at] = 45  # "-"
        at += 1
    else:
        m = np.uint64(v)
    if not _LITTLE:
        return _put_int_bytes(scratch, at, m)
    low = m % _E8
    high = m // _E8
    if high == 0:
        return _put_digits(words, at, low, _width8(low))
    middle = high % _E8
    top = high // _E8
    if top == 0:
        at = _put_digits(words, at, middle, _width8(middle))
    else:  # below 10**4: 20 digits at most
        at = _put_digits(words, at, top, _width8(top))
        at = _put_digits(words, at, middle, 8)
    return _put_digits(words, at, low, 8)


@_inline
def _width8(x: Any) -> int:
    """How many decimal digits ``x`` (below 10**8) has."""
    width = 1
    while width < 8 and x >= _POW10[width]:
        width += 1
    return width


@_inline
def _put_digits(words: Any, at: int, x: Any, width: int) -> int:
    """Write the last ``width`` of the eight decimal digits of ``x`` (below 10**8) at ``at``."""
    a = x // np.uint64(10000)
    b = x % np.uint64(10000)
    w = (
        _PAIRS16[np.int64(a // _E2)]
        | (_PAIRS16[np.int64(a % _E2)] << np.uint64(16))
        | (_PAIRS16[np.int64(b // _E2)] << np.uint64(32))
        | (_PAIRS16[np.int64(b % _E2)] << np.uint64(48))
    )
    _put_word(words, at, w >> np.uint64(8 * (8 - width)))
    return at + width


@_inline
def _put_int_bytes(scratch: Any, at: int, m: Any) -> int:
    """:func:`_put_int` of ``m`` byte by byte (big-endian machines)."""
    width = 1
    while width < 20 and m >= _POW10[width]:
        width += 1
    q = at + width
    while m >= np.uint64(100):  # two digits per division
        pair = np.int64(m % np.uint64(100))
        m //= np.uint64(100)
        q -= 2
        scratch[q] = _PAIRS[2 * pair]
        scratch[q + 1] = _PAIRS[2 * pair + 1]
    if m >= np.uint64(10):
        pair = np.int64(m)
        scratch[q - 2] = _PAIRS[2 * pair]
        scratch[q - 1] = _PAIRS[2 * pair + 1]
    else:
        scratch[q - 1] = np.uint8(48 + m)
    return at + width


@_inline
def _put_text(
    words: Any, scratch: Any, at: int, data: Any, data64: Any, start: int, stop: int
) -> int:
    """Copy ``data[start:stop]`` to ``scratch[at:]``; return the position after it.

    On a little-endian machine, eight bytes at a time: each (unaligned) source word is made of
    two aligned words of ``data64`` and written over two aligned words of the scratch buffer,
    keeping the bytes before ``at``. Up to 15 bytes past ``stop`` are read (the buffer is
    padded) and up to 15 past the copy are written (the scratch buffer's slack); what lies past
    the key is never hashed.
    """
    if not _LITTLE:
        for p in range(start, stop):
            scratch[at] = data[p]
            at += 1
        return at
    for p in range(start, stop, 8):
        q = p >> 3
        s = np.uint64(8 * (p & 7))
        w = data64[q]
        if s:
            w = (w >> s) | (data64[q + 1] << (np.uint64(64) - s))
        _put_word(words, at + p - start, w)
    return at + stop - start


@_inline
def _put_word(words: Any, at: int, w: Any) -> None:
    """Write the eight bytes of ``w`` at byte ``at`` of the scratch words.

    The bytes before ``at`` are kept; the rest of the next word is overwritten.
    """
    q = at >> 3
    s = np.uint64(8 * (at & 7))
    if s:
        low = (np.uint64(1) << s) - np.uint64(1)
        words[q] = (words[q] & low) | (w << s)
        words[q + 1] = w >> (np.uint64(64) - s)
    else:
        words[q] = w


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
    ``data`` is 8-byte aligned, its length a multiple of 8, with at least 16 bytes past the
    last text byte (words are read whole).
    """
    n = valid.shape[1]
    out = np.empty(32 * n, dtype=np.uint8)
    size = 64
    i = 0
    while i < n:  # a row whose key does not fit stops the pass: again with twice the room
        words = np.zeros(size // 8, dtype=np.uint64)
        i = _rows(kinds, index, fallback, offsets, data, values, valid, words, out, i)
        size *= 2
    return out


@_jit
def _rows(
    kinds: Any,
    index: Any,
    fallback: Any,
    offsets: Any,
    data: Any,
    values: Any,
    valid: Any,
    words: Any,
    out: Any,
    first: int,
) -> int:
    """Ids of rows ``first`` on; returns the first row whose key does not fit (or ``n``)."""
    k = len(kinds)
    n: int = valid.shape[1]
    scratch = words.view(np.uint8)
    data64 = data.view(np.uint64)
    out64 = out.view(np.uint64)
    room = len(scratch) - _SLACK
    for i in range(first, n):
        at = 0
        for c in range(k):
            if c > 0:
                scratch[at] = 31
                at += 1
            if valid[c, i]:
                if kinds[c] == _TEXT:
                    start = offsets[index[c], i]
                    stop = offsets[index[c], i + 1]
                    if at + stop - start > room:
                        return i
                    at = _put_text(words, scratch, at, data, data64, start, stop)
                else:
                    if at + 21 > room:
                        return i
                    at = _put_int(words, scratch, at, values[index[c], i])
            elif fallback[c] >= 0 and valid[k + c, i]:
                start = offsets[fallback[c], i]
                stop = offsets[fallback[c], i + 1]
                if at + 4 + stop - start > room:
                    return i
                scratch[at] = 114  # "raw:"
                scratch[at + 1] = 97
                scratch[at + 2] = 119
                scratch[at + 3] = 58
                at = _put_text(words, scratch, at + 4, data, data64, start, stop)
            else:
                if at + 1 > room:
                    return i
                scratch[at] = 0
                at += 1
        h1, h2 = _murmur3_words(words, scratch, at)
        _put_hex(out, out64, i, h1, h2)
    return n


@_inline
def _put_hex(out: Any, out64: Any, i: int, h1: Any, h2: Any) -> None:
    """Row ``i``'s 32 hex digits (``h1`` then ``h2``, bytes little-endian) into ``out``."""
    if not _LITTLE:
        pos = 32 * i
        for word in (h1, h2):
            for j in range(8):
                byte = np.int64((word >> np.uint64(8 * j)) & _FF)
                out[pos] = _HEX_PAIRS[2 * byte]
                out[pos + 1] = _HEX_PAIRS[2 * byte + 1]
                pos += 2
        return
    at = 4 * i
    for word in (h1, h2):
        for half in range(2):
            digits = np.uint64(0)
            for j in range(4):
                byte = (word >> np.uint64(32 * half + 8 * j)) & _FF
                digits |= _HEX16[np.int64(byte)] << np.uint64(16 * j)
            out64[at] = digits
            at += 1
