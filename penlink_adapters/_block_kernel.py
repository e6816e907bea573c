"""numba kernel of the fused plain-block pass: a block's bytes to lines, fields and flags.

:func:`cut_block_kernel` makes, in one pass over a block of a plain file (no copy of its
bytes), everything the accounting rules of :mod:`penlink_adapters._plain_cut` need: the lines
(a line is ``buf[starts[i]:ends[i]]``, line ends left out), field counts, blank-edge flags,
the lines that may be non-record rows, whether a line ends with the delimiter, a 128-bit hash
of each line (the duplicate rule) and Arrow string views of the wanted fields pointing into
the block itself.

The pass visits only the bytes that matter (delimiters, LF, CR: found 64 bytes at a time by
vector compares into one 64-bit mask, then visited one by one by their trailing-zero count),
so its cost follows the number of fields rather than the number of bytes; views and hashes
(MurmurHash3, the same values as before) read fields 8 bytes a load. A second mask per 64
bytes marks the bytes that may be blanks (below 33, above 127): only a window where one
stands next to a delimiter or line end has its delimiters' neighbours looked at for the
blank-edge flags (about 16% of the pass when every delimiter was looked at). The block must
be followed by at least :data:`PAD` readable bytes (those loads may run past its end; what
they read there is masked off).

numba is imported only here, in :mod:`penlink_adapters._kernels`,
:mod:`penlink_adapters._time_kernel` and in the identifier kernels of ``tls_core``
(``tests/test_architecture.py``).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any, Final, cast

import numba
import numpy as np
from llvmlite import ir
from numba.core import types
from numba.cpython.unsafe.numbers import trailing_zeros
from numba.extending import intrinsic

from penlink_adapters._kernels import _NO_JIT, _finish, _rotl, bare
from penlink_adapters._plain_cut import PAD
from penlink_adapters._recycle import BLOCKS

__all__ = ["PAD", "cut_block_kernel", "empty_field_counts", "line_count_kernel"]

_jit = numba.njit(cache=True, nogil=True)
_inline = numba.njit(cache=True, nogil=True, inline="always")

_BIG: Final = sys.byteorder == "big"
_U0: Final = np.uint64(0)
_U4: Final = np.uint64(4)
_U1: Final = np.uint64(1)
_U7: Final = np.uint64(7)
_U63: Final = np.uint64(63)
_U32: Final = np.uint64(32)
_ALL: Final = np.uint64(0xFFFFFFFFFFFFFFFF)
_ONES: Final = np.uint64(0x0101010101010101)
_LOW7: Final = np.uint64(0x7F7F7F7F7F7F7F7F)
_C1: Final = np.uint64(0x87C37B91114253D5)
_C2: Final = np.uint64(0x4CF5AD432745937F)
_M5: Final = np.uint64(5)
_N1: Final = np.uint64(0x52DCE729)
_N2: Final = np.uint64(0x38495AB5)


def _load64_python(buf: Any, at: int) -> Any:
    """8 bytes from ``buf[at]`` as a little-endian word (bytes past the end read as 0)."""
    return np.uint64(int.from_bytes(bytes(buf[at : at + 8]), "little"))


def _store64_python(buf: Any, at: int, word: Any) -> None:
    """Write ``word``'s 8 bytes, little-endian, at ``buf[at]`` (those past the end dropped)."""
    data = np.frombuffer(int(word).to_bytes(8, "little"), dtype=np.uint8)
    buf[at : at + 8] = data[: max(0, min(8, len(buf) - at))]


def _word_pointer(context: Any, builder: Any, sig: Any, args: Any) -> Any:
    ary = context.make_array(sig.args[0])(context, builder, args[0])
    return builder.bitcast(builder.gep(ary.data, [args[1]]), ir.IntType(64).as_pointer())


@intrinsic
def _load64_intrinsic(typingctx: Any, arr: Any, at: Any) -> Any:
    """One unaligned 8-byte load from ``arr[at]`` (an ``uint8`` array): a little-endian word."""

    def codegen(context: Any, builder: Any, sig: Any, args: Any) -> Any:
        word = builder.load(_word_pointer(context, builder, sig, args), align=1)
        return builder.bswap(word) if _BIG else word

    return types.uint64(arr, at), codegen


