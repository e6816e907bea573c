"""Read ahead: a scan's chunks produced in a reused thread, a bounded number ahead of the commit.

The ingest reads a file in one thread while the commit stages (encodes and writes) the chunk
before in the caller's: on two cores the two overlap, since polars, the adapters' numba
kernels, Arrow's Parquet writer and SHA-256 all release the GIL.
"""

from __future__ import annotations

import contextlib
import os
import queue
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import Final, TypeAlias

import pyarrow as pa

__all__ = ["READERS", "READ_THREAD", "Prefetch", "ReadThreads"]

_Chunk: TypeAlias = "tuple[pa.Table, pa.Table]"
_Item: TypeAlias = "tuple[_Chunk | None, BaseException | None]"
"""``(chunk, None)``, ``(None, error)``, or ``(None, None)`` at the end of the scan."""


class Prefetch:
    """Iterates a scan in a thread, at most ``depth`` chunks ahead of the consumer.

    The read (polars, numba kernels with ``nogil``, Arrow) and the commit's staging (Parquet
    encoding, zstd, SHA-256) release the GIL for most of their time, so on two cores they
    overlap. Memory stays bounded: the thread holds the chunk it converts, the queue at most
    ``depth`` more, the consumer the one it stages. An error of the read is raised again, as
    it is, in the consumer; :meth:`close` stops the thread (after its current chunk) when the
    consumer gives up early. With ``start=False`` the read waits for a thread to call
    :meth:`run` (one already in the read pool, which then serves the read itself).
    """

    def __init__(self, scan: Iterable[_Chunk], depth: int, *, start: bool = True) -> None:
        self._scan = scan
        self._queue: queue.Queue[_Item] = queue.Queue(maxsize=depth)
        self._stop = threading.Event()
        self._done = threading.Event()
        if start:
            READERS.run(self.run)

    def __iter__(self) -> Iterator[_Chunk]:
        while True:
            chunk, error = self._queue.get()
            if chunk is None:
                self._done.wait()
                if error is not None:
                    raise error
                return
            yield chunk

    def close(self) -> None:
        """Stop the read and wait for it (it finishes the chunk it is converting)."""
        self._stop.set()
        while not self._done.is_set():
            with contextlib.suppress(queue.Empty):
                self._queue.get(timeout=0.05)

    def run(self) -> None:
        """Read the scan into the queue, in the calling thread (once)."""
        try:
            if self._stop.is_set():  # closed before the read began
                return
            for chunk in self._scan:
                if not self._put((chunk, None)):
                    return
            self._put((None, None))
        except BaseException as err:  # handed to the consumer, raised there
            self._put((None, err))
        finally:
            self._done.set()

    def _put(self, item: _Item) -> bool:
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.05)
            except queue.Full:
                continue
            return not self._stop.is_set()  # a put that close() made room for: stop anyway
        return False


class ReadThreads:
    """Reusable read threads: an idle one takes the next read, else a new one starts.

    A read never waits for another (concurrent ingests cannot deadlock on a bounded pool).
    Reusing threads keeps the allocators' per-thread heaps in use: a new thread per file
    left each finished thread's heap to be reclaimed later, and the peak memory of a
    10-file ingest grew with the number of files. Idle threads end after ``idle`` seconds.
    """

    def __init__(self, idle: float) -> None:
        self._idle = idle
        self._lock = threading.Lock()
        self._waiting: list[queue.SimpleQueue[Callable[[], None] | None]] = []
        if hasattr(os, "register_at_fork"):  # a forked child has none of the parent's threads
            os.register_at_fork(after_in_child=self._forget)

    def _forget(self) -> None:
        self._lock = threading.Lock()
        self._waiting = []

    def run(self, task: Callable[[], None]) -> None:
        """Run ``task`` in an idle read thread, or in a new one."""
        with self._lock:
            inbox = self._waiting.pop() if self._waiting else None
        if inbox is not None:
            inbox.put(task)
            return
        inbox = queue.SimpleQueue()
        inbox.put(task)
        threading.Thread(target=self._serve, args=(inbox,), name=READ_THREAD, daemon=True).start()

    def _serve(self, inbox: queue.SimpleQueue[Callable[[], None] | None]) -> None:
        while True:
            try:
                task = inbox.get(timeout=self._idle)
            except queue.Empty:
                with self._lock:
                    if inbox not in self._waiting:
                        continue  # handed a task just now: it is in the inbox
                    self._waiting.remove(inbox)
                return
            if task is None:
                return
            task()
            del task
            with self._lock:
                self._waiting.append(inbox)


READ_THREAD: Final = "tls-ingest-read"
READERS: Final = ReadThreads(idle=30.0)
