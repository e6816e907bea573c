"""numba kernels of the fused plain-block pass: a block's bytes to lines, fields and flags.

:func:`line_bounds_kernel` finds the lines of a block of a plain file without copying its
bytes (a line is ``buf[starts[i]:ends[i]]``, line ends left out), and
:func:`block_fields_kernel` makes, in one pass over those lines, everything the accounting
rules of :mod:`penlink_adapters._fast` need: field counts, blank-edge flags, the lines that may
be non-record rows, whether a line ends with the delimiter, a 128-bit hash of each line (the
duplicate rule) and Arrow string views of the wanted fields pointing into the block itself.

numba is imported only here, in :mod:`penlink_adapters._kernels`,
:mod:`penlink_adapters._time_kernel` and in the identifier kernels of ``tls_core``
(``tests/test_architecture.py``).
"""

from __future__ import annotations

from typing import Any

import numba
import numpy as np

from penlink_adapters._kernels import _maybe_blank, _murmur3, _put_view

__all__ = ["block_fields_kernel", "line_bounds_kernel", "line_hashes_kernel"]

_jit = numba.njit(cache=True, nogil=True)
_inline = numba.njit(cache=True, nogil=True, inline="always")


@_jit
def line_bounds_kernel(buf: Any) -> tuple[Any, Any, bool]:
    """Lines of a block: ``(starts, ends, plain)``, line ends (LF, a CR before it) left out.

    A last line without LF counts (a CR at the very end of the block is a line end too).
    ``plain`` is False when a CR stands anywhere else: then the block is not cut here (the
    caller takes the copying path, which drops every CR).
    """
    n = len(buf)
    lines = 0
    for i in range(n):
        if buf[i] == 10:
            lines += 1
    if n > 0 and buf[n - 1] != 10:
        lines += 1
    starts = np.empty(lines, dtype=np.int64)
    ends = np.empty(lines, dtype=np.int64)
    k = 0
    begin = 0
    for i in range(n):
        b = buf[i]
        if b == 10:
            end = i - 1 if i > begin and buf[i - 1] == 13 else i
            starts[k] = begin
            ends[k] = end
            k += 1
            begin = i + 1
        elif b == 13 and i + 1 < n and buf[i + 1] != 10:
            return starts, ends, False
    if n > 0 and buf[n - 1] != 10:
        end = n - 1 if buf[n - 1] == 13 else n
        starts[k] = begin
        ends[k] = end
    return starts, ends, True


@_inline
def _lower(b: Any) -> Any:
    return b + 32 if b >= 65 and b <= 90 else b


@_inline
def _starts_with(data: Any, at: int, stop: int, word: Any) -> bool:
    """Whether ``data[at:stop]`` begins with ``word`` (lowercase ASCII), case-blind."""
    if stop - at < len(word):
        return False
    j = 0
    while j < len(word) and _lower(data[at + j]) == word[j]:
        j += 1
    return j == len(word)


@_inline
def _maybe_space(b: Any) -> Any:
    """A byte that may be (part of) what ``str.strip`` removes: a control, space, non-ASCII."""
    return b <= 32 or b >= 128


@_inline
def _maybe_nonrecord(data: Any, at: int, stop: int, header0: Any) -> bool:
    """Whether a line whose first field is ``data[at:stop]`` may be a non-record row.

    A superset of what :meth:`~penlink_adapters._rows.RowSorter.nonrecord_kind` can call a
    non-record: a first field that is empty or may have blanks at an edge (its first filled
    field is elsewhere, or ``str.strip`` may change it), that begins like ``Page``,
    ``Total``, ``Grand total`` or ``Subtotal``, or that is the header's first name.
    """
    if stop == at or _maybe_space(data[at]) or _maybe_space(data[stop - 1]):
        return True
    first = _lower(data[at])
    if first == 112 and _starts_with(data, at, stop, _PAGE):
        return True
    if first == 116 and _starts_with(data, at, stop, _TOTAL):
        return True
    if first == 103 and _starts_with(data, at, stop, _GRAND):
        return True
    if first == 115 and _starts_with(data, at, stop, _SUB):
        return True
    if stop - at != len(header0) or len(header0) == 0:
        return False
    j = 0
    while j < len(header0) and data[at + j] == header0[j]:
        j += 1
    return j == len(header0)


