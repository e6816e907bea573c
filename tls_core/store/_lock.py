"""The commit lock: one writer at a time per repository, released by the kernel on a crash."""

from __future__ import annotations

import contextlib
import fcntl
import os
import time
from collections.abc import Iterator
from pathlib import Path

from tls_core.errors import ConflictError

__all__ = ["commit_lock"]

_POLL_S = 0.02


@contextlib.contextmanager
def commit_lock(path: Path, *, timeout: float) -> Iterator[None]:
    """Hold an exclusive ``flock`` on ``path`` for the block.

    A process killed while holding it releases it (the kernel closes its descriptors), so a
    crashed commit never blocks the next one.

    Raises:
        ConflictError: another writer held the lock for ``timeout`` seconds.
    """
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644)
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise ConflictError(
                        f"another writer held the repository lock for {timeout:g} s",
                        file=str(path),
                        reason="lock_timeout",
                        hint="retry when the other ingest or purge has finished",
                    ) from None
                time.sleep(_POLL_S)
        yield
    finally:
        os.close(fd)
