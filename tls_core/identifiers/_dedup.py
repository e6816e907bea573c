"""numba kernels: the distinct values of an Arrow string array, each row's code, and back.

Cache-conscious hash grouping in three passes over the raw buffers (``offsets``, ``data``,
the latter also read as whole 64-bit words):

1. each thread hashes its half of the rows and counts them per hash partition (the top
   :data:`_PART_BITS` bits of the hash), keeping only each row's partition (one byte);
2. each thread scatters its rows to their partitions as one 24-byte key per row: the first
   16 bytes of the value, and its length beside its row number, so a partition is read back
   as one sequential stream (the hash is computed again from the key, or for values over 16
   bytes from the value);
3. each partition is deduplicated with a small open-addressing table that stays in cache
   (partitions run on all cores), and the per-partition codes are made global.

Two values share a code only if they agree on hash, length and first 16 bytes, and values
longer than 16 bytes are then compared byte by byte: no two distinct values ever merge.
Scratch memory is about 25 bytes a row, allocated by numpy (huge pages): on this kind of
virtual machine, first touching fresh memory costs as much as the hashing.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Final

import numba
import numpy as np

__all__ = ["SERIAL_BELOW", "dedup_kernel", "expand_kernel", "kernel_threads"]

SERIAL_BELOW: Final = 1 << 20
"""Inputs of fewer rows run the ``parallel`` kernels on the calling thread alone.

Below this size a parallel region costs more than it saves: measured on the 2-core VM with
other work running, ``normalize`` of 8 values took about 125 ms with two numba threads (the
OpenMP regions wait for the second thread) against 1 ms with one, and 300 k values 248 ms
against 152 ms. The carrier-file read normalizes each chunk's new values (a few thousand), so
every call there is small.
"""

_PART_BITS: Final = 8
_ROW_BITS: Final = 40
"""Bits of a key's last word holding the row number (the length sits above them)."""

_jit = numba.njit(cache=True, nogil=True)
_inline = numba.njit(cache=True, nogil=True, inline="always")
_INTERPRETED: Final = bool(getattr(numba.config, "DISABLE_JIT", False))


@contextmanager
def kernel_threads(rows: int) -> Iterator[None]:
    """Run the kernels of the block on one numba thread when ``rows`` < :data:`SERIAL_BELOW`.

    ``numba.set_num_threads`` is per calling thread, so other threads are not affected; the
    previous count is restored on exit. The results do not depend on the thread count.
    """
    if rows >= SERIAL_BELOW or _INTERPRETED:
        yield
        return
    before = numba.get_num_threads()
    numba.set_num_threads(1)
    try:
        yield
    finally:
        numba.set_num_threads(before)


def dedup_kernel(offsets: Any, data: Any, valid: Any) -> tuple[Any, Any]:
    """Return (codes, first): ``codes[i]`` indexes the distinct value of row ``i``.

    ``first[k]`` is a row holding distinct value ``k``; all null rows share one code whose
    ``first`` entry is ``-1``. Codes are int32, so at most 2**31 - 1 distinct values.

    The large scratch arrays are allocated here by numpy, which asks the kernel for huge pages:
    allocated inside the kernels they would cost a page fault per 4 KiB.
    """
    n = valid.shape[0]
    if n >= 1 << _ROW_BITS:
        raise ValueError(f"dedup_kernel takes at most 2**{_ROW_BITS} rows, not {n}")
    chunks = numba.get_num_threads()
    words = _word_view(data)
    part_of = np.empty(n, dtype=np.uint8)
    starts, pos = _layout(_count_parts(offsets, data, words, valid, part_of, chunks))
    keys = np.empty((starts[-1], 3), dtype=np.uint64)
    _scatter(offsets, data, words, valid, part_of, pos, keys, chunks)
    del part_of
    firsts = np.empty(keys.shape[0], dtype=np.int64)  # only the first rows are ever written
    counts = _dedup_groups(offsets, data, words, keys, starts, firsts)
    total = int(counts.sum())
    codes = np.full(n, total, dtype=np.int32)  # nulls: one code after every value
    first = np.empty(total + (1 if keys.shape[0] < n else 0), dtype=np.int64)
    _globalize(counts, firsts, keys, starts, codes, first)
    if keys.shape[0] < n:
        first[total] = -1
    return codes, first


