"""The start time of call records: raw text to UTC, its zone source, the reason it failed.

Part of the typed conversion (:mod:`penlink_adapters._convert`): :func:`start_columns` adds
``start_raw``, ``start_utc``, ``tz_source``, ``tz_name`` and ``_time_reason`` to a chunk.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

import numpy as np
import polars as pl

from penlink_adapters._convert_kernel import string_views
from penlink_adapters._layout import Layout
from penlink_adapters._plain_cut import view_series
from penlink_adapters._time_kernel import join_views_kernel
from penlink_adapters._values import (
    DEFAULT_TIME_FORMATS,
    TextBuffers,
    dst_reason_expr,
    epoch_expr,
    fixed_width_times,
    local_to_utc_expr,
    parse_naive_expr,
    parse_offset_expr,
)

if TYPE_CHECKING:
    from penlink_adapters._convert import ConvertContext

__all__ = ["start_columns", "start_raw", "utc_expr"]

_S = pl.String


def start_raw(df: pl.DataFrame, layout: Layout) -> tuple[pl.Series, TextBuffers | None]:
    """The raw start time of each row: the start column, or the date and the time joined.

    Also returns the joined column's offsets, bytes and validity when the kernel joined
    them (:func:`_joined`; the time parser reads those instead of a copy), else None.
    """
    if "start" in layout.columns:
        return df["start"].alias("start_raw"), None
    fast = _joined(df["date"], df["time"])
    if fast is not None:
        return fast
    # A workbook's date cell reads as "2021-03-14 00:00:00" and its time cell as
    # "1899-12-31 10:00:05" (Excel's day zero): keep the date part and the time part.
    # The replacements run only on chunks that hold such a cell (cheap length tests first:
    # such a date has 19 bytes, such a time at least 11).
    date, time = pl.col("date"), pl.col("time")
    longest = df.select(date.str.len_bytes().max(), time.str.len_bytes().max()).row(0)
    cells = [False, False]
    if (longest[0] or 0) >= 19 or (longest[1] or 0) >= 11:
        cells = list(
            df.select(
                date.str.ends_with(" 00:00:00").any().alias("date"),
                time.str.starts_with("1899-12-3").any().alias("time"),
            ).row(0)
        )
    if cells[0]:
        date = date.str.replace(r"^(\d{4}-\d{2}-\d{2}) 00:00:00$", "${1}")
    if cells[1]:
        time = time.str.replace(r"^1899-12-3[01] ", "")
    joined = pl.concat_str([date, time], separator=" ").alias("start_raw")
    return df.select(joined).to_series(), None


def _joined(date: pl.Series, time: pl.Series) -> tuple[pl.Series, TextBuffers] | None:
    """``date time`` joined by the kernel from the columns' string views (no workbook cell).

    Polars' ``concat_str`` builds each value by itself (about 19 ns a row); the kernel
    copies the bytes of both views into one new buffer (:func:`join_views_kernel`). None when
    it declines (a workbook cell, a long value in a second data buffer): polars joins them.
    """
    views = string_views(date), string_views(time)
    if views[0] is None or views[1] is None:
        return None
    made, offsets, data, valid, status = join_views_kernel(*views[0], *views[1])
    if status:
        return None
    missing = len(valid) - int(np.count_nonzero(valid))
    joined = view_series(made.reshape(-1, 2), data, valid, missing).alias("start_raw")
    return joined, (offsets, data, valid)


def utc_expr(
    raw: pl.Expr, layout: Layout, ctx: ConvertContext, naive: pl.Expr | None = None
) -> pl.Expr:
    """``raw`` as a UTC time; ``naive``: ``raw`` already parsed by the layout's naive formats."""
    if layout.epoch:
        return epoch_expr(raw)
    if naive is None:
        naive = parse_naive_expr(raw, layout.time_formats)
    if layout.zone == "utc":
        return naive.dt.replace_time_zone("UTC")
    if layout.zone == "offset":
        return parse_offset_expr(raw, layout.time_formats)
    local: pl.Expr = pl.lit(None, pl.Datetime("us", "UTC"))
    if ctx.zone is not None:
        local = local_to_utc_expr(naive, ctx.zone)
    if layout.zone == "local":
        return local
    return pl.coalesce(parse_offset_expr(raw, layout.time_formats), local)