@intrinsic
def _store64_intrinsic(typingctx: Any, arr: Any, at: Any, word: Any) -> Any:
    """One unaligned 8-byte store of ``word``, little-endian, at ``arr[at]`` (``uint8``)."""

    def codegen(context: Any, builder: Any, sig: Any, args: Any) -> Any:
        value = builder.bswap(args[2]) if _BIG else args[2]
        builder.store(value, _word_pointer(context, builder, sig, args), align=1)
        return context.get_dummy_value()

    return types.void(arr, at, types.uint64), codegen


def _ctz_python(x: Any) -> Any:
    """Trailing zero bits of a nonzero word."""
    v = int(x)
    return np.uint64((v & -v).bit_length() - 1)


# Compiled code loads words and counts trailing zeros with one instruction each; without the
# JIT (the no-JIT test job) the same is done in Python.
_load64 = cast("Callable[[Any, Any], Any]", _load64_python if _NO_JIT else _load64_intrinsic)
_store64 = cast(
    "Callable[[Any, Any, Any], None]", _store64_python if _NO_JIT else _store64_intrinsic
)
_ctz = cast("Callable[[Any], Any]", _ctz_python if _NO_JIT else trailing_zeros)


@_inline
def _low_bytes(count: Any) -> Any:
    """A mask of the ``count`` (0 to 8) low bytes of a word."""
    shift = np.uint64(count) * _U4
    return ~((_ALL << shift) << shift)


@_inline
def _equal_bytes(w: Any, pattern: Any) -> Any:
    """The high bit of each byte of ``w`` equal to the byte of ``pattern`` (exact)."""
    x = w ^ pattern
    return ~(((x & _LOW7) + _LOW7) | x | _LOW7)


@bare
def line_count_kernel(buf: Any, n: int) -> int:
    """The number of LF bytes in ``buf[:n]`` (8 bytes a step)."""
    lf = _ONES * np.uint64(10)
    count = _U0
    for base in range(0, n, 8):
        m = _equal_bytes(_load64(buf, base), lf)
        if base + 8 > n:
            m &= _low_bytes(n - base)
        count += ((m >> _U7) * _ONES) >> np.uint64(56)
    return int(count)


def _window_masks_python(buf: Any, at: int, delim: Any) -> tuple[Any, Any]:
    """:func:`_window_masks` without the JIT (bytes past the end read as 0)."""
    window = np.zeros(64, dtype=np.uint8)
    chunk = np.asarray(buf[at : at + 64], dtype=np.uint8)
    window[: len(chunk)] = chunk
    special = (window == np.uint8(delim)) | (window == 10) | (window == 13)
    blank = (window < 33) | (window > 127)
    return tuple(  # type: ignore[return-value]
        np.uint64(int.from_bytes(np.packbits(bits, bitorder="little").tobytes(), "little"))
        for bits in (special, blank)
    )


def _splat(builder: Any, value: Any, vector: Any) -> Any:
    """``value`` in every lane of ``vector``'s type."""
    undefined = ir.Constant(vector, ir.Undefined)
    one = builder.insert_element(undefined, value, ir.Constant(ir.IntType(32), 0))
    lanes = ir.Constant(ir.VectorType(ir.IntType(32), vector.count), [0] * vector.count)
    return builder.shuffle_vector(one, undefined, lanes)