@numba.njit(cache=True, nogil=True, parallel=True)
def _count_parts(offsets: Any, data: Any, words: Any, valid: Any, part_of: Any, chunks: int) -> Any:
    """Each valid row's partition into ``part_of``; row counts per (thread chunk, partition)."""
    parts = 1 << _PART_BITS
    shift = np.uint64(64 - _PART_BITS)
    n = valid.shape[0]
    step = (n + chunks - 1) // chunks
    counts = np.zeros((chunks, parts), dtype=np.int64)
    for c in numba.prange(chunks):
        for i in range(c * step, min(n, (c + 1) * step)):
            if valid[i]:
                part = _hash(data, words, offsets[i], offsets[i + 1]) >> shift
                part_of[i] = part
                counts[c, np.int64(part)] += 1
    return counts


@numba.njit(cache=True, nogil=True, parallel=True)
def _scatter(
    offsets: Any, data: Any, words: Any, valid: Any, part_of: Any, pos: Any, keys: Any, chunks: int
) -> None:
    """Rows grouped by the top bits of their hash (stable), one key of three words per row.

    The hash is not kept: the grouping pass computes it again from the key (values of at most
    16 bytes) or from the value (longer ones), cheaper than 8 bytes a row written and read back.
    """
    n = valid.shape[0]
    step = (n + chunks - 1) // chunks
    for c in numba.prange(chunks):
        for i in range(c * step, min(n, (c + 1) * step)):
            if valid[i]:
                part = np.int64(part_of[i])
                j = pos[c, part]
                pos[c, part] += 1
                s, e = offsets[i], offsets[i + 1]
                w0, w1 = _leading_words(data, words, s, e)
                keys[j, 0], keys[j, 1] = w0, w1
                keys[j, 2] = (np.uint64(e - s + 1) << np.uint64(_ROW_BITS)) | np.uint64(i)


@_jit
def _layout(counts: Any) -> tuple[Any, Any]:
    """Partition starts, and each thread's first write position in each partition."""
    chunks, parts = counts.shape
    starts = np.zeros(parts + 1, dtype=np.int64)
    pos = np.zeros((chunks, parts), dtype=np.int64)
    total = 0
    for p in range(parts):
        starts[p] = total
        for c in range(chunks):
            pos[c, p] = total
            total += counts[c, p]
    starts[parts] = total
    return starts, pos


def _word_view(data: Any) -> Any:
    """``data`` as little-endian 64-bit words (a view when aligned, else an aligned copy)."""
    usable = data.shape[0] // 8 * 8
    if data.ctypes.data % 8 == 0:
        return data[:usable].view(np.uint64)
    return np.frombuffer(data[:usable].tobytes(), dtype=np.uint64)


@_inline
def _leading_words(data: Any, words: Any, s: int, e: int) -> tuple[Any, Any]:
    """:func:`_words`, from (at most three) whole words instead of byte by byte."""
    i = s >> 3
    if i + 3 > words.shape[0]:  # the last bytes of the buffer
        return _words(data, s, e)
    off = np.uint64((s & 7) * 8)
    a, b, c = words[i], words[i + 1], words[i + 2]
    if off == 0:
        w0, w1 = a, b
    else:
        w0 = (a >> off) | (b << (np.uint64(64) - off))
        w1 = (b >> off) | (c << (np.uint64(64) - off))
    n = e - s
    if n < 8:
        return w0 & ((np.uint64(1) << np.uint64(8 * n)) - np.uint64(1)), np.uint64(0)
    if n < 16:
        return w0, w1 & ((np.uint64(1) << np.uint64(8 * (n - 8))) - np.uint64(1))
    return w0, w1


