"""The fused pass over a block of a plain file: lines cut in place, one kernel for all rules.

A block is read into an array with :data:`PAD` bytes of room after it and cut in place
(:func:`cut_padded`): one numba pass
(:func:`~penlink_adapters._block_kernel.cut_block_kernel`) finds the lines and gives every
per-line fact the accounting rules need (field counts, blank-edge and non-record flags,
trailing delimiter, 128-bit line hash, Arrow string views of the wanted fields into the
block, which wanted fields are empty). A block with a CR elsewhere than before a LF is cut
the same way from a copy without any CR (:func:`copy_lines`). The rules themselves, and
their order, are those of the row-by-row path (:class:`penlink_adapters._rows.RowSorter`):
candidates and suspects are decided by the same Python methods, so the chunks, counts and
rejects are the same.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

import numpy as np
import polars as pl
import pyarrow as pa

from penlink_adapters._rows import Chunk, Plan, RowSorter

if TYPE_CHECKING:
    from penlink_adapters._line_set import LineSet

__all__ = [
    "PAD",
    "Cut",
    "CutSpec",
    "copy_lines",
    "cut_lines",
    "cut_padded",
    "padded",
    "sort_cut",
    "view_series",
]


PAD: Final = 64
"""Readable bytes a block must have after its end: the kernel's 8-byte loads may run past it."""


@dataclass(frozen=True)
class CutSpec:
    """What the cut needs of a plan: the delimiter, the wanted fields, the header's first name."""

    delimiter: str
    wanted: tuple[int, ...]
    header0: str

    @classmethod
    def of(cls, plan: Plan) -> CutSpec:
        """The spec of a read plan: field 0 and every mapped field."""
        header0 = plan.header[0].strip() if plan.header else ""
        return cls(plan.delimiter, tuple(sorted({0, *plan.index.values()})), header0)


_DEFAULT = CutSpec(",", (0,), "")


@dataclass(frozen=True)
class Cut:
    """Lines of a block as bounds into its bytes (line ``i`` is ``buf[starts[i]:ends[i]]``).

    With every per-line fact of :func:`~penlink_adapters._block_kernel.cut_block_kernel`:
    ``facts`` are its per-line arrays (``views`` per wanted field).
    """

    buf: Any
    starts: Any
    ends: Any
    facts: _Facts

    def __len__(self) -> int:
        return len(self.starts)

    def chars(self) -> int:
        """Bytes of the lines, without line ends."""
        return int((self.ends - self.starts).sum())

    def text(self, i: int) -> str:
        """Line ``i`` as text."""
        return bytes(self.buf[self.starts[i] : self.ends[i]]).decode()

    def head(self, count: int) -> list[str]:
        """The first ``count`` lines as text."""
        return [self.text(i) for i in range(min(count, len(self)))]

    def slice(self, start: int, length: int) -> Cut:
        """Lines ``start`` to ``start + length`` (fewer at the end)."""
        s = slice(start, start + max(0, length))
        return Cut(self.buf, self.starts[s], self.ends[s], self.facts.slice(s))


@dataclass(frozen=True)
class _Facts:
    """What :func:`~penlink_adapters._block_kernel.cut_block_kernel` says of the lines."""

    counts: Any
    edgy: Any
    maybe_nonrecord: Any
    trailing: Any
    h1: Any
    h2: Any
    views: Any
    empties: Any

    def slice(self, s: slice) -> _Facts:
        """The facts of lines ``s``."""
        return _Facts(
            self.counts[s],
            self.edgy[s],
            self.maybe_nonrecord[s],
            self.trailing[s],
            self.h1[s],
            self.h2[s],
            self.views[:, s],
            self.empties[s],
        )


def cut_lines(buf: bytes, spec: CutSpec = _DEFAULT) -> Cut | None:
    """The lines of a block cut in place; None when a CR stands elsewhere than before a LF.

    Raises:
        UnicodeDecodeError: the bytes are not UTF-8 (the file changed since it was inspected).
    """
    return cut_padded(padded(buf), len(buf), spec)


def padded(buf: bytes) -> Any:
    """The bytes in an array with the room that the kernel's loads may run into."""
    out = np.zeros(len(buf) + PAD, dtype=np.uint8)
    out[: len(buf)] = np.frombuffer(buf, dtype=np.uint8)
    return out


def cut_padded(buf: Any, size: int, spec: CutSpec) -> Cut | None:
    """:func:`cut_lines` of ``buf[:size]``, an array with room after ``size``.

    Raises:
        UnicodeDecodeError: the bytes are not UTF-8 (the file changed since it was inspected).
    """
    return _cut(buf, size, size > 0 and buf[size - 1] != 10, spec)


def copy_lines(block: bytes, spec: CutSpec) -> Cut:
    """The lines of a block whose CRs are not all before a LF: cut from a copy without any CR.

    A block that does not end with LF ends with a line (maybe empty once its CRs are gone).

    Raises:
        UnicodeDecodeError: the copy is not UTF-8 (the file changed since it was inspected).
    """
    data = np.frombuffer(block, dtype=np.uint8)
    kept = data[data != 13]
    cut = _cut(padded(kept.tobytes()), len(kept), len(block) > 0 and block[-1] != 10, spec)
    assert cut is not None  # no CR left: always plain
    return cut


