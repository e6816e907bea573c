"""numba kernels of the adapters: 128-bit hashes over Arrow string buffers, and a set of them.

numba is imported only here, in :mod:`penlink_adapters._time_kernel` and in the identifier
kernels of ``tls_core`` (``tests/test_architecture.py``).

:func:`murmur3_hex_kernel` hashes every value of a string array with MurmurHash3 x64 128
(seed 0) and writes the 16-byte digest as 32 lowercase hex digits, ``h1`` then ``h2``, each
little-endian: the same bytes as the reference C implementation's output buffer (and
``mmh3.hash_bytes``). The pure-Python reference is
:func:`penlink_adapters._record_ids.murmur3_128`; the tests check that both agree.

:func:`set_insert_kernel` keeps the 128-bit hashes of the lines seen so far in an
open-addressing table, so that exact duplicate lines are found in one pass per chunk,
whatever the number of lines already seen; it asks the CPU for the slot of the hash
sixteen ahead while it probes the current one (:func:`prefetch`), so that the table's cache
misses overlap instead of following one another.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final, TypeVar, cast

import numba
import numpy as np
from llvmlite import ir
from numba.core import cgutils
from numba.extending import intrinsic

__all__ = [
    "bare",
    "bloom_add_kernel",
    "bloom_maybe_kernel",
    "murmur3_hex_kernel",
    "plain_block_kernel",
    "prefetch",
    "rehash_kernel",
    "run_probe_kernel",
    "set_insert_kernel",
]

_jit = numba.njit(cache=True, nogil=True)
_inline = numba.njit(cache=True, nogil=True, inline="always")
_BARE: dict[str, Any] = {"cache": True, "nogil": True, "_nrt": False}
_bare_jit: Any = numba.njit(**_BARE)
_F = TypeVar("_F", bound=Callable[..., Any])


def bare(fn: _F) -> _F:
    """``fn`` compiled without reference counting (numba's ``_nrt=False``).

    For a kernel's pass over its rows, into outputs its caller allocated: numba increments
    and decrements the reference count of each array an inlined helper takes, at each call
    where its pruning cannot pair them (a helper called in a branch), and those atomic
    operations cost more than a small helper's work (the join of dates and times: 9 -> 0.6 ms
    per 98,000 rows). Such a function cannot allocate an array or return one.
    """
    return cast("_F", _bare_jit(fn))


_AHEAD: Final = 16
"""How many hashes ahead :func:`set_insert_kernel` prefetches a slot."""


def _prefetch_codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
    array_type = signature.args[0]
    array = context.make_array(array_type)(context, builder, args[0])
    pointer = cgutils.get_item_pointer(  # type: ignore[no-untyped-call]
        context, builder, array_type, array, [args[1]], wraparound=False
    )
    i32 = ir.IntType(32)
    function = cgutils.get_or_insert_function(  # type: ignore[no-untyped-call]
        builder.module,
        ir.FunctionType(ir.VoidType(), [ir.PointerType(), i32, i32, i32]),
        "llvm.prefetch.p0",
    )
    # read (0), keep in every cache level (3), data (1)
    builder.call(function, [pointer, ir.Constant(i32, 0), ir.Constant(i32, 3), ir.Constant(i32, 1)])
    return context.get_dummy_value()


@intrinsic
def _prefetch_intrinsic(typingctx: Any, array: Any, index: Any) -> Any:
    return numba.types.void(array, index), _prefetch_codegen


def _prefetch_python(array: Any, index: Any) -> None:
    """Without the JIT (``NUMBA_DISABLE_JIT``) a prefetch does nothing."""


_NO_JIT: Final = bool(getattr(numba.config, "DISABLE_JIT", False))
prefetch: Any = _prefetch_python if _NO_JIT else _prefetch_intrinsic
"""``prefetch(array, index)``: a hint that ``array[index]`` will be read soon (no bounds
check: an index past the end is a hint about no element and is never read)."""

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
    return _finish(h1, h2, length)


@_inline
def _finish(h1: Any, h2: Any, length: int) -> tuple[Any, Any]:
    """MurmurHash3 x64 128's finalization of ``(h1, h2)`` after ``length`` bytes."""
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
def set_insert_kernel(h1s: Any, h2s: Any, keys: Any, zero: Any) -> tuple[Any, int]:
    """Insert hashes into the table; ``fresh[i]`` is False for a hash already there.

    The table ``keys`` holds a slot's two words side by side (``keys[2 * s]``, ``keys[2 * s + 1]``:
    one cache line a probe), a power-of-two number of slots, ``(0, 0)`` marking a free one;
    the hash ``(0, 0)`` itself is recorded in ``zero[0]``. The caller grows the table first,
    so it has room for every hash (:func:`rehash_kernel`). Returns ``(fresh, added)``.
    """
    mask = len(keys) // 2 - 1
    n = len(h1s)
    fresh = np.ones(n, dtype=np.bool_)
    added = 0
    for i in range(n):
        if i + _AHEAD < n:
            prefetch(keys, 2 * np.int64(h2s[i + _AHEAD] & np.uint64(mask)))
        a = h1s[i]
        b = h2s[i]
        if a == 0 and b == 0:
            if zero[0]:
                fresh[i] = False
            else:
                zero[0] = True
                added += 1
            continue
        slot = np.int64(b & np.uint64(mask))
        while True:
            k1 = keys[2 * slot]
            k2 = keys[2 * slot + 1]
            if k1 == 0 and k2 == 0:
                keys[2 * slot] = a
                keys[2 * slot + 1] = b
                added += 1
                break
            if k1 == a and k2 == b:
                fresh[i] = False
                break
            slot = (slot + 1) & mask
    return fresh, added