@_inline
def _words(data: Any, s: int, e: int) -> tuple[Any, Any]:
    """The first 16 bytes of data[s:e], packed little-endian in two words (zero-padded)."""
    w0 = np.uint64(0)
    w1 = np.uint64(0)
    for p in range(min(e - s, 8)):
        w0 |= np.uint64(data[s + p]) << np.uint64(8 * p)
    for p in range(8, min(e - s, 16)):
        w1 |= np.uint64(data[s + p]) << np.uint64(8 * (p - 8))
    return w0, w1


@numba.njit(cache=True, nogil=True, parallel=True)
def _dedup_groups(offsets: Any, data: Any, words: Any, keys: Any, starts: Any, firsts: Any) -> Any:
    """Deduplicate each partition: ``firsts`` rows; counts returned.

    A table slot holds a key's hash and leading words, and its length beside its local code
    (32 bytes, no side array), so the table of a partition stays in the core's cache. Once a
    key is placed, its first word is no longer needed: its local code is written there.
    """
    parts = starts.shape[0] - 1
    counts = np.zeros(parts, dtype=np.int64)
    for p in numba.prange(parts):
        a, b = starts[p], starts[p + 1]
        table = np.zeros((1024, 4), dtype=np.uint64)
        count = 0
        for j in range(a, b):
            h = _key_hash(offsets, data, words, keys[j, 0], keys[j, 1], keys[j, 2])
            slot, code = _find(offsets, data, keys, j, h, table, firsts[a:])
            if code < 0:
                code = count
                firsts[a + count] = np.int64(keys[j, 2] & _ROW_MASK)
                count += 1
                table[slot, 0], table[slot, 1], table[slot, 2] = h, keys[j, 0], keys[j, 1]
                table[slot, 3] = (keys[j, 2] & ~_ROW_MASK) | np.uint64(code)
                if 2 * count > table.shape[0]:
                    table = _grow(table, 2 * table.shape[0])
            keys[j, 0] = np.uint64(code)
        counts[p] = count
    return counts


_ROW_MASK: Final = np.uint64((1 << _ROW_BITS) - 1)
_LEN_SHIFT: Final = np.uint64(_ROW_BITS)


@_inline
def _find(
    offsets: Any, data: Any, keys: Any, j: int, h: Any, table: Any, firsts: Any
) -> tuple[Any, Any]:
    """(slot, code) of key ``j`` (hash ``h``) in ``table``; code -1 and a free slot if new."""
    cap = table.shape[0]
    w0, w1, last = keys[j, 0], keys[j, 1], keys[j, 2]
    length = last >> _LEN_SHIFT
    slot = _slot(h, cap)
    while table[slot, 3] != 0:
        other = table[slot, 3]
        if (
            table[slot, 0] == h
            and table[slot, 1] == w0
            and table[slot, 2] == w1
            and other >> _LEN_SHIFT == length
        ):
            code = np.int64(other & _ROW_MASK)
            if length <= 17:
                return slot, code
            i, r = np.int64(last & _ROW_MASK), firsts[code]
            if _same_row(data, offsets[i], offsets[i + 1], offsets[r], offsets[r + 1]):
                return slot, code
        slot = (slot + np.uint64(1)) & np.uint64(cap - 1)
    return slot, -1


@_jit
def _grow(old: Any, cap: int) -> Any:
    table = np.zeros((cap, 4), dtype=np.uint64)
    for j in range(old.shape[0]):
        if old[j, 3] == 0:
            continue
        slot = _slot(old[j, 0], cap)
        while table[slot, 3] != 0:
            slot = (slot + np.uint64(1)) & np.uint64(cap - 1)
        for w in range(4):
            table[slot, w] = old[j, w]
    return table


@numba.njit(cache=True, nogil=True, parallel=True)
def _globalize(counts: Any, firsts: Any, keys: Any, starts: Any, codes: Any, first: Any) -> None:
    """Turn per-partition codes (in each key's first word) into global ones in ``codes``."""
    parts = counts.shape[0]
    base = np.zeros(parts + 1, dtype=np.int64)
    for p in range(parts):
        base[p + 1] = base[p] + counts[p]
    for p in numba.prange(parts):
        a = starts[p]
        for c in range(counts[p]):
            first[base[p] + c] = firsts[a + c]
        for j in range(a, starts[p + 1]):
            codes[np.int64(keys[j, 2] & _ROW_MASK)] = base[p] + np.int64(keys[j, 0])


