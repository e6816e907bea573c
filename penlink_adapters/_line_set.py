"""The duplicate rule's set of the lines seen so far, in memory bounded whatever the file size.

A line is a duplicate when an identical line came before it in the file, so the read keeps the
128-bit hash of every distinct line seen. In memory they sit in an open-addressing table (16
bytes a slot, load at most 3/4, :func:`~penlink_adapters._kernels.set_insert_kernel`) of at
most :data:`LIMIT` slots: 256 MiB, 12.58 M lines. A file with more lines fills it; the full
table is then *spilled*:

- written as it is to an unnamed temporary file (a *run*: the operating system removes it when
  the read ends, however it ends), and
- its hashes added to a split-block Bloom filter of :data:`BLOOM_BYTES` (made at the first
  spill, the same size whatever the number of runs);

and the table starts empty again. A hash of a later line that the filter may hold is looked up
exactly in each run, where the table would have put it (a few slots read, or for many hashes
at once the run read through in pieces); the filter says "not there" for almost every new
line, so a read with runs costs little more than one without. The answers are exactly those
of one table holding every hash: the filter only decides which hashes are looked up on disk.

Memory: the table and the filter (384 MiB) and one buffer of :data:`PIECE_SLOTS` slots (16
MiB, for a run's pieces), whatever the number of lines. The table used to double with the file
instead: 1 GiB at 40 M lines, and 2 GiB more for a moment as it grew past 50 M. Disk: 256 MiB a
run, one run per 12.58 M distinct lines after the first. The runs hold hashes of lines, never
their text.
"""

from __future__ import annotations

import os
import tempfile
from typing import Any, BinaryIO, Final

import numpy as np

from penlink_adapters._recycle import populated
from tls_core.errors import ReadError

__all__ = ["BLOOM_BYTES", "LIMIT", "PIECE_SLOTS", "LineSet"]

LIMIT: Final = 1 << 24
"""The most slots of the table in memory (16 bytes each)."""
BLOOM_BYTES: Final = 1 << 27
"""The Bloom filter of the spilled hashes: 128 MiB, about 28 bits a line for three runs."""
PIECE_SLOTS: Final = 1 << 20
"""Slots of a run read at once when many hashes are looked up in it (16 MiB)."""
FEW_PROBES: Final = 256
"""At most this many hashes are looked up in a run one at a time (a read of their slots);
more, and the run is read through in pieces."""
_PROBE: Final = 64
"""Slots read at a time by a lookup of one hash (1 KiB)."""


