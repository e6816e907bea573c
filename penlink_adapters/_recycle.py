"""Recycled block memory: the large arrays of a block, handed out again once nothing uses them.

Each block of a plain read needs two large arrays: the block's bytes (up to 16 MiB, about one
chunk of lines) and the Arrow string views of its wanted fields (about two and a half times as
large). Polars and Arrow use both without copying them until the block's last column is
dropped, a few steps later. Fresh from the allocator, every page of them is faulted in and
zeroed by the kernel at each block:
on the 2-core VM of ``benchmarks/RESULTS.md`` that was about a sixth of a read's CPU time
(``perf``: ``clear_page_erms`` under the cut kernel and the file read). A :class:`Recycler`
keeps the memory of blocks that are done and hands it out again.

An array handed out is a view of a slab through a *lease*, a ctypes array over the slab:
every view derived from the array, every Arrow buffer and polars column made over it, keeps
the lease alive (numpy's ``base``, the buffer protocol), and the slab goes back to the pool
only when the lease is collected (:class:`weakref.finalize`). Memory in use is never handed
out twice. A recycled array is not zeroed: its user writes every byte it reads.

What the pool keeps is bounded: at most ``keep`` free slabs (the oldest go first), and a slab
not taken again within ``idle`` seconds is dropped by a timer thread, which runs only while
slabs are out or free, so an idle process holds none.
"""

from __future__ import annotations

import collections
import ctypes
import math
import mmap
import os
import threading
import time
import weakref
from typing import Any, Final

import numpy as np

__all__ = ["BLOCKS", "Recycler", "populated"]

_STEP: Final = 1 << 22
"""Slab sizes are multiples of 4 MiB, so the blocks of a file (a few lines more or less)
share them."""


_POPULATE: Final = getattr(mmap, "MAP_POPULATE", 0)
_POPULATED_FROM: Final = 1 << 22
"""Arrays of at least this many bytes come from a populated mapping (:func:`populated`)."""


def populated(nbytes: int) -> Any:
    """``nbytes`` zeroed bytes (``uint8``), every page of a large array mapped up front.

    ``np.zeros`` and ``np.empty`` ask for transparent huge pages above 4 MiB, and the kernel
    fills the first touch of each at a price that varies with the state of memory: for the
    256 MiB line set of a 10 M-line file (:class:`~penlink_adapters._fast.LineSet`, probed at
    random, so touched whole within its first chunk), 0.01 to 0.7 s on the 2-core VM of
    ``benchmarks/RESULTS.md``, as free huge pages were found or memory compacted to make them.
    A private anonymous mapping populated at once (``MAP_POPULATE``, small pages) took 0.08 s,
    every time; random probes of it are about a tenth slower (0.16 against 0.14 s for 10 M
    updates of such a table), far less than the first touch saved. Where there is no
    ``MAP_POPULATE``, and below 4 MiB: ``np.zeros``. The mapping is unmapped when the last
    array over it goes.
    """
    if not _POPULATE or nbytes < _POPULATED_FROM:
        return np.zeros(nbytes, dtype=np.uint8)
    pages = mmap.mmap(-1, nbytes, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS | _POPULATE)
    return np.frombuffer(pages, dtype=np.uint8)


class Recycler:
    """A pool of large byte slabs, lent out as numpy arrays and taken back when collected."""

    def __init__(self, *, keep: int, idle: float) -> None:
        self._keep = keep
        self._idle = idle
        self._lock = threading.Lock()
        self._free: list[tuple[float, Any]] = []  # (when it came back, slab)
        self._back: collections.deque[Any] = collections.deque()  # filled by finalizers
        self._lent = 0
        self._timer: threading.Timer | None = None
        if hasattr(os, "register_at_fork"):  # a forked child has no timer thread
            os.register_at_fork(after_in_child=self._forget)

    def empty(self, shape: int | tuple[int, ...], dtype: Any) -> Any:
        """An uninitialized array of ``shape`` and ``dtype``, maybe memory used before."""
        dt = np.dtype(dtype)
        dims = (shape,) if isinstance(shape, int) else tuple(shape)
        count = math.prod(dims)
        slab = self._take(max(count * dt.itemsize, 1))
        # A lease of the whole slab: ctypes keeps one array type per length, and slabs come
        # in few lengths (blocks in many).
        lease = (ctypes.c_char * slab.nbytes).from_buffer(slab)
        done = weakref.finalize(lease, self._back.append, slab)
        done.atexit = False
        return np.frombuffer(lease, dtype=dt, count=count).reshape(dims)

    @property
    def free_bytes(self) -> int:
        """Bytes of the slabs kept free (returned ones counted once they are sorted)."""
        with self._lock:
            self._sort(time.monotonic())
            return sum(slab.nbytes for _, slab in self._free)

    def _take(self, nbytes: int) -> Any:
        """A free slab of at least ``nbytes``, at most twice the size made for it; or a new one."""
        size = -(-nbytes // _STEP) * _STEP
        with self._lock:
            self._sort(time.monotonic())
            fits = [j for j, (_, s) in enumerate(self._free) if size <= s.nbytes <= 2 * size]
            self._lent += 1
            self._schedule()
            if fits:
                return self._free.pop(min(fits, key=lambda j: self._free[j][1].nbytes))[1]
        return populated(size)

    def _sort(self, now: float) -> None:
        """Under the lock: returned slabs into the free list; idle and surplus ones out."""
        while self._back:
            self._free.append((now, self._back.popleft()))
            self._lent -= 1
        self._free = [(t, s) for t, s in self._free if now - t < self._idle][-self._keep :]

    def _schedule(self) -> None:
        """Under the lock: a timer to drop idle slabs, unless one is pending."""
        if self._timer is None:
            timer = threading.Timer(self._idle, self._tick)
            timer.daemon = True
            timer.name = "tls-block-recycler"
            self._timer = timer
            timer.start()

    def _tick(self) -> None:
        with self._lock:
            self._sort(time.monotonic())
            self._timer = None
            if self._free or self._lent > 0:
                self._schedule()

    def _forget(self) -> None:
        self._lock = threading.Lock()
        self._timer = None
        self._free.clear()


BLOCKS: Final = Recycler(keep=8, idle=5.0)
"""The pool of the plain read's block bytes and string views."""