@intrinsic
def _window_masks_intrinsic(typingctx: Any, arr: Any, at: Any, delim: Any) -> Any:
    """Bit masks of the 64 bytes at ``arr[at]``: ``(special, blankish)``.

    Bit ``j`` of ``special`` is set where byte ``j`` is the delimiter, LF or CR; of
    ``blankish``, where it is below 33 or above 127 (a superset of the blanks of
    :data:`_BLANK` and of line ends). One unaligned 64-byte vector load and compares whose
    lanes' results become a 64-bit integer: LLVM makes them a few vector instructions (a
    compare into a mask register with AVX-512, two compares and byte-mask moves with AVX2),
    against about 200 word operations for the two masks found eight bytes at a time (a fifth
    of the cut kernel's time).
    """

    def codegen(context: Any, builder: Any, sig: Any, args: Any) -> Any:
        ary = context.make_array(sig.args[0])(context, builder, args[0])
        byte = ir.IntType(8)
        vector = ir.VectorType(byte, 64)
        pointer = builder.bitcast(builder.gep(ary.data, [args[1]]), vector.as_pointer())
        window = builder.load(pointer, align=1)
        d = args[2] if args[2].type == byte else builder.trunc(args[2], byte)
        special = builder.icmp_unsigned("==", window, _splat(builder, d, vector))
        for end in (10, 13):
            special = builder.or_(
                special, builder.icmp_unsigned("==", window, ir.Constant(vector, [end] * 64))
            )
        blankish = builder.or_(
            builder.icmp_unsigned("<", window, ir.Constant(vector, [33] * 64)),
            builder.icmp_unsigned(">", window, ir.Constant(vector, [127] * 64)),
        )
        word = ir.IntType(64)
        masks = [builder.bitcast(special, word), builder.bitcast(blankish, word)]
        if _BIG:  # lane 0 is the lowest bit on a little-endian machine, the highest on others
            masks = [builder.bitreverse(m) for m in masks]  # pragma: no cover - no such machine
        return context.make_tuple(builder, sig.return_type, masks)

    pair = cast(Any, types.UniTuple)(types.uint64, 2)
    return pair(arr, at, delim), codegen


_window_masks = cast(
    "Callable[[Any, Any, Any], tuple[Any, Any]]",
    _window_masks_python if _NO_JIT else _window_masks_intrinsic,
)


@_inline
def _maybe_blank(b: Any) -> Any:
    """An ASCII blank (TAB..CR, space), or a byte of a non-ASCII character (maybe a blank)."""
    return b == 32 or (b >= 9 and b <= 13) or b >= 128


_BLANK = np.array([b in (9, 11, 12, 32) or b >= 128 for b in range(256)], dtype=np.bool_)
""":func:`_maybe_blank` of a byte that may be a line end (LF, CR: not a blank), as a table."""


@_inline
def _put_empty(views: Any, slot: int) -> None:
    """Write the view of an empty value at view ``slot`` (zeros: the memory may be reused)."""
    views[2 * slot] = _U0
    views[2 * slot + 1] = _U0


@_inline
def _put_view(views: Any, slot: int, buf: Any, start: int, end: int) -> None:
    """Write the Arrow string view of ``buf[start:end]`` (buffer 0) at view ``slot``.

    ``views`` is flat: view ``slot`` is words ``2 * slot`` and ``2 * slot + 1``; the view of
    wanted field ``c`` of line ``i`` is slot ``c * lines + i``. A view is 16 bytes, here two
    little-endian words: the length and the first 4 bytes,
    then either the next 8 bytes (zero-padded; length <= 12) or the buffer index (0) and
    the offset.
    """
    length = end - start
    head = _load64(buf, start) & _low_bytes(min(length, 8))
    rest = _load64(buf, start + 8) & _low_bytes(min(max(length - 8, 0), 4))
    views[2 * slot] = np.uint64(length) | (head << _U32)
    # No branch: field lengths around 12 bytes alternate unpredictably.
    inline = (head >> _U32) | (rest << _U32)
    views[2 * slot + 1] = inline if length <= 12 else np.uint64(start) << _U32


@_inline
def _murmur3(buf: Any, start: int, length: int) -> tuple[Any, Any]:
    """MurmurHash3 x64 128 (seed 0) of ``buf[start:start + length]``, read by words.

    The same value as :func:`penlink_adapters._kernels._murmur3`.
    """
    h1 = _U0
    h2 = _U0
    blocks = length // 16
    for b in range(blocks):
        at = start + 16 * b
        k1 = _load64(buf, at) * _C1
        h1 ^= _rotl(k1, 31) * _C2
        h1 = (_rotl(h1, 27) + h2) * _M5 + _N1
        k2 = _load64(buf, at + 8) * _C2
        h2 ^= _rotl(k2, 33) * _C1
        h2 = (_rotl(h2, 31) + h1) * _M5 + _N2
    tail = start + 16 * blocks
    rest = length - 16 * blocks
    if rest > 8:
        k2 = (_load64(buf, tail + 8) & _low_bytes(rest - 8)) * _C2
        h2 ^= _rotl(k2, 33) * _C1
    if rest > 0:
        k1 = (_load64(buf, tail) & _low_bytes(min(rest, 8))) * _C1
        h1 ^= _rotl(k1, 31) * _C2
    return _finish(h1, h2, length)


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


