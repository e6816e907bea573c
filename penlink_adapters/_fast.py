"""The vectorized path for *plain* text files: UTF-8, no quote character, LF or CRLF.

Without quotes a row is exactly one line and a field is exactly the text between delimiters,
so lines can be split by polars in bulk while every accounting rule of the row-by-row path
(:class:`penlink_adapters._rows.RowSorter`) still holds: the same line numbers, the same
non-record rules (candidates are found vectorized, then decided by the same Python function),
the same duplicate rule (identical lines) and the same field-count rule. Files that are not
plain take the row-by-row path.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Final

import polars as pl

from penlink_adapters._rows import _PAGE, _TOTAL, Chunk, RowSorter
from penlink_adapters._source import SourceInfo

__all__ = ["iter_plain_chunks"]

_BLOCK: Final = 1 << 24


def iter_plain_chunks(info: SourceInfo, sorter: RowSorter) -> Iterator[Chunk]:
    """Yield record chunks of a plain file, counting every other line on ``sorter``."""
    position = 0
    seen = pl.DataFrame(schema={"h1": pl.UInt64, "h2": pl.UInt64})
    for first_line, lines in _line_blocks(info, sorter.chunk_rows):
        head = 0
        header_end = _header_end(sorter)
        heads = lines.head(max(0, header_end - position)).to_list()
        while head < len(heads):
            fields = heads[head].removesuffix("\r").split(sorter.plan.delimiter)
            kind = sorter.head_kind(position + head, fields)
            if kind is not None:
                sorter.skipped[kind] += 1
            head += 1
        sorter.total += head
        position += head
        body = lines.slice(head)
        if len(body):
            chunk, seen = _sort_block(sorter, body, first_line + head, seen)
            position += len(body)
            if chunk is not None:
                yield chunk


def _header_end(sorter: RowSorter) -> int:
    plan = sorter.plan
    if plan.header_index is None:
        return 0
    return plan.header_index + plan.layout.header_lines


def _line_blocks(info: SourceInfo, max_lines: int) -> Iterator[tuple[int, pl.Series]]:
    """Blocks of whole lines (1-based number of the first), decoded, without line ends."""
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
            # One string split by polars: no Python object per line.
            lines = pl.Series("line", [buf.decode("utf-8")]).str.split("\n").explode()
            if lines[-1] == "":
                lines = lines.head(len(lines) - 1)
            for start in range(0, len(lines), max_lines):
                yield line + start, lines.slice(start, max_lines)
            line += len(lines)
            if not data:
                return


def _sort_block(
    sorter: RowSorter, lines: pl.Series, first_line: int, seen: pl.DataFrame
) -> tuple[Chunk | None, pl.DataFrame]:
    plan = sorter.plan
    delim = plan.delimiter
    n = len(lines)
    sorter.total += n
    text = lines.str.strip_suffix("\r").alias("line")
    df = pl.DataFrame({"line": text, "_row": pl.int_range(first_line, first_line + n, eager=True)})
    df = df.with_columns(
        pl.col("_row").cast(pl.Int64),
        pl.col("line").str.count_matches(delim, literal=True).add(1).alias("_n"),
    )
    width: int = df.select(pl.col("_n").max()).item() - 1
    df = df.with_columns(pl.col("line").str.split_exact(delim, width).alias("_parts"))
    parts = pl.col("_parts")
    df = df.with_columns(_first_filled(parts, width).alias("_first"))
    df = _drop_nonrecords(sorter, df)
    df, seen = _drop_duplicates(sorter, df, seen)
    df = _drop_bad_counts(sorter, df)
    if not len(df):
        return None, seen
    frame = df.select(
        *(
            (parts.struct.field(f"field_{i}") if i <= width else pl.lit(None, pl.String)).alias(
                name
            )
            for name, i in plan.index.items()
        ),
        pl.col("_row"),
    )
    kept = df.select("_row", "line")

    def fields_of(rows: list[int]) -> dict[int, list[str]]:
        hits = kept.filter(pl.col("_row").is_in(rows))
        return {r: line.split(delim) for r, line in hits.iter_rows()}

    return Chunk(frame, fields_of), seen


def _first_filled(parts: pl.Expr, width: int) -> pl.Expr:
    stripped = [parts.struct.field(f"field_{i}").str.strip_chars() for i in range(width + 1)]
    return pl.coalesce([pl.when(s != "").then(s) for s in stripped])


def _drop_nonrecords(sorter: RowSorter, df: pl.DataFrame) -> pl.DataFrame:
    """Vectorized candidates, decided row by row by the same rules as the row path."""
    first = pl.col("_first")
    candidate = (
        first.is_null() | first.str.contains(_PAGE.pattern) | first.str.contains(_TOTAL.pattern)
    )
    if sorter.plan.header:
        candidate = candidate | (first == sorter.plan.header[0].strip())
    hits = df.filter(candidate.fill_null(True)).select("_row", "line")
    delim = sorter.plan.delimiter
    drop = []
    for row, line in hits.iter_rows():
        kind = sorter.nonrecord_kind(line.split(delim))
        if kind is not None:
            sorter.skipped[kind] += 1
            drop.append(row)
    return df.filter(~pl.col("_row").is_in(drop)) if drop else df


def _drop_duplicates(
    sorter: RowSorter, df: pl.DataFrame, seen: pl.DataFrame
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Identical lines after the first are exact duplicate rows (two 64-bit hashes)."""
    df = df.with_columns(
        pl.col("line").hash(seed=1).alias("h1"), pl.col("line").hash(seed=2).alias("h2")
    )
    first = df.select(pl.struct("h1", "h2").is_first_distinct())[:, 0]
    fresh = df.filter(first).join(seen, on=["h1", "h2"], how="anti", maintain_order="left")
    if len(df) > len(fresh):
        sorter.skipped["duplicate"] += len(df) - len(fresh)
    seen = pl.concat([seen, fresh.select("h1", "h2")])
    return fresh.drop("h1", "h2"), seen


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