def _first_format_fits(
    raw: pl.Series, layout: Layout, buffers: TextBuffers | None
) -> tuple[Layout, pl.Series | None]:
    """The layout with only its first naive time format when that one parses every time.

    Parsing tries the formats in order and keeps the first fit, so when the first format
    parses every time of the chunk the others change nothing and need not run. Also returns
    the times parsed by that format when it fits (what the reduced layout parses them to):
    by the numba kernel when every time has the format's fixed width
    (:func:`~penlink_adapters._values.fixed_width_times`, from ``buffers`` when given: ``raw``'s
    offsets, bytes and validity), else by polars.
    """
    if layout.epoch or layout.zone == "offset":
        return layout, None
    formats = layout.time_formats or DEFAULT_TIME_FORMATS
    naive = [f for f in formats if "%z" not in f and "%Z" not in f]
    if not naive:
        return layout, None
    offset = tuple(f for f in formats if f not in naive)
    reduced = dataclasses.replace(layout, time_formats=(naive[0], *offset))
    fixed = fixed_width_times(raw, naive[0], buffers)
    if fixed is not None:
        return reduced, fixed
    if len(naive) < 2:
        return layout, None
    parsed = raw.str.strptime(pl.Datetime("us"), naive[0], strict=False, exact=True)
    if (raw.is_not_null() & parsed.is_null()).any():
        return layout, None
    return reduced, parsed


def start_columns(df: pl.DataFrame, layout: Layout, ctx: ConvertContext) -> pl.DataFrame:
    """``df`` with the start time columns (see the module docstring)."""
    raw, buffers = start_raw(df, layout)
    df = df.with_columns(raw)
    layout, parsed = _first_format_fits(raw, layout, buffers)
    if parsed is not None and layout.zone == "utc" and not layout.epoch:
        start: pl.Expr = pl.lit(parsed.dt.replace_time_zone("UTC"))
    else:
        naive = None if parsed is None else pl.lit(parsed)
        start = utc_expr(pl.col("start_raw"), layout, ctx, naive)
    df = df.with_columns(start.alias("start_utc"))
    if layout.epoch or layout.zone == "utc":
        source, name = pl.lit("carrier_utc"), pl.lit("UTC")
    elif layout.zone == "offset":
        source, name = pl.lit("data_offset"), pl.lit(None, _S)
    else:
        has_offset = parse_offset_expr(pl.col("start_raw"), layout.time_formats).is_not_null()
        if layout.zone == "local":
            has_offset = pl.lit(False)
        source = pl.when(has_offset).then(pl.lit("data_offset")).otherwise(pl.lit("declared_zone"))
        name = pl.when(has_offset).then(pl.lit(None, _S)).otherwise(pl.lit(ctx.zone, _S))
    dst: pl.Expr = pl.lit("bad_date")
    if ctx.zone is not None and layout.zone in ("local", "offset_or_local") and not layout.epoch:
        naive_time = (
            pl.lit(parsed)
            if parsed is not None
            else parse_naive_expr(pl.col("start_raw"), layout.time_formats)
        )
        dst = (
            pl.when(naive_time.is_not_null())
            .then(dst_reason_expr(naive_time, ctx.zone))
            .otherwise(dst)
        )
    placed = pl.col("start_utc").is_not_null()
    return df.with_columns(
        pl.when(placed).then(source).alias("tz_source"),
        pl.when(placed).then(name).cast(_S).alias("tz_name"),
        dst.alias("_time_reason"),
    )
