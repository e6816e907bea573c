"""Vectorized parsing of raw text columns: null sentinels, times to UTC, durations, numbers.

Each parser returns polars expressions; a value that cannot be parsed becomes null, and the
caller compares raw and parsed columns to write a reject with its reason code. Times are
never shifted silently: a local time that falls in a DST gap or overlap is null here and
classified by :func:`dst_reason_expr`.
"""

from __future__ import annotations

from typing import Any, Final, TypeAlias

import numpy as np
import polars as pl

from penlink_adapters._layout import DurationFormat, Layout

__all__ = [
    "DEFAULT_TIME_FORMATS",
    "TextBuffers",
    "dst_reason_expr",
    "duration_expr",
    "duration_series",
    "epoch_expr",
    "fixed_width_times",
    "float_expr",
    "int_expr",
    "local_to_utc_expr",
    "null_expr",
    "parse_naive_expr",
    "parse_offset_expr",
]

DEFAULT_TIME_FORMATS: Final = (
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%dT%H:%M:%S",
    "%Y-%m-%d %H:%M",
    "%m/%d/%Y %H:%M:%S",
    "%m/%d/%Y %H:%M",
    "%Y/%m/%d %H:%M:%S",
    "%Y/%m/%d %H:%M",
)
"""Formats tried when a layout lists none."""

_US: Final = pl.Datetime("us")
_UTC: Final = pl.Datetime("us", "UTC")


def null_expr(name: str, layout: Layout, *, strip: bool = True) -> pl.Expr:
    """Strip blanks and turn the layout's null sentinels into nulls.

    ``strip=False`` when the caller knows no value has leading or trailing blanks.
    """
    sentinels = list(dict.fromkeys([*layout.nulls, *layout.column_nulls.get(name, ())]))
    col = pl.col(name).str.strip_chars() if strip else pl.col(name)
    # The empty sentinel by length (read from the string view, no hashing of the value).
    hits = [col.str.len_bytes() == 0] if "" in sentinels else []
    others = [s for s in sentinels if s != ""]
    if others:
        hits.append(col.is_in(others))
    if not hits:
        return col.alias(name)
    return pl.when(pl.any_horizontal(hits)).then(None).otherwise(col).alias(name)


def parse_naive_expr(col: pl.Expr, formats: tuple[str, ...]) -> pl.Expr:
    """Parse text as a naive datetime with the first format that fits."""
    fmts = [f for f in (formats or DEFAULT_TIME_FORMATS) if "%z" not in f and "%Z" not in f]
    if not fmts:
        return pl.lit(None, dtype=_US)
    return pl.coalesce([col.str.strptime(_US, f, strict=False, exact=True) for f in fmts])


_FIELD_CODES: Final = {
    "Y": (1001, 4),
    "m": (1002, 2),
    "d": (1003, 2),
    "H": (1004, 2),
    "M": (1005, 2),
}
_SECOND: Final = (1006, 2)
_LITERALS: Final = frozenset("/-:. T")


TextBuffers: TypeAlias = tuple[Any, Any, Any]
"""A text column's ``(offsets, data, valid)``: value ``i`` is ``data[offsets[i]:offsets[i+1]]``."""


def fixed_width_times(
    raw: pl.Series, fmt: str, buffers: TextBuffers | None = None
) -> pl.Series | None:
    """``raw`` parsed by ``fmt`` in one numba pass, when every value has the format's width.

    Only formats made of ``%Y %m %d %H %M`` (each once), optionally ``%S``, and the literals
    ``/ - : . T`` and space are taken, and only values of exactly that shape (ASCII digits,
    valid date and time, no leap second). Returns None when the format or any non-null value
    is not of that kind: the caller parses with polars then. Where it returns a column, it
    equals ``raw.str.strptime(pl.Datetime("us"), fmt, strict=False, exact=True)`` (checked by
    a differential test). ``buffers``: ``raw``'s, when the caller has them (no copy made).
    """
    from penlink_adapters._convert_kernel import string_buffers
    from penlink_adapters._time_kernel import naive_time_kernel

    spec = _time_spec(fmt)
    if spec is None or raw.dtype != pl.String:
        return None
    micros, ok = naive_time_kernel(*(buffers or string_buffers(raw)), spec)
    if not ok:
        return None
    parsed = pl.Series(raw.name, micros, pl.Int64).cast(pl.Datetime("us"))
    if raw.null_count():
        parsed = pl.select(pl.when(raw.is_not_null()).then(parsed)).to_series().alias(raw.name)
    return parsed


def _time_spec(fmt: str) -> Any:
    """The kernel's codes for ``fmt`` (see :func:`fixed_width_times`), None if not supported."""
    spec: list[int] = []
    seen: set[str] = set()
    i = 0
    while i < len(fmt):
        char = fmt[i]
        if char != "%":
            if char not in _LITERALS:
                return None
            spec.append(ord(char))
            i += 1
            continue
        field = fmt[i + 1 : i + 2]
        code = _FIELD_CODES.get(field) or (_SECOND if field == "S" else None)
        if code is None or field in seen:
            return None
        seen.add(field)
        spec += [code[0]] * code[1]
        i += 2
    if not set(_FIELD_CODES) <= seen:
        return None
    return np.array(spec, dtype=np.int64)