class _Run:
    """A spilled table: its slots, as the table held them, in an unnamed temporary file."""

    def __init__(self, keys: Any, source: str | None) -> None:
        self.slots = len(keys) // 2
        try:
            self.file: BinaryIO = tempfile.TemporaryFile(prefix="tls-lines-")  # noqa: SIM115
            self.file.write(memoryview(keys).cast("B"))
            self.file.flush()
        except OSError as exc:
            raise ReadError(
                f"cannot spill the hashes of the lines seen to a temporary file: {exc.strerror}",
                file=source,
                reason="io",
                hint="free space in the temporary directory (TMPDIR), then read again",
            ) from None

    def close(self) -> None:
        self.file.close()

    def holds(self, h1: Any, h2: Any, few: int, buffer: Any) -> Any:
        """Per hash (none of them ``(0, 0)``), whether this run holds it.

        Up to ``few`` hashes are looked up one at a time; more, and the run is read through
        in pieces of ``buffer``'s size (only the pieces where a hash's probe starts).
        """
        from penlink_adapters._kernels import run_probe_kernel

        mask = np.uint64(self.slots - 1)
        slots = (h2 & mask).astype(np.int64)
        found = np.zeros(len(h1), dtype=np.bool_)
        if len(h1) <= few:
            for j in range(len(h1)):
                found[j] = self._holds_one(h1[j], h2[j], int(slots[j]))
            return found
        piece = len(buffer) // 2
        order = np.argsort(slots, kind="stable")
        bounds = np.searchsorted(slots[order], np.arange(0, self.slots + piece, piece))
        for k in range(len(bounds) - 1):
            chosen = order[bounds[k] : bounds[k + 1]]
            if not len(chosen):
                continue
            base = k * piece
            words = buffer[: 2 * min(piece, self.slots - base)]
            self._read_into(words, base)
            hit = np.zeros(len(chosen), dtype=np.bool_)
            undecided = np.zeros(len(chosen), dtype=np.bool_)
            run_probe_kernel(words, base, h1[chosen], h2[chosen], slots[chosen], hit, undecided)
            found[chosen] = hit
            for j in chosen[undecided]:  # probes running on past the piece
                found[j] = self._holds_one(h1[j], h2[j], int(slots[j]))
        return found

    def _holds_one(self, a: Any, b: Any, slot: int) -> bool:
        from penlink_adapters._kernels import run_probe_kernel

        one_a = np.array([a], dtype=np.uint64)
        one_b = np.array([b], dtype=np.uint64)
        words = np.empty(2 * _PROBE, dtype=np.uint64)
        for _ in range(-(-self.slots // _PROBE) + 1):  # the table always has a free slot
            count = min(_PROBE, self.slots - slot)
            view = words[: 2 * count]
            self._read_into(view, slot)
            hit = np.zeros(1, dtype=np.bool_)
            undecided = np.zeros(1, dtype=np.bool_)
            at = np.array([slot], dtype=np.int64)
            run_probe_kernel(view, slot, one_a, one_b, at, hit, undecided)
            if not undecided[0]:
                return bool(hit[0])
            slot = (slot + count) % self.slots
        raise AssertionError("a spilled table without a free slot")  # pragma: no cover

    def _read_into(self, words: Any, slot: int) -> None:
        view = memoryview(words).cast("B")
        offset = 16 * slot
        while len(view):
            n = os.preadv(self.file.fileno(), [view], offset)
            if n <= 0:  # pragma: no cover - the file is ours and complete
                raise OSError("short read of a spilled line-set run")
            view = view[n:]
            offset += n


class LineSet:
    """The 128-bit hashes of the lines seen so far (see the module's docstring).

    One pass per chunk whatever the number of lines already seen (a numba open-addressing
    table, :mod:`penlink_adapters._kernels`); a slot's two words side by side, so a probe
    reads one cache line. ``limit`` (default: :data:`LIMIT` as the set is made), ``bloom_bytes``,
    ``few`` and ``piece`` are the module's constants unless a test makes them small.
    """

    def __init__(
        self,
        capacity: int = 1 << 16,
        *,
        limit: int | None = None,
        bloom_bytes: int = BLOOM_BYTES,
        few: int = FEW_PROBES,
        piece: int = PIECE_SLOTS,
        source: str | None = None,
    ) -> None:
        self.count = 0
        """Distinct hashes seen, in the table and in the runs."""
        self.zero: Any = np.zeros(1, dtype=np.bool_)
        limit = LIMIT if limit is None else limit  # read when made: tests lower it
        if limit < 1 or limit & (limit - 1) or capacity & (capacity - 1):
            raise ValueError(f"table sizes are powers of two, not {capacity} and {limit}")
        self.keys: Any = populated(16 * min(capacity, limit)).view(np.uint64)
        self.runs: list[_Run] = []
        self._held = 0  # hashes in the table
        self._limit = limit
        self._bloom_bytes = bloom_bytes
        self._bloom: Any = None
        self._few = few
        self._piece = piece
        self._buffer: Any = None
        self._source = source

    @property
    def capacity(self) -> int:
        """Slots of the table in memory."""
        return len(self.keys) // 2

    @property
    def held(self) -> int:
        """Hashes in the table in memory (the others are in the runs)."""
        return self._held

    def fresh(self, h1: Any, h2: Any) -> Any:
        """Record 128-bit hashes; True for each one not seen before (in the file or this batch)."""
        step = max(1, 3 * self._limit // 8)  # a batch never fills more than half a table
        if len(h1) > step:
            parts = [
                self.fresh(h1[i : i + step], h2[i : i + step]) for i in range(0, len(h1), step)
            ]
            return np.concatenate(parts)
        from penlink_adapters._kernels import set_insert_kernel

        self._make_room(len(h1))
        old = self._in_runs(h1, h2)
        if old is None:
            fresh, added = set_insert_kernel(h1, h2, self.keys, self.zero)
        else:
            fresh = np.zeros(len(h1), dtype=np.bool_)
            new = np.flatnonzero(~old)
            fresh[new], added = set_insert_kernel(h1[new], h2[new], self.keys, self.zero)
        self.count += added
        self._held += added
        return fresh

    def close(self) -> None:
        """Remove the runs (their files go with the process in any case)."""
        for run in self.runs:
            run.close()
        self.runs.clear()

    def _make_room(self, n: int) -> None:
        """Grow the table, up to the limit, or spill it, so that ``n`` more hashes fit."""
        from penlink_adapters._kernels import rehash_kernel

        capacity = self.capacity
        while 4 * (self._held + n) > 3 * capacity and capacity < self._limit:
            capacity *= 2
        if capacity > self.capacity:
            grown = populated(16 * capacity).view(np.uint64)
            rehash_kernel(self.keys, grown)
            self.keys = grown
        if 4 * (self._held + n) > 3 * self.capacity:
            self._spill()

    def _spill(self) -> None:
        from penlink_adapters._kernels import bloom_add_kernel

        if self._bloom is None:
            self._bloom = populated(max(32, self._bloom_bytes)).view(np.uint32)
        self.runs.append(_Run(self.keys, self._source))
        bloom_add_kernel(self._bloom, self.keys)
        self.keys[:] = 0
        self._held = 0

    def _in_runs(self, h1: Any, h2: Any) -> Any:
        """Per hash, whether a run holds it; None when none can (no run, or the filter says so)."""
        if not self.runs:
            return None
        from penlink_adapters._kernels import bloom_maybe_kernel

        maybe = bloom_maybe_kernel(self._bloom, h1) & ((h1 != 0) | (h2 != 0))
        asked = np.flatnonzero(maybe)
        if not len(asked):
            return None
        if self._buffer is None and len(asked) > self._few:
            self._buffer = np.empty(2 * min(self._piece, self._limit), dtype=np.uint64)
        old = np.zeros(len(h1), dtype=np.bool_)
        for run in self.runs:
            left = asked[~old[asked]]
            if not len(left):
                break
            old[left] = run.holds(h1[left], h2[left], self._few, self._buffer)
        return old if old.any() else None
