"""numba kernels of the typed conversion: key lookups and durations straight from the bytes.

The lookup serves the service numbers (digit-only terminating numbers); the code columns'
kernels are in :mod:`penlink_adapters._code_kernel`. The lookup and duration kernels decide
only what they can decide exactly, and say so per row (a lookup) or per
chunk (a duration): the callers (:mod:`penlink_adapters._convert`, ``_values``) take the
usual polars path for the rest. The byte views come from :func:`string_buffers`.
"""

from __future__ import annotations

from typing import Any

import numba
import numpy as np
import polars as pl
import pyarrow as pa

from penlink_adapters._block_kernel import _load64

__all__ = [
    "NULL",
    "UNDECIDED",
    "array_views",
    "duration_kernel",
    "duration_view_kernel",
    "empty_count",
    "lookup_kernel",
    "lookup_view_kernel",
    "one_value_kernel",
    "string_buffers",
    "string_views",
    "view_span",
]

NULL = -2
"""Lookup index of a null value."""
UNDECIDED = -3
"""Lookup index of a value the kernel leaves to the caller (see :func:`lookup_kernel`)."""

_jit = numba.njit(cache=True, nogil=True)
_inline = numba.njit(cache=True, nogil=True, inline="always")


def string_buffers(values: pl.Series) -> tuple[Any, Any, Any]:
    """``(offsets, data, valid)`` of a string column: value ``i`` is ``data[o[i]:o[i+1]]``."""
    array = values.to_arrow(compat_level=pl.CompatLevel.oldest())
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    if array.type != pa.large_string():
        array = array.cast(pa.large_string())
    n = len(array)
    start = array.offset
    offsets = np.frombuffer(array.buffers()[1], dtype=np.int64)[start : start + n + 1]
    data_buffer = array.buffers()[2]
    data = np.frombuffer(data_buffer, dtype=np.uint8) if data_buffer else np.zeros(0, np.uint8)
    valid = array.is_valid().to_numpy(zero_copy_only=False)
    return offsets, data, valid


@_inline
def _key_slots(key_offsets: Any, key_data: Any) -> Any:
    """The lookup's open-addressing table of the (ASCII) keys: a key in its first free slot."""
    k = len(key_offsets) - 1
    size = 8
    while size < 4 * k:
        size *= 2
    slots = np.full(size, -1, dtype=np.int64)
    for q in range(k):
        width = key_offsets[q + 1] - key_offsets[q]
        h = _hash(key_data, key_offsets[q], width, False) & (size - 1)
        while slots[h] >= 0:
            h = (h + 1) & (size - 1)
        slots[h] = q
    return slots


@_inline
def _lookup_one(
    buf: Any, start: int, width: int, slots: Any, key_offsets: Any, key_data: Any, digits: bool
) -> int:
    """The index of one value among the keys (see :func:`lookup_kernel`)."""
    size = len(slots)
    h = _hash(buf, start, width, digits)
    if h < 0:
        return UNDECIDED
    h &= size - 1
    while slots[h] >= 0:
        if _equal(buf, start, width, key_data, key_offsets, slots[h], digits):
            return int(slots[h])
        h = (h + 1) & (size - 1)
    return -1


@_jit
def lookup_kernel(
    offsets: Any, data: Any, valid: Any, key_offsets: Any, key_data: Any, digits: bool
) -> Any:
    """The index of each value among the keys, ``-1`` when none, :data:`NULL`, :data:`UNDECIDED`.

    ``digits`` False: values are compared ASCII-lowercased to the (lowercase) keys, and a value
    with a non-ASCII byte is :data:`UNDECIDED` (its Unicode lowercase may differ). ``digits``
    True: values are compared as they are, and a value with a byte other than ``0-9`` is
    :data:`UNDECIDED`. The first equal key wins.
    """
    n = len(offsets) - 1
    slots = _key_slots(key_offsets, key_data)
    out = np.full(n, -1, dtype=np.int32)
    for i in range(n):
        if not valid[i]:
            out[i] = NULL
            continue
        start = offsets[i]
        width = offsets[i + 1] - start
        out[i] = _lookup_one(data, start, width, slots, key_offsets, key_data, digits)
    return out