_PAGE = np.frombuffer(b"page", dtype=np.uint8)
_TOTAL = np.frombuffer(b"total", dtype=np.uint8)
_GRAND = np.frombuffer(b"grand", dtype=np.uint8)
_SUB = np.frombuffer(b"sub", dtype=np.uint8)


@_jit
def block_fields_kernel(
    buf: Any, starts: Any, ends: Any, delim: Any, wanted: Any, header0: Any, flat: Any
) -> tuple[Any, ...]:
    """Cut the lines ``buf[starts[i]:ends[i]]`` into fields, with every per-line flag.

    Returns ``(counts, edgy, maybe_nonrecord, trailing, h1, h2, present, views)``: the number
    of fields of each line; whether a field may begin or end with a blank (as
    :func:`penlink_adapters._kernels.split_fields_kernel`); whether the line may be a
    non-record row (see :func:`_maybe_nonrecord`; ``header0``: the header's first name,
    stripped, as UTF-8 bytes); whether it ends with the delimiter; the MurmurHash3 x64 128 of
    its bytes; and per wanted field (sorted indexes) whether the line has it and its Arrow
    string view into ``buf`` (``views[c]``, ``(n, 4)`` words). ``buf`` must be smaller than
    2 GiB (views hold 32-bit offsets).

    ``flat``: the views, ``(k * n, 4)`` words, zeroed by the caller (``np.zeros``: the
    operating system's zero pages): the view of an empty or missing field is all zeros and
    is not written, so a column that is empty in every line costs no memory traffic.
    """
    n = len(starts)
    k = len(wanted)
    counts = np.empty(n, dtype=np.int64)
    edgy = np.empty(n, dtype=np.bool_)
    maybe = np.empty(n, dtype=np.bool_)
    trailing = np.empty(n, dtype=np.bool_)
    h1 = np.empty(n, dtype=np.uint64)
    h2 = np.empty(n, dtype=np.uint64)
    present = np.empty((k, n), dtype=np.bool_)
    for i in range(n):
        begin = starts[i]
        stop = ends[i]
        field = 0
        c = 0
        at = begin
        first_end = -1
        next_wanted = wanted[0] if k > 0 else -1
        edge = False
        if stop > begin:
            edge = _maybe_blank(buf[begin]) or _maybe_blank(buf[stop - 1])
        for p in range(begin, stop):
            if buf[p] == delim:
                if p > begin and _maybe_blank(buf[p - 1]):
                    edge = True
                if p + 1 < stop and _maybe_blank(buf[p + 1]):
                    edge = True
                if field == 0:
                    first_end = p
                if field == next_wanted:
                    present[c, i] = True
                    if p > at:
                        _put_view(flat, c * n + i, buf, at, p)
                    c += 1
                    next_wanted = wanted[c] if c < k else -1
                field += 1
                at = p + 1
        if field == next_wanted:
            present[c, i] = True
            if stop > at:
                _put_view(flat, c * n + i, buf, at, stop)
            c += 1
        while c < k:  # the wanted fields this line lacks: null, with an empty view
            present[c, i] = False
            c += 1
        counts[i] = field + 1
        edgy[i] = edge
        maybe[i] = _maybe_nonrecord(buf, begin, stop if first_end < 0 else first_end, header0)
        trailing[i] = stop > begin and buf[stop - 1] == delim
        h1[i], h2[i] = _murmur3(buf, begin, stop - begin)
    return counts, edgy, maybe, trailing, h1, h2, present, flat.reshape((k, n, 4))


@_jit
def line_hashes_kernel(offsets: Any, data: Any) -> tuple[Any, Any]:
    """The MurmurHash3 x64 128 of each line ``data[offsets[i]:offsets[i+1]]``."""
    n = len(offsets) - 1
    h1 = np.empty(n, dtype=np.uint64)
    h2 = np.empty(n, dtype=np.uint64)
    for i in range(n):
        h1[i], h2[i] = _murmur3(data, offsets[i], offsets[i + 1] - offsets[i])
    return h1, h2
