"""Read ahead: the next step of an iterator computed in a helper thread while the caller works.

A scan is four sequential chains of comparable cost per chunk: cutting the file's lines into
fields (the duplicate-line set and the row counters carry from chunk to chunk), converting the
fields to typed columns (the conversion context carries), normalizing identifiers (the
identifier memo carries) and casting the columns to the canonical schema, then the record ids
and rejects of the Arrow tables (nothing carries). With two threads,
:func:`read_ahead` runs each chain one chunk ahead of the next, the first three in helper
threads and the last in the caller's: polars, the numba kernels (``nogil``) and Arrow release
the GIL for most of their time, so on two cores the four overlap. Each chain still runs one
step at a time, in order, so the output is the same as the single-threaded read, chunk for
chunk.

The threads are reused (one small pool per stage and process, created on first use): a new
thread per scan would leave each finished thread's allocator heap behind, and a process
reading many files would grow. A step of stage ``n`` may wait only for a step of stage
``n + 1`` (the conversion waits for the cut chunk it converts), and a step of the last stage
never waits: stages have pools of their own, so concurrent scans sharing the pools cannot
deadlock: they queue.
"""

from __future__ import annotations

import concurrent.futures
import os
import threading
from collections.abc import Callable, Generator, Iterator
from typing import Final, Literal, TypeAlias, TypeVar

__all__ = ["Threads", "read_ahead", "start"]

Threads: TypeAlias = Literal[1, 2]
"""Cores a scan is made for: ``1`` reads in the caller's thread only; ``2`` cuts, converts and
normalizes the chunks ahead in three helper threads while the caller finishes the current
one."""

Stage: TypeAlias = Literal[0, 1, 2]
"""The stage of a :func:`read_ahead`: ``0`` for the one the caller iterates, ``n + 1`` for
one that a step of stage ``n`` iterates (each its own pool: see the module's docstring)."""

_T = TypeVar("_T")
_A = TypeVar("_A")
_END: Final = object()
_WORKERS: Final = 2

_lock = threading.Lock()
_TASKS: Final = 3
"""The pool of :func:`start` (its tasks never wait for a step)."""
_pools: dict[int, concurrent.futures.ThreadPoolExecutor] = {}


def read_ahead(items: Iterator[_T], stage: Stage = 0) -> Generator[_T, None, None]:
    """Iterate ``items``, each next item computed in a helper thread while this one is used.

    At most one item is computed ahead (memory: one chunk more than a plain iteration).
    An error raised by ``items`` is raised again here, as it is. When the consumer stops
    early, the step in flight is waited for (it finishes its chunk) and ``items`` is left
    alone; the caller closes it if it needs to. ``items`` may itself be a read ahead of
    stage ``stage + 1``, never of the same stage.
    """
    pool = _executor(stage)
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


def start(fn: Callable[[_A], _T], arg: _A) -> concurrent.futures.Future[_T]:
    """Run ``fn(arg)`` in a helper thread (a reused pool of its own); its future.

    For work that waits for nothing else of a scan (hashing the file while it is read).
    """
    return _executor(_TASKS).submit(fn, arg)


def _executor(stage: int) -> concurrent.futures.ThreadPoolExecutor:
    with _lock:
        if stage not in _pools:
            _pools[stage] = concurrent.futures.ThreadPoolExecutor(
                max_workers=_WORKERS, thread_name_prefix=f"tls-read-ahead-{stage}"
            )
        return _pools[stage]


def _forget() -> None:
    """A forked child has none of the parent's threads: it starts pools of its own."""
    global _lock, _pools
    _lock = threading.Lock()
    _pools = {}


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget)