@_jit
def lookup_view_kernel(
    views: Any,
    words: Any,
    data: Any,
    valid: Any,
    key_offsets: Any,
    key_data: Any,
    digits: bool,
) -> tuple[Any, bool]:
    """:func:`lookup_kernel` over string views (:func:`string_views`), and ``ok``.

    ``ok`` False: a value is held outside the first data buffer (use :func:`lookup_kernel`).
    """
    n = len(valid)
    slots = _key_slots(key_offsets, key_data)
    short = _short_keys(key_offsets, key_data) if digits else np.zeros((0, 4), np.int64)
    quads = views.view(np.int64)
    out = np.full(n, -1, dtype=np.int32)
    for i in range(n):
        if not valid[i]:
            out[i] = NULL
            continue
        inline, start, width = view_span(words, len(data), i)
        if width < 0:
            return out, False
        if inline and digits and len(short) <= 16:
            out[i] = _short_digits_lookup(quads, i, width, short)
        elif inline:
            out[i] = _lookup_one(views, start, width, slots, key_offsets, key_data, digits)
        else:
            out[i] = _lookup_one(data, start, width, slots, key_offsets, key_data, digits)
    return out, True


@_inline
def _short_keys(key_offsets: Any, key_data: Any) -> Any:
    """Per key of at most 12 ASCII digits (in order): width, bytes as two words, key index.

    The words are those of a short value's view (:func:`_short_digits_lookup`): bytes 0-3
    and bytes 4-11, little-endian. Longer keys and keys with another byte match no short
    digit value and are left out.
    """
    k = len(key_offsets) - 1
    out = np.zeros((k, 4), dtype=np.int64)
    count = 0
    for q in range(k):
        ks, width = key_offsets[q], key_offsets[q + 1] - key_offsets[q]
        if width > 12:
            continue
        lo, hi, ok = 0, 0, True
        for j in range(width):
            b = int(key_data[ks + j])
            ok &= 48 <= b <= 57
            if j < 4:
                lo |= b << (8 * j)
            else:
                hi |= b << (8 * (j - 4))
        if ok:
            out[count, 0], out[count, 1], out[count, 2], out[count, 3] = width, lo, hi, q
            count += 1
    return out[:count]


@_inline
def _digits_word(x: int, nbytes: int) -> bool:
    """Whether the low ``nbytes`` (0-4) bytes of ``x`` are all ASCII digits (SWAR, no branch)."""
    mask = (1 << (8 * nbytes)) - 1
    y = (x ^ 0x30303030) & mask  # a digit byte becomes 0-9
    return (((y + 0x76767676) | y) & 0x80808080 & mask) == 0  # a byte over 9 sets its bit 7


@_inline
def _short_digits_lookup(quads: Any, i: int, width: int, short: Any) -> int:
    """:func:`_lookup_one` (``digits``) of a value held in its view (at most 12 bytes).

    Its bytes are read as two words: all digits or :data:`UNDECIDED`, then the first key
    of ``short`` (:func:`_short_keys`) of the same width and words, else ``-1``.
    """
    width = int(width)
    lo = (quads[2 * i] >> 32) & 0xFFFFFFFF
    hi = quads[2 * i + 1]
    n_hi = max(width - 4, 0)
    lo &= (1 << (8 * min(width, 4))) - 1
    if n_hi < 8:
        hi &= (1 << (8 * n_hi)) - 1
    hi_lo, hi_hi = hi & 0xFFFFFFFF, (hi >> 32) & 0xFFFFFFFF
    ok = _digits_word(lo, min(width, 4)) & _digits_word(hi_lo, min(n_hi, 4))
    if not (ok & _digits_word(hi_hi, max(n_hi - 4, 0))):
        return UNDECIDED
    for q in range(len(short)):
        if (short[q, 0] == width) & (short[q, 1] == lo) & (short[q, 2] == hi):
            return int(short[q, 3])
    return -1


def string_views(values: pl.Series) -> tuple[Any, Any, Any, Any] | None:
    """``(views, words, data, valid)`` of a string column as polars holds it, without a copy.

    Arrow string views: 16 bytes a value, ``views`` as bytes and ``words`` as int32: the
    length, then the bytes themselves when at most 12, else a 4-byte prefix, the data buffer
    and the offset there. ``data`` is the first data buffer (kernels decline a value held in
    another one). None when polars does not hand out views.
    """
    return array_views(values.to_arrow(compat_level=pl.CompatLevel.newest()))


def array_views(array: pa.Array | pa.ChunkedArray) -> tuple[Any, Any, Any, Any] | None:
    """:func:`string_views` of an Arrow array (None unless one chunk of string views)."""
    if isinstance(array, pa.ChunkedArray):
        if array.num_chunks != 1:
            return None
        array = array.chunk(0)
    if array.type != pa.string_view():
        return None
    buffers = array.buffers()
    n, start = len(array), array.offset
    views = np.frombuffer(buffers[1], dtype=np.uint8)[16 * start : 16 * (start + n)]
    data = np.zeros(0, np.uint8)
    if len(buffers) > 2 and buffers[2] is not None:
        data = np.frombuffer(buffers[2], dtype=np.uint8)
    valid = np.ones(n, dtype=np.bool_)
    if array.null_count:
        valid = array.is_valid().to_numpy(zero_copy_only=False)
    return views, views.view(np.int32), data, valid


