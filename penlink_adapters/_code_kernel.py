"""numba kernels of the code columns: distinct values numbered, mapped choices combined.

Part of the typed conversion (:mod:`penlink_adapters._convert`): a code column (direction,
event type) holds a handful of distinct values; each row gets the number of its value
(:func:`few_distinct_kernel`, :func:`distinct_kernel`), and the tables the codes go through
are combined per row by :func:`choose_kernel` and :func:`fill_kernel`. The kernels read
polars' string views (:func:`~penlink_adapters._convert_kernel.string_views`).
"""

from __future__ import annotations

from typing import Any

import numba
import numpy as np

from penlink_adapters._convert_kernel import view_span

__all__ = [
    "byte_words",
    "choose_kernel",
    "distinct_kernel",
    "few_distinct_kernel",
    "fill_kernel",
]

_jit = numba.njit(cache=True, nogil=True)
_inline = numba.njit(cache=True, nogil=True, inline="always")


@_jit
def choose_kernel(out: Any, index: Any, some: Any, offset: int) -> None:
    """Where ``out`` is still negative and ``some[index]`` holds, ``out = index + offset``.

    One choice of :func:`penlink_adapters._convert._first_of`: ``index`` negative (or past
    ``some``) means no value there.
    """
    k = len(some)
    for i in range(len(out)):
        j = index[i]
        if out[i] < 0 and 0 <= j < k and some[j]:
            out[i] = j + offset


@_jit
def fill_kernel(out: Any, value: int) -> None:
    """``value`` wherever ``out`` is negative."""
    for i in range(len(out)):
        if out[i] < 0:
            out[i] = value


def byte_words(data: Any) -> Any:
    """The 8 bytes starting at each byte of ``data``, as an int64 array (a view, no copy).

    Element ``j`` is ``data[j:j+8]`` read little-endian: a long value is hashed and compared
    8 bytes a load (:func:`distinct_kernel`).
    """
    data = np.ascontiguousarray(data)
    return np.ndarray(shape=(max(len(data) - 7, 0),), dtype=np.int64, buffer=data, strides=(1,))


@_jit
def distinct_kernel(
    views: Any, words: Any, data: Any, valid: Any, longs: Any
) -> tuple[Any, Any, bool]:
    """Each value's index among the distinct values, where each is first, and ``ok``.

    Returns ``(index, first, ok)``: ``index[i]`` is ``-1`` for a null value, else the number
    of distinct values seen before value ``i``'s first occurrence; ``first[k]`` is the row
    where distinct value ``k`` first occurs. ``ok`` False when a value is held outside the
    first data buffer (see :func:`string_views`). A short value is compared by its 16 view
    bytes (a value with nonzero padding may then count twice: callers fold distinct values
    by their text), a long one 8 bytes at a time (``longs``: :func:`byte_words` of
    ``data``). Without JIT, call it under
    ``np.errstate(over="ignore")``: hashes wrap modulo 2**64 as compiled code does.
    """
    n = len(valid)
    size = 16
    slots = np.full(size, -1, dtype=np.int64)  # open addressing: a distinct value's number
    hashes = np.zeros(size, dtype=np.int64)  # of each distinct value, and its first row
    first = np.zeros(size, dtype=np.int64)
    index = np.full(n, -1, dtype=np.int32)
    quads = views.view(np.int64)
    count = 0
    for i in range(n):
        if not valid[i]:
            continue
        inline, start, width = view_span(words, len(data), i)
        if width < 0:
            return index, first[:count].copy(), False
        h = _view_hash(quads, longs, inline, i, start, width)
        at = h & (size - 1)
        while slots[at] >= 0:
            r = first[slots[at]]
            # A short value: both view words equal (no branch on the first one: rows of
            # distinct values alternate unpredictably).
            if (quads[2 * r] == quads[2 * i]) & (quads[2 * r + 1] == quads[2 * i + 1]):
                break
            if not inline and hashes[slots[at]] == h and _same_long(words, longs, i, r):
                break
            at = (at + 1) & (size - 1)
        if slots[at] >= 0:
            index[i] = slots[at]
            continue
        slots[at] = count
        hashes[count] = h
        first[count] = i
        index[i] = count
        count += 1
        if 2 * count > size:  # keep the table at most half full: grow and place again
            size *= 4
            slots = np.full(size, -1, dtype=np.int64)
            hashes = np.concatenate((hashes, np.zeros(size - len(hashes), dtype=np.int64)))
            first = np.concatenate((first, np.zeros(size - len(first), dtype=np.int64)))
            for k in range(count):
                at = hashes[k] & (size - 1)
                while slots[at] >= 0:
                    at = (at + 1) & (size - 1)
                slots[at] = k
    return index, first[:count].copy(), True


