"""Recycled block memory: reused once free, never while anything still uses it, bounded.

And the plain read's kernel writes every string view, so a block cut into memory that held
other bytes gives the same columns as one cut into fresh memory.
"""

from __future__ import annotations

import gc
import threading
import time
from typing import Any

import numpy as np
import polars as pl
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from penlink_adapters import _block_kernel
from penlink_adapters._line_set import LineSet
from penlink_adapters._plain_cut import CutSpec, cut_lines, view_series
from penlink_adapters._recycle import Recycler, populated

_MIB = 1 << 20


def _address(array: Any) -> int:
    return int(array.__array_interface__["data"][0])


def test_memory_is_reused_once_dropped() -> None:
    pool = Recycler(keep=4, idle=60.0)
    first = pool.empty(3 * _MIB, np.uint8)
    where = _address(first)
    del first
    gc.collect()
    assert pool.free_bytes == 4 * _MIB  # rounded up to the slab step
    again = pool.empty((3 * _MIB // 8,), np.uint64)
    assert _address(again) == where
    assert again.dtype == np.uint64
    assert again.shape == (3 * _MIB // 8,)
    assert pool.free_bytes == 0


def test_a_smaller_or_much_larger_slab_is_not_taken() -> None:
    pool = Recycler(keep=4, idle=60.0)
    small = pool.empty(4 * _MIB, np.uint8)
    where = _address(small)
    del small
    assert _address(pool.empty(8 * _MIB + 1, np.uint8)) != where  # too small
    big = pool.empty(40 * _MIB, np.uint8)
    where = _address(big)
    del big
    assert _address(pool.empty(4 * _MIB, np.uint8)) != where  # more than twice the need


def test_leases_come_in_the_slabs_few_lengths() -> None:
    # ctypes keeps every array type it made: one per lease length would grow without bound.
    pool = Recycler(keep=4, idle=60.0)
    kinds = set()
    for n in range(1000, 1100):
        lease = pool.empty(n, np.uint8)
        assert lease.nbytes == n
        while isinstance(lease, np.ndarray):
            lease = lease.base
        kinds.add(type(lease))
    assert len(kinds) == 1


def test_an_empty_shape_is_an_empty_array() -> None:
    pool = Recycler(keep=4, idle=60.0)
    assert pool.empty((0, 3, 2), np.uint64).shape == (0, 3, 2)
    assert pool.empty(0, np.uint8).shape == (0,)


@pytest.mark.parametrize("holder", ["numpy view", "arrow buffer", "polars column"])
def test_memory_in_use_is_never_lent_again(holder: str) -> None:
    pool = Recycler(keep=4, idle=60.0)
    lent = pool.empty(_MIB, np.uint8)
    lent[:] = ord("a")
    views = np.zeros((1, 2), dtype=np.uint64)
    views[0, 0] = 3 | (int.from_bytes(b"aaa", "little") << 32)  # "aaa", inline
    kept: Any
    if holder == "numpy view":
        kept = lent[10:20].reshape(2, 5)[1]
    elif holder == "arrow buffer":
        kept = pa.py_buffer(lent[:16])
    else:
        kept = view_series(views, lent, np.ones(1, dtype=np.bool_), 0)
    del lent
    gc.collect()
    for _ in range(3):
        other = pool.empty(_MIB, np.uint8)
        other[:] = ord("z")  # would overwrite the kept bytes if they were lent again
    if holder == "numpy view":
        assert bytes(kept) == b"aaaaa"
    elif holder == "arrow buffer":
        assert kept.to_pybytes() == b"a" * 16
    else:
        assert isinstance(kept, pl.Series)
        assert kept.to_list() == ["aaa"]


def test_free_slabs_are_bounded_and_dropped_when_idle() -> None:
    pool = Recycler(keep=3, idle=0.2)
    lent = [pool.empty(_MIB, np.uint8) for _ in range(6)]
    del lent
    gc.collect()
    assert pool.free_bytes == 3 * 4 * _MIB  # the three most recent of six
    deadline = time.monotonic() + 10
    while pool._timer is not None and time.monotonic() < deadline:  # the timer thread ends
        time.sleep(0.05)
    assert pool._timer is None
    assert not pool._free


def test_concurrent_users_never_share_memory() -> None:
    pool = Recycler(keep=2, idle=60.0)
    errors: list[str] = []

    def user(mark: int) -> None:
        for _ in range(40):
            lent = pool.empty(_MIB + mark, np.uint8)
            lent[:] = mark
            time.sleep(0.0005)
            if not (lent == mark).all():
                errors.append(f"user {mark} saw another's bytes")
            del lent

    threads = [threading.Thread(target=user, args=(m,)) for m in range(1, 5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []


_FIELD = st.sampled_from(["", "", "a", " 1", "é-", "0123456789ab", "0123456789abc", "x" * 20])
_LINES = st.lists(st.lists(_FIELD, min_size=1, max_size=6).map(",".join), min_size=1, max_size=40)


def _cut(block: bytes, wanted: list[int]) -> tuple[Any, list[list[str | None]]]:
    cut = cut_lines(block, CutSpec(",", tuple(wanted), ""))
    assert cut is not None
    f = cut.facts
    columns = [
        view_series(f.views[c], cut.buf, f.counts > w, int((f.counts <= w).sum())).to_list()
        for c, w in enumerate(wanted)
    ]
    return f, columns


@pytest.mark.nojit
@settings(max_examples=100, deadline=None)
@given(lines=_LINES, wanted=st.sets(st.integers(0, 4), min_size=1))
def test_views_cut_into_used_memory_equal_those_cut_into_fresh(
    lines: list[str], wanted: set[int]
) -> None:
    cols = sorted(wanted)
    block = "\n".join(lines).encode() + b"\n"
    pool = Recycler(keep=4, idle=60.0)
    with pytest.MonkeyPatch.context() as m:
        m.setattr(_block_kernel, "BLOCKS", pool)
        for _ in range(2):  # the second cut gets the first one's slab, poisoned
            used = pool.empty(len(cols) * len(lines) * 16, np.uint8)
            used[:] = 0xAB
            del used
            gc.collect()
            facts, columns = _cut(block, cols)
    for c, w in enumerate(cols):
        expected = [line.split(",")[w] if w < len(line.split(",")) else None for line in lines]
        assert columns[c] == expected
        missing = facts.counts <= w
        assert not facts.views[c][missing].any()  # a missing field's view is all zeros


@pytest.mark.parametrize("nbytes", [0, 1, (4 * _MIB) - 1, 4 * _MIB, 9 * _MIB + 3])
def test_populated_memory_is_zeroed_writable_and_of_the_size_asked(nbytes: int) -> None:
    """Below 4 MiB from numpy, from 4 MiB a populated mapping: the same zeroed array."""
    array = populated(nbytes)
    assert array.dtype == np.uint8
    assert array.shape == (nbytes,)
    assert not array.any()
    array[::4096] = 7
    assert int(array.sum()) == 7 * len(range(0, nbytes, 4096))


def test_a_table_grown_into_a_mapped_one_keeps_every_hash():
    """Line-set tables of 4 MiB and more come from a populated mapping: same answers."""
    rng = np.random.default_rng(5)
    pool = rng.integers(0, 2**63, size=(2, 200_000), dtype=np.uint64)
    pairs = pool[:, rng.integers(0, 200_000, size=200_000)]  # about 37% repeats
    lines = LineSet(capacity=1 << 17)  # 2 MiB: grows into a 4 MiB mapping
    seen: set[tuple[int, int]] = set()
    for at in range(0, pairs.shape[1], 50_000):
        h1, h2 = pairs[0, at : at + 50_000], pairs[1, at : at + 50_000]
        expected = []
        for pair in zip(h1.tolist(), h2.tolist(), strict=True):
            expected.append(pair not in seen)
            seen.add(pair)
        assert lines.fresh(h1, h2).tolist() == expected
    assert 100_000 < lines.count == len(seen) < 200_000
    assert lines.keys.nbytes >= 1 << 22