@_jit
def rehash_kernel(keys: Any, new: Any) -> None:
    """Move every hash of a table into a larger, empty one (see :func:`set_insert_kernel`)."""
    mask = len(new) // 2 - 1
    for s in range(len(keys) // 2):
        a = keys[2 * s]
        b = keys[2 * s + 1]
        if a == 0 and b == 0:
            continue
        slot = np.int64(b & np.uint64(mask))
        while new[2 * slot] != 0 or new[2 * slot + 1] != 0:
            slot = (slot + 1) & mask
        new[2 * slot] = a
        new[2 * slot + 1] = b


_SALTS: Final = np.array(
    [
        0x47B6137B,
        0x44974D91,
        0x8824AD5B,
        0xA2B7289D,
        0x705495C7,
        0x2DF1424B,
        0x9EFC4947,
        0x5C6BFB31,
    ],
    dtype=np.uint64,
)
"""The split-block Bloom filter's eight odd multipliers (those of Parquet's bloom filters)."""
_LOW32: Final = np.uint64(0xFFFFFFFF)


@_inline
def _block_of(h1: Any, blocks: int) -> Any:
    """The filter block of a hash: its high 32 bits scaled to the number of blocks."""
    return np.int64(((h1 >> np.uint64(32)) * np.uint64(blocks)) >> np.uint64(32))


@_inline
def _bit(low: Any, i: int) -> Any:
    """The bit a hash sets in word ``i`` of its block (its low 32 bits times that word's salt)."""
    return np.uint32(((low * _SALTS[i]) & _LOW32) >> np.uint64(27))


@_jit
def bloom_add_kernel(words: Any, keys: Any) -> None:
    """Add every hash of a line-set table (see :func:`set_insert_kernel`) to a Bloom filter.

    ``words`` is a split-block Bloom filter: blocks of eight 32-bit words; a hash sets one bit
    in each word of one block, chosen by its first word ``h1`` (the table places a hash by its
    second word, so the two do not correlate). Free slots ``(0, 0)`` are not added.
    """
    blocks = len(words) // 8
    for s in range(len(keys) // 2):
        a = keys[2 * s]
        if a == 0 and keys[2 * s + 1] == 0:
            continue
        at = 8 * _block_of(a, blocks)
        low = a & _LOW32
        for i in range(8):
            words[at + i] |= np.uint32(1) << _bit(low, i)


@_jit
def bloom_maybe_kernel(words: Any, h1s: Any) -> Any:
    """Per hash, whether the filter may hold it (False: it certainly does not)."""
    blocks = len(words) // 8
    n = len(h1s)
    maybe = np.zeros(n, dtype=np.bool_)
    for j in range(n):
        a = h1s[j]
        at = 8 * _block_of(a, blocks)
        low = a & _LOW32
        hit = True
        for i in range(8):
            if not (words[at + i] >> _bit(low, i)) & np.uint32(1):
                hit = False
                break
        maybe[j] = hit
    return maybe


@_jit
def run_probe_kernel(
    piece: Any, base: int, h1s: Any, h2s: Any, slots: Any, found: Any, open_: Any
) -> None:
    """Look hashes up in a piece of a spilled table, slots ``base`` on (its words as read).

    Each hash's probe starts at its slot (which the piece holds) and goes on as the table's
    does; it ends at the hash (``found``) or at a free slot (not there). A probe that reaches
    the piece's end undecided is flagged ``open_`` for the caller to finish.
    """
    size = len(piece) // 2
    for j in range(len(h1s)):
        s = np.int64(slots[j]) - base
        while True:
            if s >= size:
                open_[j] = True
                break
            k1 = piece[2 * s]
            k2 = piece[2 * s + 1]
            if k1 == h1s[j] and k2 == h2s[j]:
                found[j] = True
                break
            if k1 == 0 and k2 == 0:
                break
            s += 1


@_jit
def plain_block_kernel(buf: Any, after_cr: bool) -> tuple[bool, bool]:
    """Whether a block of a file can be plain, and whether it is ASCII, in one pass.

    Plain: no quote, no NUL, no CR outside CRLF. ``after_cr``: the previous block ended with
    CR (then this one must begin with LF). A CR ending this block is allowed here (the next
    block decides). ASCII: no byte above 127 (then it is valid UTF-8 whatever came before
    it, unless a character was cut at the end of the block before).
    """
    n = len(buf)
    if n == 0:
        return not after_cr, True
    # No early exit and no branch in the loop: the compiler vectorizes it (about 3x faster
    # than a loop that stops at the first offending byte; most files are plain).
    bad = after_cr and buf[0] != 10
    high = False
    for i in range(n - 1):
        b = buf[i]
        bad |= (b == 34) | (b == 0) | ((b == 13) & (buf[i + 1] != 10))
        high |= b > 127
    b = buf[n - 1]
    return not (bad | (b == 34) | (b == 0)), not (high | (b > 127))