_FEW = 8
"""How many distinct values :func:`few_distinct_kernel` numbers (by a scan, not a hash)."""


@_jit
def few_distinct_kernel(
    views: Any, words: Any, data: Any, valid: Any, longs: Any
) -> tuple[Any, Any, int]:
    """:func:`distinct_kernel` of a column with few distinct values: ``(index, first, status)``.

    A code column holds a handful of values: a scan of their view words costs less than a
    hash and a probe. A short value is equal when both view words are; a long one when its
    first word (length and prefix) is and then its bytes. ``status``: 0 done, 1 more than
    ``_FEW`` distinct values (use :func:`distinct_kernel`), 2 a value is held outside the
    first data buffer.
    """
    n = len(valid)
    index = np.full(n, -1, dtype=np.int32)
    quads = views.view(np.int64)
    few = np.zeros((2, _FEW), dtype=np.int64)  # view words of the distinct values
    first = np.zeros(_FEW, dtype=np.int64)
    count = 0
    for i in range(n):
        if not valid[i]:
            continue
        inline, _, width = view_span(words, len(data), i)
        if width < 0:
            return index, first[:count].copy(), 2
        a, b = quads[2 * i], quads[2 * i + 1]
        hit = -1
        if inline:
            for q in range(count):  # at most one equal: no branch a value
                hit = q if (few[0, q] == a) & (few[1, q] == b) else hit
        else:  # the last value of the same first word is the likely one
            for q in range(count):
                hit = q if few[0, q] == a else hit
            if hit >= 0 and not _same_long(words, longs, i, first[hit]):
                hit = -1
                for q in range(count):
                    if few[0, q] == a and _same_long(words, longs, i, first[q]):
                        hit = q
                        break
        if hit < 0:
            if count == _FEW:
                return index, first[:count].copy(), 1
            few[0, count], few[1, count], first[count] = a, b, i
            hit = count
            count += 1
        index[i] = hit
    return index, first[:count].copy(), 0


@_inline
def _view_hash(quads: Any, longs: Any, inline: bool, i: int, start: int, width: int) -> int:
    """A hash of value ``i``: of its two view words when short, else of its length and bytes.

    A long value hashes its length, first 4 and last 8 bytes: values are compared anyway.
    """
    second = quads[2 * i + 1]
    if not inline:
        second = longs[start + width - 8]
    # Multiplications wrap (callers without JIT ignore numpy's overflow warning).
    h = quads[2 * i] * 0x5851F42D4C957F2D ^ second * 0x14057B7EF767814F
    h = h ^ (h >> 29)
    return int(h & 0xFFFFFFFFFFFF)


@_inline
def _same_long(words: Any, longs: Any, i: int, r: int) -> bool:
    """Whether long values ``i`` and ``r`` are the same bytes (8 at a time, without a branch).

    Loads at 0, 8, ... (up to 24 bytes: 0, 8 or less, last) and the last 8 bytes
    (overlapping): a long value has more than 12.
    """
    width = words[4 * i]
    if words[4 * r] != width:  # also keeps a short value's inline bytes from being read
        return False
    a, b = words[4 * i + 3], words[4 * r + 3]
    diff = longs[a + width - 8] ^ longs[b + width - 8]
    if width <= 24:  # three loads, however long: no loop to mispredict
        m = min(8, width - 8)
        return bool((diff | (longs[a] ^ longs[b]) | (longs[a + m] ^ longs[b + m])) == 0)
    for j in range(0, width - 8, 8):
        diff |= longs[a + j] ^ longs[b + j]
    return bool(diff == 0)