def _cut(buf: Any, size: int, last_line: bool, spec: CutSpec) -> Cut | None:
    from penlink_adapters._block_kernel import cut_block_kernel

    delim = ord(spec.delimiter)  # not LF or CR (iter_plain_chunks takes the row path then)
    with np.errstate(over="ignore"):  # without the JIT: hashes wrap modulo 2**64, as compiled
        plain, starts, ends, *facts = cut_block_kernel(
            buf,
            size,
            last_line,
            np.uint8(delim),
            np.array(spec.wanted, dtype=np.int64),
            np.frombuffer(spec.header0.encode(), dtype=np.uint8),
        )
    if not plain:
        return None
    whole = pa.LargeStringArray.from_buffers(
        1, pa.py_buffer(np.array([0, size], dtype=np.int64)), pa.py_buffer(buf[:size])
    )
    try:
        whole.validate(full=True)
    except pa.ArrowInvalid as exc:
        raise UnicodeDecodeError("utf-8", bytes(buf[:size]), 0, size, str(exc)) from None
    return Cut(buf, starts, ends, _Facts(*facts))


def view_series(views: Any, data: Any, validity: Any, missing: int) -> pl.Series:
    """A polars text column over Arrow string views into ``data`` (no copy of the text).

    The bytes must be valid UTF-8 (checked on the block; fields are cut at an ASCII
    delimiter, so they are valid too).
    """
    n = len(views)
    bitmap = pa.py_buffer(np.packbits(validity, bitorder="little")) if missing else None
    buffers = [bitmap, pa.py_buffer(views), pa.py_buffer(data)]
    return pl.Series(pa.Array.from_buffers(pa.string_view(), n, buffers, missing))


def sort_cut(sorter: RowSorter, lines: Cut, first_line: int, seen: LineSet) -> Chunk | None:
    """The record chunk of a block's lines; other lines are counted on ``sorter``.

    The lines must be cut with :meth:`CutSpec.of` the sorter's plan. The rules, and their
    order, are those of :class:`~penlink_adapters._rows.RowSorter`.
    """
    n = len(lines)
    sorter.total += n
    facts = lines.facts
    keep = np.ones(n, dtype=np.bool_)
    _drop_nonrecords(sorter, lines, facts, keep)
    _drop_duplicates(sorter, facts, keep, seen)
    _drop_bad_counts(sorter, lines, facts, keep, first_line)
    if not keep.any():
        return None
    return _chunk(sorter, lines, facts, keep, first_line, list(CutSpec.of(sorter.plan).wanted))


def _column(views: Any, buf: Any, present: Any) -> pl.Series:
    return view_series(views, buf, present, len(present) - int(np.count_nonzero(present)))


def _drop_nonrecords(sorter: RowSorter, lines: Cut, facts: _Facts, keep: Any) -> None:
    for i in np.flatnonzero(facts.maybe_nonrecord):
        kind = sorter.nonrecord_kind(lines.text(int(i)).split(sorter.plan.delimiter))
        if kind is not None:
            sorter.skipped[kind] += 1
            keep[i] = False


def _drop_duplicates(sorter: RowSorter, facts: _Facts, keep: Any, seen: LineSet) -> None:
    kept = np.flatnonzero(keep)
    fresh = seen.fresh(facts.h1[kept], facts.h2[kept])
    repeated = kept[~fresh]
    if len(repeated):
        sorter.skipped["duplicate"] += len(repeated)
        keep[repeated] = False


def _drop_bad_counts(
    sorter: RowSorter, lines: Cut, facts: _Facts, keep: Any, first_line: int
) -> None:
    layout = sorter.plan.layout
    counts = facts.counts
    if layout.header:
        want = len(sorter.plan.header)
        ok = (counts == want) | ((counts == want + 1) & facts.trailing)
    else:
        ok = np.isin(counts, list(layout.field_counts))
    for i in np.flatnonzero(keep & ~ok):
        fields = lines.text(int(i)).split(sorter.plan.delimiter)
        n = int(counts[i])
        if not sorter.count_ok(n, fields[-1]):
            row = first_line + int(i)
            sorter.bad_rows.append((row, sorter.count_detail(n), sorter.raw_line(fields)))
            keep[i] = False


def _chunk(
    sorter: RowSorter, lines: Cut, facts: _Facts, keep: Any, first_line: int, wanted: list[int]
) -> Chunk:
    n = len(lines)
    plan = sorter.plan
    delim = plan.delimiter
    from penlink_adapters._block_kernel import empty_field_counts

    columns = {
        i: _column(facts.views[c], lines.buf, facts.counts > i) for c, i in enumerate(wanted)
    }
    rows = np.arange(first_line, first_line + n, dtype=np.int64)
    empty = empty_field_counts(facts.empties, keep, len(wanted))
    empties = {
        name: int(empty[wanted.index(i)]) for name, i in plan.index.items() if wanted.index(i) < 64
    }
    frame = pl.DataFrame(
        [*(columns[i].alias(name) for name, i in plan.index.items()), pl.Series("_row", rows)]
    )
    if not keep.all():
        frame = frame.filter(pl.Series(keep))
    # Only lines the kernel flagged may have a field with a blank at an edge: check those.
    blank_edge = rf"(?:^|{re.escape(delim)})\s|\s(?:{re.escape(delim)}|$)"
    suspect = pl.Series(
        [lines.text(int(i)) for i in np.flatnonzero(keep & facts.edgy)], dtype=pl.String
    )
    trimmed = not suspect.str.contains(blank_edge).any()

    def fields_of(wanted_rows: list[int]) -> dict[int, list[str]]:
        return {r: lines.text(r - first_line).split(delim) for r in wanted_rows}

    return Chunk(frame, fields_of, trimmed, empties)