@_inline
def _end_line(
    buf: Any,
    i: int,
    begin: int,
    stop: int,
    scan: tuple[int, int, int, int, bool],
    delim: Any,
    wanted: Any,
    header0: Any,
    starts: Any,
    ends: Any,
    counts: Any,
    flags: Any,
    h1: Any,
    h2: Any,
    views: Any,
    empties: Any,
) -> None:
    """Write every fact of line ``i`` (``buf[begin:stop]``) once its end is found.

    ``scan``: ``(field, c, at, first_end, edge)`` of the line's scan (see
    :func:`_scan_block`); the last field (from ``at``) is still to be cut. ``flags[:, i]``:
    edgy, may be a non-record row, ends with the delimiter.
    """
    field, c, at, first_end, edge = scan
    k = len(wanted)
    lines = len(starts)
    if c < k and field == wanted[c]:
        _put_view(views, c * lines + i, buf, at, stop)
        if stop == at:
            empties[i] |= _bit(c)
        c += 1
    for rest in range(c, k):  # the wanted fields the line lacks: empty (null by the count)
        _put_empty(views, rest * lines + i)
    if stop > begin:
        edge = edge or _maybe_blank(buf[begin]) or _maybe_blank(buf[stop - 1])
    starts[i] = begin
    ends[i] = stop
    counts[i] = field + 1
    flags[0, i] = edge
    flags[1, i] = _maybe_nonrecord(buf, begin, stop if first_end < 0 else first_end, header0)
    flags[2, i] = stop > begin and buf[stop - 1] == delim
    h1[i], h2[i] = _murmur3(buf, begin, stop - begin)


def cut_block_kernel(
    buf: Any, n: int, last_line: bool, delim: Any, wanted: Any, header0: Any
) -> tuple[Any, ...]:
    """Cut ``buf[:n]`` into lines and fields, with every per-line fact, in one pass.

    Returns ``(plain, starts, ends, counts, edgy, maybe_nonrecord, trailing, h1, h2, views,
    empties)``:
    whether the block is plain (False when a CR stands elsewhere than before a LF or at the
    very end: then nothing else is filled); line ``i`` is ``buf[starts[i]:ends[i]]``
    (a line ends at LF, a CR before it left out); its number of fields; whether a field may
    begin or end with a blank (an ASCII blank, or any non-ASCII byte, next to a delimiter or
    a line end; lines not flagged certainly have none); whether the line may be a non-record
    row (see :func:`_maybe_nonrecord`; ``header0``: the header's first name, stripped, as
    UTF-8 bytes); whether it ends with the delimiter; the MurmurHash3 x64 128 of its bytes;
    and per wanted field (sorted indexes) its Arrow string view into ``buf`` (``views[c, i]``,
    two words; a field the line lacks, ``counts[i] <= wanted[c]``, has an empty view); and
    which wanted fields are there and empty (bit ``c`` of ``empties[i]``, for ``c`` below 64).
    ``last_line``: whether text after the last LF (maybe none) is a line too (the block
    does not end with LF). ``buf`` must be smaller than 2 GiB (views hold 32-bit
    offsets) and have :data:`PAD` bytes after ``n``; ``delim`` (``uint8``) is not LF or CR.

    The outputs are allocated here, by numpy; the views in recycled block memory
    (:data:`~penlink_adapters._recycle.BLOCKS`: they are larger than the block, and each
    fresh page costs the kernel a fault and a zeroing), so every view is written, that of
    an empty or missing field as zeros.
    """
    lines = line_count_kernel(buf, n) + (1 if last_line else 0)
    k = len(wanted)
    starts = np.empty(lines, dtype=np.int64)
    ends = np.empty(lines, dtype=np.int64)
    counts = np.empty(lines, dtype=np.int64)
    flags = np.empty((3, lines), dtype=np.bool_)
    h1 = np.empty(lines, dtype=np.uint64)
    h2 = np.empty(lines, dtype=np.uint64)
    views = BLOCKS.empty((k, lines, 2), np.uint64)
    empties = np.zeros(lines, dtype=np.uint64)
    outputs = (starts, ends, counts, flags, h1, h2, views.reshape(-1), empties)
    plain = _scan_block(buf, n, last_line, delim, wanted, header0, *outputs)
    return plain, starts, ends, counts, flags[0], flags[1], flags[2], h1, h2, views, empties