@_jit
def empty_count(words: Any, valid: Any) -> int:
    """How many values of a view array (``words`` of :func:`string_views`) are empty, not null."""
    count = 0
    for i in range(len(valid)):
        count += valid[i] & (words[4 * i] == 0)  # no branch a value
    return count


@_inline
def view_span(words: Any, data_size: int, i: int) -> tuple[bool, int, int]:
    """Where value ``i`` of a view array is: ``(inline, start, width)``; width -1: elsewhere.

    ``inline``: the bytes are in the views themselves (``views[start:start+width]``), else in
    the first data buffer (``data[start:start+width]``).
    """
    width = words[4 * i]
    if width <= 12:
        return True, 16 * i + 4, width
    start = words[4 * i + 3]
    if words[4 * i + 2] != 0 or start < 0 or start + width > data_size:
        return False, 0, -1
    return False, start, width


@_inline
def _hash(data: Any, start: int, width: int, digits: bool) -> int:
    """A hash of the bytes (ASCII-lowercased unless ``digits``), ``-1`` for an undecided value.

    Undecided: a byte other than ``0-9`` when ``digits``, a non-ASCII byte otherwise.
    """
    h = 7
    for j in range(width):
        b = int(data[start + j])
        if b >= 128 or (digits and (b < 48 or b > 57)):
            return -1
        if not digits and 65 <= b <= 90:
            b += 32
        h = (h * 31 + b) & 0xFFFFFFFFFFFF
    return h


@_inline
def _equal(
    data: Any, start: int, width: int, key_data: Any, key_offsets: Any, q: int, digits: bool
) -> bool:
    """Whether ``data[start:start+width]`` (ASCII-lowercased unless ``digits``) is key ``q``."""
    ks = key_offsets[q]
    if key_offsets[q + 1] - ks != width:
        return False
    for j in range(width):
        b = data[start + j]
        if not digits and 65 <= b <= 90:
            b += 32
        if b != key_data[ks + j]:
            return False
    return True


@_inline
def _number(data: Any, start: int, stop: int) -> int:
    """The ASCII digits ``data[start:stop]`` as an integer, ``-1`` when empty or not digits."""
    if stop <= start:
        return -1
    value = 0
    for j in range(start, stop):
        b = int(data[j]) - 48
        if b < 0 or b > 9:
            return -1
        value = value * 10 + b
    return value


@_inline
def _clock_part(data: Any, start: int, stop: int) -> int:
    r"""A minutes or seconds part (``[0-5]?\d``): its value, ``-1`` when it is not one."""
    width = stop - start
    if width == 2 and data[start] > 53:  # the tens digit is 0-5
        return -1
    return _number(data, start, stop) if 1 <= width <= 2 else -1


@_inline
def _seconds(data: Any, start: int, stop: int) -> int:
    r"""``^\d+(?:\.0+)?$``: the whole seconds, ``-1`` when the value is not of that form."""
    dot = stop
    for j in range(start, stop):
        if data[j] == 46:
            dot = j
            break
    if dot < stop:
        if dot + 1 == stop:
            return -1
        for j in range(dot + 1, stop):
            if data[j] != 48:
                return -1
    return _number(data, start, dot)


@_inline
def _clock(data: Any, start: int, stop: int, parts: int) -> int:
    r"""``^(\d+):([0-5]?\d)$`` (``parts`` 2) or ``^(\d+):([0-5]?\d):([0-5]?\d)$`` (3)."""
    first = second = stop
    found = 0
    for j in range(start, stop):
        if data[j] == 58:
            if found == parts - 1:
                return -1
            if found == 0:
                first = j
            else:
                second = j
            found += 1
    if found != parts - 1:
        return -1
    head = _number(data, start, first)
    if head < 0:
        return -1
    if parts == 2:
        ss = _clock_part(data, first + 1, stop)
        return -1 if ss < 0 else head * 60 + ss
    mm = _clock_part(data, first + 1, second)
    ss = _clock_part(data, second + 1, stop)
    return -1 if mm < 0 or ss < 0 else head * 3600 + mm * 60 + ss


