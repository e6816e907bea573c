"""Read ahead: the next step of an iterator computed in a helper thread while the caller works.

A scan has two halves of about equal cost per chunk: cutting the file's lines into fields and
converting them to typed columns (one sequential chain: the duplicate-line set, the row
counters and the conversion context carry from chunk to chunk), then normalizing identifiers
and building the Arrow table (another chain: the identifier memo). :func:`read_ahead` runs
the first chain one chunk ahead of the second, in another thread: polars, the numba kernels
(``nogil``) and Arrow release the GIL for most of their time, so on two cores the halves
overlap. Each chain still runs one step at a time, in order, so the output is the same as
the single-threaded read, chunk for chunk.

The threads are reused (one small pool per process, created on first use): a new thread per
scan would leave each finished thread's allocator heap behind, and a process reading many
files would grow. A step never waits for another step, so concurrent scans sharing the pool
cannot deadlock: they queue.
"""

from __future__ import annotations

import concurrent.futures
import os
import threading
from collections.abc import Generator, Iterator
from typing import Final, Literal, TypeAlias, TypeVar

__all__ = ["Threads", "read_ahead"]

Threads: TypeAlias = Literal[1, 2]
"""Threads of a scan: ``1`` reads in the caller's thread only; ``2`` splits and converts the
next chunk in a helper thread while the caller finishes the current one."""

_T = TypeVar("_T")
_END: Final = object()
_WORKERS: Final = 2

_lock = threading.Lock()
_pool: concurrent.futures.ThreadPoolExecutor | None = None


def read_ahead(items: Iterator[_T]) -> Generator[_T, None, None]:
    """Iterate ``items``, each next item computed in a helper thread while this one is used.

    At most one item is computed ahead (memory: one chunk more than a plain iteration).
    An error raised by ``items`` is raised again here, as it is. When the consumer stops
    early, the step in flight is waited for (it finishes its chunk) and ``items`` is left
    alone; the caller closes it if it needs to.
    """
    pool = _executor()
    future = pool.submit(next, items, _END)
    try:
        while True:
            item = future.result()
            if item is _END:
                return
            future = pool.submit(next, items, _END)
            yield item  # type: ignore[misc]  # not _END: checked above
    finally:
        concurrent.futures.wait([future])


def _executor() -> concurrent.futures.ThreadPoolExecutor:
    global _pool
    with _lock:
        if _pool is None:
            _pool = concurrent.futures.ThreadPoolExecutor(
                max_workers=_WORKERS, thread_name_prefix="tls-read-ahead"
            )
        return _pool


def _forget() -> None:
    """A forked child has none of the parent's threads: it starts a pool of its own."""
    global _lock, _pool
    _lock = threading.Lock()
    _pool = None


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget)