def expand_kernel(
    codes: Any, canon_codes: Any, canon_null: Any, kinds: Any, statuses: Any, reasons: Any
) -> tuple[Any, Any, Any, Any, Any, Any, Any]:
    """Map per-distinct answers to every row in one pass.

    Returns the dictionary indices of canonical (int32), kind, status and reason (int8), and
    Arrow validity bitmaps (LSB first) of canonical, kind and reason: a row's canonical value
    is null when its distinct canonical is null, its kind and reason when their code is 0.
    Each distinct value's answers are first packed in one word, so a row costs one random
    read. The outputs are allocated by numpy (huge pages), then filled by all cores.
    """
    n = codes.shape[0]
    nbytes = (n + 7) // 8
    outputs = (
        np.empty(n, dtype=np.int32),
        np.empty(n, dtype=np.int8),
        np.empty(n, dtype=np.int8),
        np.empty(n, dtype=np.int8),
        np.empty(nbytes, dtype=np.uint8),
        np.empty(nbytes, dtype=np.uint8),
        np.empty(nbytes, dtype=np.uint8),
    )
    packed = _pack_answers(canon_codes, canon_null, kinds, statuses, reasons)
    _expand_rows(codes, packed, *outputs)
    return outputs


@numba.njit(cache=True, nogil=True, parallel=True)
def _expand_rows(
    codes: Any,
    packed: Any,
    canon: Any,
    kind: Any,
    status: Any,
    reason: Any,
    canon_valid: Any,
    kind_valid: Any,
    reason_valid: Any,
) -> None:
    """Fill the outputs of :func:`expand_kernel`; threads own whole bitmap bytes (8 rows)."""
    n = codes.shape[0]
    nbytes = (n + 7) // 8
    for byte in numba.prange(nbytes):
        cv, kv, rv = 0, 0, 0
        for bit in range(min(8, n - byte * 8)):
            i = byte * 8 + bit
            x = packed[codes[i]]
            canon[i] = np.int32(x & 0x7FFFFFFF)
            k, st, rs = (x >> 32) & 0xFF, (x >> 40) & 0xFF, (x >> 48) & 0xFF
            kind[i], status[i], reason[i] = k, st, rs
            cv |= ((x >> 56) & 1) << bit
            if k != 0:
                kv |= 1 << bit
            if rs != 0:
                rv |= 1 << bit
        canon_valid[byte], kind_valid[byte], reason_valid[byte] = cv, kv, rv


@numba.njit(cache=True, nogil=True, parallel=True)
def _pack_answers(
    canon_codes: Any, canon_null: Any, kinds: Any, statuses: Any, reasons: Any
) -> Any:
    """One int64 per distinct value: canonical code, kind, status, reason, canonical valid."""
    m = canon_codes.shape[0]
    packed = np.empty(m, dtype=np.int64)
    for c in numba.prange(m):
        cc = canon_codes[c]
        packed[c] = (
            np.int64(cc)
            | (np.int64(kinds[c]) << 32)
            | (np.int64(statuses[c]) << 40)
            | (np.int64(reasons[c]) << 48)
            | (np.int64(0 if canon_null[cc] else 1) << 56)
        )
    return packed


@_inline
def _same_row(data: Any, a0: int, a1: int, b0: int, b1: int) -> bool:
    if a1 - a0 != b1 - b0:
        return False
    for j in range(a1 - a0):
        if data[a0 + j] != data[b0 + j]:
            return False
    return True


@_inline
def _key_hash(offsets: Any, data: Any, words: Any, w0: Any, w1: Any, last: Any) -> Any:
    """The hash of a key's value: from the key alone when it holds the whole value."""
    length = np.int64(last >> _LEN_SHIFT) - 1
    if length <= 16:
        return _short_hash(w0, w1, length)
    i = np.int64(last & _ROW_MASK)
    return _hash(data, words, offsets[i], offsets[i + 1])