@_inline
def _duration_one(buf: Any, start: int, stop: int, fmt: int) -> int:
    """Whole seconds of one duration; ``-1`` not of the format, ``-2`` for polars to decide."""
    head = 0
    for j in range(start, stop):
        b = buf[j]
        if b >= 128:
            return -2
        if b == 58 or b == 46:
            break
        head += 1
    if head > 15:
        return -2
    value = -1
    if fmt == 0 or fmt == 3:
        value = _seconds(buf, start, stop)
    if value < 0 and (fmt == 1 or fmt == 3):
        value = _clock(buf, start, stop, 2)
    if value < 0 and (fmt == 2 or fmt == 3):
        value = _clock(buf, start, stop, 3)
    return value


@_jit
def duration_kernel(offsets: Any, data: Any, valid: Any, fmt: int) -> tuple[Any, Any, bool]:
    r"""Whole seconds of durations, ``(seconds, parsed, ok)``; ``ok`` False: take polars.

    ``fmt``: 0 seconds, 1 MM:SS, 2 HH:MM:SS, 3 any of them (first fit), as
    :func:`penlink_adapters._values.duration_expr`. A value with a non-ASCII byte (``\d``
    is Unicode there) or with more than 15 digits before its first colon or dot (overflow
    rules of the casts) stops the kernel with ``ok`` False.
    """
    n = len(offsets) - 1
    out = np.zeros(n, dtype=np.int64)
    parsed = np.zeros(n, dtype=np.bool_)
    for i in range(n):
        if not valid[i]:
            continue
        value = _duration_one(data, offsets[i], offsets[i + 1], fmt)
        if value == -2:
            return out, parsed, False
        if value >= 0:
            out[i] = value
            parsed[i] = True
    return out, parsed, True


@_jit
def duration_view_kernel(
    views: Any, words: Any, data: Any, valid: Any, fmt: int
) -> tuple[Any, Any, int]:
    """:func:`duration_kernel` over string views: ``(seconds, parsed, status)``.

    ``status``: 0 done, 1 polars decides (as ``ok`` False there), 2 a value is held outside
    the first data buffer (use :func:`duration_kernel`).
    """
    n = len(valid)
    out = np.zeros(n, dtype=np.int64)
    parsed = np.zeros(n, dtype=np.bool_)
    for i in range(n):
        if not valid[i]:
            continue
        inline, start, width = view_span(words, len(data), i)
        if width < 0:
            return out, parsed, 2
        if inline:
            value = _duration_one(views, start, start + width, fmt)
        else:
            value = _duration_one(data, start, start + width, fmt)
        if value == -2:
            return out, parsed, 1
        if value >= 0:
            out[i] = value
            parsed[i] = True
    return out, parsed, 0


@_jit
def one_value_kernel(words: Any, data: Any) -> bool:
    """Whether every value of a view array without nulls is the first one (and there is one).

    ``words``, ``data``: of :func:`string_views`. Values longer than 12 bytes must be in the
    first data buffer (else: False, undecided). Rows are compared a block at a time without
    a branch per row: most columns differ at once, those of one value are read to the end.
    """
    n = len(words) // 4
    if n == 0:
        return False
    width = words[0]
    if width > 12 and (words[2] != 0 or words[3] < 0 or words[3] + width > len(data)):
        return False
    pairs = words.view(np.uint64)
    head, tail = pairs[0], pairs[1]
    if width <= 12:  # inline: the 16 bytes of every view are the first one's
        for start in range(0, n, _BLOCK):
            differ = np.uint64(0)
            for i in range(start, min(n, start + _BLOCK)):
                differ |= (pairs[2 * i] ^ head) | (pairs[2 * i + 1] ^ tail)
            if differ:
                return False
        return True
    first = words[3]
    last = width - 8  # the last word of a value: it overlaps the one before
    for start in range(0, n, _BLOCK):
        differ = np.uint64(0)
        for i in range(start, min(n, start + _BLOCK)):
            # Length, prefix and data buffer (0) the first one's; the offset checked below.
            differ |= (pairs[2 * i] ^ head) | np.uint64(words[4 * i + 2])
        if differ:
            return False
        for i in range(start, min(n, start + _BLOCK)):
            at = words[4 * i + 3]
            if at < 0 or at + width > len(data):
                return False
            for k in range(0, last, 8):
                differ |= _load64(data, at + k) ^ _load64(data, first + k)
            differ |= _load64(data, at + last) ^ _load64(data, first + last)
        if differ:
            return False
    return True


_BLOCK = 256
"""Rows compared between two checks of :func:`one_value_kernel`."""
