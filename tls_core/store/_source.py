"""A source file of an ingest: its hash and identity, and the read of the next file started early.

The ingest hashes each file before anything else (the registry lookup needs the hash), then
reads it while the commit stages it. What follows the read of a file (publishing, the Delta
commits, the marker, the record-id index) runs in the caller's thread while the read thread
would stand idle, and so would the hash of the next file: :class:`NextFile` hashes the next
file and starts reading it (one chunk ahead, as :class:`~tls_core.store._prefetch.Prefetch`
does) in the read thread meanwhile. Nothing is committed early: the next file is looked up in
the registry, and committed, only after the file before it; a next file found stored, or
changed since its hash, is read again from the start (or not at all) as if never started.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Final, Generic, TypeAlias, TypeVar

import pyarrow as pa

from tls_core.errors import ReadError, StoreError
from tls_core.store._ingest_report import IngestProgress, ProgressCallback
from tls_core.store._prefetch import READERS, Prefetch

__all__ = ["Hashed", "Identity", "NextFile", "check_unchanged", "hash_file"]

Scan = TypeVar("Scan", bound="Iterable[tuple[pa.Table, pa.Table]]")
"""A scan of a file (``penlink_adapters.ReturnScan``, which this module does not import)."""

PREFETCH: Final = 1
"""Chunks the read thread may hold ready beyond the one it is converting (memory bound)."""
_BLOCK: Final = 1 << 20
_HASH_TICK: Final = 64 << 20  # report hashing progress every 64 MiB

Identity: TypeAlias = "tuple[int, int, int, int]"
"""A file's inode, size, mtime and ctime (ns): any write through the file system changes it."""
Hashed: TypeAlias = "tuple[str, int, int, Identity]"
"""A file's SHA-256, size, estimated lines and identity (taken as its hash ended)."""


def hash_file(path: Path, progress: ProgressCallback | None) -> Hashed:
    """SHA-256 and size of the file in one streaming pass, an estimate of its lines, identity.

    The lines (for progress only) are counted in the first block and extrapolated: counting
    them all would cost half as much again as the hash, and a repeated ingest should cost
    about one hash. The adapters are handed this hash instead of hashing the file again; the
    identity (taken as the hash ends) lets the read prove it read the same file.
    """
    digest = hashlib.sha256()
    buf = bytearray(_BLOCK)
    view = memoryview(buf)
    done = lines = 0
    try:
        size = path.stat().st_size
        with path.open("rb", buffering=0) as fh:
            while n := fh.readinto(buf):
                digest.update(view[:n])
                if not done:
                    lines = buf.count(b"\n", 0, n) * size // n
                done += n
                if progress is not None and done % _HASH_TICK < _BLOCK:
                    progress(IngestProgress(str(path), "hash", 0, done, size))
            seen = _identity(os.fstat(fh.fileno()))
    except OSError as err:
        raise ReadError(
            f"cannot read the file: {err.strerror or err}",
            file=str(path),
            reason="unreadable",
            hint="check the path and its permissions",
        ) from None
    return digest.hexdigest(), done, lines, seen


def _identity(st: os.stat_result) -> Identity:
    return st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns


def _unchanged(path: Path, seen: Identity) -> bool:
    try:
        return _identity(path.stat()) == seen
    except OSError:
        return False


def check_unchanged(path: Path, seen: Identity) -> None:
    """Raise unless the file is still the one that was hashed (nothing is committed then)."""
    if not _unchanged(path, seen):
        raise StoreError(
            "the file changed while it was being ingested",
            file=str(path),
            reason="source_changed",
            hint="ingest a file that is no longer being written",
        )


class NextFile(Generic[Scan]):
    """The next file of an ingest call, hashed early and its read begun in a read-pool thread.

    The file is hashed as soon as this is made (while the file before it is read); its read
    waits for :meth:`begin` (the read before it ended: the reads of one call share the
    identifier memo, one at a time). ``open_scan(path, sha256)`` opens the scan (it may raise:
    the caller then opens it again and meets the error in its turn, after the files before it
    were committed). The scan's chunks wait in a queue of :data:`PREFETCH` until the caller
    takes them, so memory stays bounded. The caller must :meth:`take` or :meth:`close` it.
    """

    def __init__(self, path: Path, open_scan: Callable[[Path, str], Scan]) -> None:
        self.path = path
        self._open_scan = open_scan
        self._go = threading.Event()
        self._hashing = threading.Event()  # set when the hash is done (or failed)
        self._ready = threading.Event()  # set when the read has begun (or will not)
        self._closed = threading.Event()
        self._hashed: Hashed | None = None
        self._scan: Scan | None = None
        self._prefetch: Prefetch | None = None
        READERS.run(self._prepare)

    def begin(self) -> None:
        """Let the read begin once the file is hashed."""
        self._go.set()

    def _prepare(self) -> None:
        try:
            self._hashed = hash_file(self.path, None)
        except Exception:  # the caller hashes the file again, and meets the error
            self._hashed = None
        finally:
            self._hashing.set()
        self._go.wait()
        try:
            if self._hashed is not None and not self._closed.is_set():
                scan = self._open_scan(self.path, self._hashed[0])
                self._scan, self._prefetch = scan, Prefetch(scan, PREFETCH, start=False)
        except Exception:  # the caller opens the file again, and meets the error
            self._scan = self._prefetch = None
        finally:
            self._ready.set()
        if self._prefetch is not None:
            self._prefetch.run()  # in this thread: the next file's read, a chunk ahead

    def take(
        self, progress: ProgressCallback | None
    ) -> tuple[Hashed, Scan | None, Prefetch | None] | None:
        """The hash, and the scan and read when begun; None: the hash failed, or the file changed.

        A read not begun (:meth:`begin` not called: the file before was not read, e.g. it was
        stored already) is not begun here: the caller looks the hash up first and reads the
        file itself when it must. Reports the hash as done (one ``hash`` event): its blocks
        were read unreported.
        """
        self._hashing.wait()
        hashed = self._hashed
        if hashed is None:
            return None
        if progress is not None:
            progress(IngestProgress(str(self.path), "hash", 0, hashed[1], hashed[1]))
        if not _unchanged(self.path, hashed[3]):
            self.close()
            return None
        if not self._go.is_set():
            return hashed, None, None
        self._ready.wait()
        return hashed, self._scan, self._prefetch

    def close(self) -> None:
        """Stop the read, when begun, and wait until it has stopped (after its chunk)."""
        self._closed.set()
        self._go.set()
        self._ready.wait()
        if self._prefetch is not None:
            self._prefetch.close()