@_inline
def _hash_compiled(data: Any, words: Any, start: int, end: int) -> Any:
    """Hash of data[start:end]: leading words and length, FNV-1a over the rest, murmur3 mix.

    The finalizer carries every input bit to the top bits that pick a partition.
    """
    w0, w1 = _leading_words(data, words, start, end)
    h = (w0 * np.uint64(0x9E3779B97F4A7C15)) ^ (w1 * np.uint64(0xC2B2AE3D27D4EB4F))
    h ^= np.uint64(end - start) * np.uint64(0x165667B19E3779F9)
    for j in range(start + 16, end):
        h ^= np.uint64(data[j])
        h *= np.uint64(1099511628211)
    h ^= h >> np.uint64(33)
    h *= np.uint64(0xFF51AFD7ED558CCD)
    h ^= h >> np.uint64(33)
    h *= np.uint64(0xC4CEB9FE1A85EC53)
    return h ^ (h >> np.uint64(33))


@_inline
def _short_hash_compiled(w0: Any, w1: Any, length: Any) -> Any:
    """:func:`_hash_compiled` of a value of at most 16 bytes, from its two words."""
    h = (w0 * np.uint64(0x9E3779B97F4A7C15)) ^ (w1 * np.uint64(0xC2B2AE3D27D4EB4F))
    h ^= np.uint64(length) * np.uint64(0x165667B19E3779F9)
    h ^= h >> np.uint64(33)
    h *= np.uint64(0xFF51AFD7ED558CCD)
    h ^= h >> np.uint64(33)
    h *= np.uint64(0xC4CEB9FE1A85EC53)
    return h ^ (h >> np.uint64(33))


def _hash_interpreted(data: Any, words: Any, start: int, end: int) -> Any:
    """The same hash for NUMBA_DISABLE_JIT=1, on Python ints (no wrap-around warnings)."""
    w0, w1 = (int(w) for w in _leading_words(data, words, start, end))
    h = _mix_interpreted(w0, w1, int(end - start))
    for j in range(start + 16, end):
        h = ((h ^ int(data[j])) * 1099511628211) & _M64
    return _finish_interpreted(h)


def _short_hash_interpreted(w0: Any, w1: Any, length: Any) -> Any:
    """The same short hash for NUMBA_DISABLE_JIT=1."""
    return _finish_interpreted(_mix_interpreted(int(w0), int(w1), int(length)))


_M64: Final = 0xFFFFFFFFFFFFFFFF


def _mix_interpreted(w0: int, w1: int, length: int) -> int:
    h = ((w0 * 0x9E3779B97F4A7C15) & _M64) ^ ((w1 * 0xC2B2AE3D27D4EB4F) & _M64)
    return h ^ ((length * 0x165667B19E3779F9) & _M64)


def _finish_interpreted(h: int) -> Any:
    h = ((h ^ (h >> 33)) * 0xFF51AFD7ED558CCD) & _M64
    h = ((h ^ (h >> 33)) * 0xC4CEB9FE1A85EC53) & _M64
    return np.uint64(h ^ (h >> 33))


@_inline
def _slot_compiled(h: Any, cap: int) -> Any:
    """Slot of a hash in a table of ``cap`` (a power of two) slots: Fibonacci hashing."""
    return ((h * np.uint64(0x9E3779B97F4A7C15)) >> np.uint64(40)) & np.uint64(cap - 1)


def _slot_interpreted(h: Any, cap: int) -> Any:
    """The same slot for NUMBA_DISABLE_JIT=1, on Python ints (no wrap-around warnings)."""
    product = (int(h) * 0x9E3779B97F4A7C15) & 0xFFFFFFFFFFFFFFFF
    return np.uint64((product >> 40) & (cap - 1))


_hash = _hash_interpreted if _INTERPRETED else _hash_compiled
_short_hash = _short_hash_interpreted if _INTERPRETED else _short_hash_compiled
_slot = _slot_interpreted if _INTERPRETED else _slot_compiled
