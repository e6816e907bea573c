"""The vectorized path for *plain* text files: UTF-8, no quote character, LF or CRLF.

Without quotes a row is exactly one line and a field is exactly the text between delimiters,
so lines and fields can be cut out of the bytes in bulk (numba kernels in
:mod:`penlink_adapters._kernels`: no Python object per line) while every accounting rule of the
row-by-row path (:class:`penlink_adapters._rows.RowSorter`) still holds: the same line numbers,
the same non-record rules (candidates are found vectorized, then decided by the same Python
function), the same duplicate rule (identical lines) and the same field-count rule. Files that
are not plain, or whose delimiter is not one byte, take the row-by-row path.

A block is cut in place and sorted by one fused kernel pass (:mod:`penlink_adapters._plain_cut`);
only a block with a CR elsewhere than before a LF takes the copying path of this module
(:func:`_split_lines`, :func:`_sort_block`). Both hash lines alike, so one file may mix them.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Final

import numpy as np
import polars as pl
import pyarrow as pa

from penlink_adapters._plain_cut import Cut as _Cut
from penlink_adapters._plain_cut import cut_lines as _cut_lines
from penlink_adapters._plain_cut import sort_cut as _sort_cut
from penlink_adapters._plain_cut import view_series as _view_series
from penlink_adapters._rows import _PAGE, _TOTAL, Chunk, RowSorter
from penlink_adapters._source import SourceInfo

__all__ = ["LineSet", "iter_plain_chunks"]

_BLOCK: Final = 1 << 24


class LineSet:
    """The 128-bit hashes of the lines seen so far: 17 bytes a slot, load <= 3/4.

    One pass per chunk whatever the number of lines already seen (a numba open-addressing
    table, :mod:`penlink_adapters._kernels`).
    """

    def __init__(self, capacity: int = 1 << 16) -> None:
        self.count = 0
        self._alloc(capacity)

    def _alloc(self, capacity: int) -> None:
        self.keys1: Any = np.zeros(capacity, dtype=np.uint64)
        self.keys2: Any = np.zeros(capacity, dtype=np.uint64)
        self.used: Any = np.zeros(capacity, dtype=np.bool_)

    def fresh(self, h1: Any, h2: Any) -> Any:
        """Record 128-bit hashes; True for each one not seen before (in the file or this batch)."""
        from penlink_adapters._kernels import rehash_kernel, set_insert_kernel

        n = len(h1)
        capacity = len(self.used)
        while 4 * (self.count + n) > 3 * capacity:
            capacity *= 2
        if capacity > len(self.used):
            old = self.keys1, self.keys2, self.used
            self._alloc(capacity)
            rehash_kernel(*old, self.keys1, self.keys2, self.used)
        fresh, added = set_insert_kernel(h1, h2, self.keys1, self.keys2, self.used)
        self.count += added
        return fresh


def iter_plain_chunks(info: SourceInfo, sorter: RowSorter) -> Iterator[Chunk]:
    """Yield record chunks of a plain file, counting every other line on ``sorter``."""
    position = 0
    seen: LineSet | None = None
    for first_line, lines in _line_blocks(info, sorter.chunk_rows):
        if seen is None:
            seen = LineSet(_expected_capacity(info.size, lines))
        head = 0
        header_end = _header_end(sorter)
        heads = lines.head(max(0, header_end - position))
        while head < len(heads):
            fields = heads[head].removesuffix("\r").split(sorter.plan.delimiter)
            kind = sorter.head_kind(position + head, fields)
            if kind is not None:
                sorter.skipped[kind] += 1
            head += 1
        sorter.total += head
        position += head
        body = lines.slice(head, len(lines) - head)
        if len(body):
            if isinstance(body, _Cut):
                chunk = _sort_cut(sorter, body, first_line + head, seen)
            else:
                chunk = _sort_block(sorter, body, first_line + head, seen)
            position += len(body)
            if chunk is not None:
                yield chunk


_MAX_PRESIZE: Final = 1 << 24


def _expected_capacity(size: int, lines: _Lines | _Cut) -> int:
    """A line-set size for the whole file, guessed from its first lines (at most 2**24 slots).

    Sized once rather than grown by doubling: no rehash of the lines seen so far. The set
    still grows past the guess when the file has more lines.
    """
    chars = lines.chars() + 2 * len(lines)  # with line ends
    expected = size * len(lines) // max(chars, 1)
    capacity = 1 << 16
    while 3 * capacity < 4 * expected and capacity < _MAX_PRESIZE:
        capacity *= 2
    return capacity


def _header_end(sorter: RowSorter) -> int:
    plan = sorter.plan
    if plan.header_index is None:
        return 0
    return plan.header_index + plan.layout.header_lines


@dataclass(frozen=True)
class _Lines:
    """Lines as a polars column and as the Arrow buffers under it (absolute offsets)."""

    text: pl.Series
    data: Any
    offsets: Any

    def __len__(self) -> int:
        return len(self.text)

    def chars(self) -> int:
        """Bytes of the lines, without line ends."""
        return int(self.offsets[-1] - self.offsets[0])

    def head(self, count: int) -> list[str]:
        """The first ``count`` lines as text."""
        return self.text.head(count).to_list()

    def slice(self, start: int, length: int) -> _Lines:
        length = max(0, min(length, len(self) - start))
        return _Lines(
            self.text.slice(start, length), self.data, self.offsets[start : start + length + 1]
        )


def _line_blocks(info: SourceInfo, max_lines: int) -> Iterator[tuple[int, _Lines | _Cut]]:
    """Blocks of whole lines (1-based number of the first), without line ends.

    A block is cut in place (:class:`_Cut`) unless a CR stands elsewhere than before a LF,
    in which case its lines are copied without any CR (:class:`_Lines`).
    """
    line = 1
    carry = b""
    with open(info.path, "rb") as fh:
        if info.encoding == "utf-8-sig":
            fh.read(3)
        while True:
            data = fh.read(_BLOCK)
            buf = carry + data
            if not buf:
                return
            if data:
                cut = buf.rfind(b"\n")
                if cut < 0:
                    carry = buf
                    continue
                carry, buf = buf[cut + 1 :], buf[: cut + 1]
            else:
                carry = b""
            lines = _cut_lines(buf) or _split_lines(buf)
            for start in range(0, len(lines), max_lines):
                yield line + start, lines.slice(start, max_lines)
            line += len(lines)
            if not data:
                return


def _split_lines(buf: bytes) -> _Lines:
    """The lines of a block, without line ends (one numba pass; no Python object per line).

    Raises:
        UnicodeDecodeError: the bytes are not UTF-8 (the file changed since it was inspected).
    """
    from penlink_adapters._kernels import line_views_kernel, split_lines_kernel

    data, offsets = split_lines_kernel(np.frombuffer(buf, dtype=np.uint8))
    n = len(offsets) - 1
    array = pa.LargeStringArray.from_buffers(n, pa.py_buffer(offsets), pa.py_buffer(data))
    try:
        array.validate(full=True)
    except pa.ArrowInvalid as exc:
        raise UnicodeDecodeError("utf-8", buf, 0, len(buf), str(exc)) from None
    text = _view_series(line_views_kernel(offsets, data), data, None, 0)
    return _Lines(text.alias("line"), data, offsets)


def _sort_block(sorter: RowSorter, lines: _Lines, first_line: int, seen: LineSet) -> Chunk | None:
    plan = sorter.plan
    delim = plan.delimiter
    n = len(lines)
    sorter.total += n
    wanted = sorted({0, *plan.index.values()})
    counts, edgy, columns = _fields(lines, delim, wanted)
    from penlink_adapters._block_kernel import line_hashes_kernel

    h1, h2 = line_hashes_kernel(lines.offsets, lines.data)
    df = pl.DataFrame(
        {
            "line": lines.text,
            "_h1": h1,
            "_h2": h2,
            "_row": pl.int_range(first_line, first_line + n, eager=True, dtype=pl.Int64),
            "_n": counts,
            "_edgy": edgy,
            **{f"_f{i}": column for i, column in zip(wanted, columns, strict=True)},
        }
    )
    df = _drop_nonrecords(sorter, df)
    df = _drop_duplicates(sorter, df, seen)
    df = _drop_bad_counts(sorter, df)
    if not len(df):
        return None
    frame = df.select(
        *(pl.col(f"_f{i}").alias(name) for name, i in plan.index.items()), pl.col("_row")
    )
    kept = df.select("_row", "line")

    def fields_of(rows: list[int]) -> dict[int, list[str]]:
        hits = kept.filter(pl.col("_row").is_in(rows))
        return {r: line.split(delim) for r, line in hits.iter_rows()}

    # Only lines the kernel flagged may have a field with a blank at an edge: check those.
    blank_edge = rf"(?:^|{re.escape(delim)})\s|\s(?:{re.escape(delim)}|$)"
    suspect = df.filter(pl.col("_edgy"))
    trimmed = not suspect.select(pl.col("line").str.contains(blank_edge).any()).item()
    return Chunk(frame, fields_of, trimmed)


def _fields(lines: _Lines, delim: str, wanted: list[int]) -> tuple[Any, Any, list[pl.Series]]:
    """Field counts, blank-edge flags and the ``wanted`` fields of the lines.

    The flags: whether a line may have a field that begins or ends with a blank. The fields
    are text columns (null if missing).
    """
    from penlink_adapters._kernels import split_fields_kernel

    n = len(lines)
    counts, present, views, edgy = split_fields_kernel(
        lines.offsets, lines.data, np.uint8(ord(delim)), np.array(wanted, dtype=np.int64)
    )
    columns = [
        _view_series(views[c], lines.data, present[c], n - int(present[c].sum()))
        for c in range(len(wanted))
    ]
    return counts, edgy, columns


def _first_filled(parts: pl.Expr, width: int) -> pl.Expr:
    stripped = [parts.struct.field(f"field_{i}").str.strip_chars() for i in range(width + 1)]
    return pl.coalesce([pl.when(s != "").then(s) for s in stripped])


def _drop_nonrecords(sorter: RowSorter, df: pl.DataFrame) -> pl.DataFrame:
    """Vectorized candidates, decided row by row by the same rules as the row path.

    A row's first filled field decides whether it may be a non-record row; it is the first
    field itself unless that one is blank, so the other fields are looked at only for the
    (few) rows whose first field is blank.
    """

    def candidate(first: pl.Expr) -> pl.Expr:
        hit = (
            first.is_null() | first.str.contains(_PAGE.pattern) | first.str.contains(_TOTAL.pattern)
        )
        if sorter.plan.header:
            hit = hit | (first == sorter.plan.header[0].strip())
        return hit.fill_null(True)

    delim = sorter.plan.delimiter
    firsts = df.select(pl.col("_f0").str.strip_chars())["_f0"]
    distinct = firsts.unique()
    if 2 * len(distinct) < len(firsts):
        # Few distinct first fields (a date, a record type): test each one once.
        f = pl.col("_f0")
        flagged = distinct.to_frame().filter(f != "").filter(candidate(f))["_f0"]
        hits = df.filter(firsts.is_in(flagged.implode())).select("_row", "line")
    else:
        first = pl.col("_f0").str.strip_chars()
        hits = df.filter(first != "").filter(candidate(first)).select("_row", "line")
    blank = df.filter(firsts == "").select("_row", "line", "_n")
    if len(blank):
        width = int(blank.select(pl.col("_n").max()).item()) - 1
        parts = pl.col("line").str.split_exact(delim, width)
        filled = _first_filled(parts, width).alias("_first")
        blank = blank.with_columns(filled).filter(candidate(pl.col("_first")))
        hits = pl.concat([hits, blank.select("_row", "line")])
    drop = []
    for row, line in hits.sort("_row").iter_rows():
        kind = sorter.nonrecord_kind(line.split(delim))
        if kind is not None:
            sorter.skipped[kind] += 1
            drop.append(row)
    return df.filter(~pl.col("_row").is_in(drop)) if drop else df


def _drop_duplicates(sorter: RowSorter, df: pl.DataFrame, seen: LineSet) -> pl.DataFrame:
    """Lines identical to an earlier line are exact duplicate rows (128-bit line hashes).

    The hashes are those of :func:`_sort_cut` (MurmurHash3 of the line's bytes): one file
    may mix both kinds of blocks.
    """
    fresh = seen.fresh(df["_h1"].to_numpy(), df["_h2"].to_numpy())
    kept = int(fresh.sum())
    if kept == len(df):
        return df
    sorter.skipped["duplicate"] += len(df) - kept
    return df.filter(pl.Series(fresh))


def _drop_bad_counts(sorter: RowSorter, df: pl.DataFrame) -> pl.DataFrame:
    """Rows whose field count does not fit: bad rows (decided by the row path's rule)."""
    layout = sorter.plan.layout
    if layout.header:
        want = len(sorter.plan.header)
        trailing = (pl.col("_n") == want + 1) & pl.col("line").str.ends_with(sorter.plan.delimiter)
        ok = (pl.col("_n") == want) | trailing
    else:
        ok = pl.col("_n").is_in(list(layout.field_counts))
    suspects = df.filter(~ok).select("_row", "_n", "line")
    drop = []
    for row, n, line in suspects.iter_rows():
        fields = line.split(sorter.plan.delimiter)
        if not sorter.count_ok(n, fields[-1]):
            sorter.bad_rows.append((row, sorter.count_detail(n), sorter.raw_line(fields)))
            drop.append(row)
    return df.filter(~pl.col("_row").is_in(drop)) if drop else df