def parse_offset_expr(col: pl.Expr, formats: tuple[str, ...]) -> pl.Expr:
    """Parse text carrying its own UTC offset (``%z``) to a UTC datetime."""
    fmts = [f for f in formats if "%z" in f] or [
        "%Y-%m-%dT%H:%M:%S%z",
        "%Y-%m-%d %H:%M:%S%z",
        "%Y-%m-%dT%H:%M:%S%.f%z",
    ]
    parsed = [
        col.str.strptime(
            pl.Datetime("us", "UTC"), f, strict=False, exact=True
        ).dt.convert_time_zone("UTC")
        for f in fmts
    ]
    # A trailing "Z" means UTC.
    zulu = col.str.replace(r"Z$", "+0000")
    parsed += [
        zulu.str.strptime(
            pl.Datetime("us", "UTC"), f, strict=False, exact=True
        ).dt.convert_time_zone("UTC")
        for f in fmts
    ]
    return pl.coalesce(parsed)


def local_to_utc_expr(naive: pl.Expr, zone: str) -> pl.Expr:
    """Interpret naive local times in ``zone`` and convert to UTC; DST gaps/overlaps -> null."""
    return naive.dt.replace_time_zone(
        zone, ambiguous="null", non_existent="null"
    ).dt.convert_time_zone("UTC")


def dst_reason_expr(naive: pl.Expr, zone: str) -> pl.Expr:
    """``dst_nonexistent`` or ``dst_ambiguous`` for a naive time that has no single UTC instant."""
    earliest = naive.dt.replace_time_zone(zone, ambiguous="earliest", non_existent="null")
    return (
        pl.when(earliest.is_null())
        .then(pl.lit("dst_nonexistent"))
        .otherwise(pl.lit("dst_ambiguous"))
    )


def epoch_expr(col: pl.Expr) -> pl.Expr:
    """UTC epoch seconds (unsigned 32-bit, ``0`` = never) to a UTC datetime."""
    secs = col.cast(pl.Int64, strict=False)
    secs = pl.when((secs > 0) & (secs < 2**32)).then(secs).otherwise(None)
    return pl.from_epoch(secs, time_unit="s").dt.replace_time_zone("UTC").cast(_UTC)


_SECONDS = r"^\d+(?:\.0+)?$"
_MMSS = r"^(\d+):([0-5]?\d)$"
_HHMMSS = r"^(\d+):([0-5]?\d):([0-5]?\d)$"


def duration_expr(col: pl.Expr, fmt: DurationFormat, *, dotted: bool = True) -> pl.Expr:
    """Parse a duration to whole seconds (null when it does not fit the format).

    ``dotted=False`` when the caller knows no value contains ``.``: a value in seconds is
    then all digits and is cast as it is, without extracting its digits first.
    """
    whole = col.str.extract(r"^(\d+)", 1) if dotted else col
    seconds = (
        pl.when(col.str.contains(_SECONDS)).then(whole.cast(pl.Int64, strict=False)).otherwise(None)
    )
    mmss = col.str.extract(_MMSS, 1).cast(pl.Int64, strict=False) * 60 + col.str.extract(
        _MMSS, 2
    ).cast(pl.Int64, strict=False)
    hhmmss = (
        col.str.extract(_HHMMSS, 1).cast(pl.Int64, strict=False) * 3600
        + col.str.extract(_HHMMSS, 2).cast(pl.Int64, strict=False) * 60
        + col.str.extract(_HHMMSS, 3).cast(pl.Int64, strict=False)
    )
    if fmt == "seconds":
        return seconds
    if fmt == "mm:ss":
        return mmss
    if fmt == "hh:mm:ss":
        return hhmmss
    return pl.coalesce([seconds, mmss, hhmmss])


_DURATION_CODES: Final = {"seconds": 0, "mm:ss": 1, "hh:mm:ss": 2, "auto": 3}


def duration_series(raw: pl.Series, fmt: DurationFormat) -> pl.Series | None:
    """``raw`` parsed as :func:`duration_expr` does, in one numba pass; None: use that.

    The kernel declines a chunk holding a non-ASCII value or a very long number
    (:func:`~penlink_adapters._convert_kernel.duration_kernel`).
    """
    from penlink_adapters._convert_kernel import (
        duration_kernel,
        duration_view_kernel,
        string_buffers,
        string_views,
    )

    if raw.dtype != pl.String:
        return None
    code = _DURATION_CODES[fmt]
    views = string_views(raw)  # polars' own buffers, without a copy, when it hands them out
    status = 2
    if views is not None:
        seconds, parsed, status = duration_view_kernel(*views, code)
    if status == 2:
        seconds, parsed, ok = duration_kernel(*string_buffers(raw), code)
        status = 0 if ok else 1
    if status:
        return None
    out = pl.Series(raw.name, seconds, pl.Int64)
    if not parsed.all():
        out = pl.select(pl.when(pl.Series(parsed)).then(out)).to_series()
    return out.alias(raw.name)


def int_expr(col: pl.Expr, dtype: pl.DataType) -> pl.Expr:
    """Parse an integer column (``12`` or ``12.0``), null when it is not one."""
    return (
        pl.when(col.str.contains(r"^-?\d+(?:\.0+)?$"))
        .then(col.str.extract(r"^(-?\d+)", 1).cast(dtype, strict=False))
        .otherwise(None)
    )


def float_expr(col: pl.Expr, low: float, high: float) -> pl.Expr:
    """Parse a float within ``[low, high]``, null otherwise."""
    value = col.cast(pl.Float64, strict=False)
    return pl.when(value.is_between(low, high)).then(value).otherwise(None)