# The scan allocates nothing: compiled without reference counting, helpers inlined into it.
@bare
def _scan_block(
    buf: Any,
    n: int,
    last_line: bool,
    delim: Any,
    wanted: Any,
    header0: Any,
    starts: Any,
    ends: Any,
    counts: Any,
    flags: Any,
    h1: Any,
    h2: Any,
    views: Any,
    empties: Any,
) -> bool:
    """The pass of :func:`cut_block_kernel` into its outputs; False when not plain."""
    k = len(wanted)
    lines = len(starts)
    slot = 0
    i = 0
    begin = 0
    field = 0
    c = 0
    at = 0
    first_end = -1
    edge = False
    always = bool(_BLANK[delim])  # a blank delimiter: every window is checked byte by byte
    last_blank = _U0  # whether the last byte of the window before may be a blank
    for base in range(0, n, 64):
        m, blank = _window_masks(buf, base, delim)
        blank &= ~m
        if base + 64 > n:
            inside = (np.uint64(1) << np.uint64(n - base)) - np.uint64(1)
            m &= inside
            blank &= inside
        # Whether a byte that may be a blank stands next to a delimiter or line end, here or
        # across the window's edges: only then are the delimiters' neighbours looked at.
        near = ((m << _U1) | (m >> _U1)) & blank
        near |= m & last_blank
        if m >> _U63 and base + 64 < n and _BLANK[buf[base + 64]]:
            near = _U1
        hot = always or near != _U0
        last_blank = blank >> _U63
        while m:
            p = base + int(_ctz(m))
            m &= m - np.uint64(1)
            b = buf[p]
            if b == delim:
                if hot:  # the byte before is in the line when p > begin, the one after may end it
                    edge |= ((p > begin) & _BLANK[buf[p - 1]]) | ((p + 1 < n) & _BLANK[buf[p + 1]])
                if field == 0:
                    first_end = p
                if c < k and field == wanted[c]:
                    if p > at:
                        _put_view(views, slot, buf, at, p)
                    else:
                        _put_empty(views, slot)
                        empties[i] |= _bit(c)
                    slot += lines
                    c += 1
                field += 1
                at = p + 1
            elif b == 10:
                stop = p - 1 if p > begin and buf[p - 1] == 13 else p
                _end_line(
                    buf,
                    i,
                    begin,
                    stop,
                    (field, c, at, first_end, edge),
                    delim,
                    wanted,
                    header0,
                    starts,
                    ends,
                    counts,
                    flags,
                    h1,
                    h2,
                    views,
                    empties,
                )
                i += 1
                begin = p + 1
                field, c, at, first_end, edge = 0, 0, begin, -1, False
                slot = i
            elif p + 1 < n and buf[p + 1] != 10:
                return False
    if last_line:
        stop = n - 1 if n > begin and buf[n - 1] == 13 else n
        _end_line(
            buf,
            i,
            begin,
            stop,
            (field, c, at, first_end, edge),
            delim,
            wanted,
            header0,
            starts,
            ends,
            counts,
            flags,
            h1,
            h2,
            views,
            empties,
        )
    return True


@_inline
def _bit(c: int) -> Any:
    """Bit ``c`` of a line's empty fields (none past 63)."""
    return np.uint64(1) << np.uint64(c) if c < 64 else np.uint64(0)


@_jit
def empty_field_counts(empties: Any, keep: Any, k: int) -> Any:
    """Per wanted field ``c`` (below 64), how many kept lines have it there and empty."""
    counts = np.zeros(min(k, 64), dtype=np.int64)
    for i in range(len(empties)):
        if keep[i]:
            m = empties[i]
            while m:
                counts[int(_ctz(m))] += 1
                m &= m - np.uint64(1)
    return counts
