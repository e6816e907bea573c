"""Reference for tests: main's ``penlink_adapters/_convert.py`` at 0027e94, unchanged but this line.

One chunk of raw text columns to canonical values, with a reject reason per row.

The chunk arrives as a polars frame of strings named after canonical fields (see
:data:`penlink_adapters._layout.CALL_FIELDS`) plus ``_row`` and ``_raw``. The result holds the
canonical non-identifier columns, the identifier ``*_raw``/``*_input`` columns, and
``_reason``/``_column``/``_detail`` (null for good rows). Identifier normalization happens
afterwards, in one place (:mod:`penlink_adapters._identify`).
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import polars as pl

from penlink_adapters._convert_kernel import UNDECIDED, lookup_kernel, string_buffers
from penlink_adapters._layout import CALL_FIELDS, PARTY_FIELDS, Layout
from penlink_adapters._quirks import PARTIES, apply_hooks
from penlink_adapters._values import (
    DEFAULT_TIME_FORMATS,
    dst_reason_expr,
    duration_expr,
    duration_series,
    epoch_expr,
    fixed_width_times,
    float_expr,
    int_expr,
    local_to_utc_expr,
    null_expr,
    parse_naive_expr,
    parse_offset_expr,
)

__all__ = ["ConvertContext", "convert_calls", "convert_parties"]

_S = pl.String


@dataclass
class ConvertContext:
    """What the conversion needs beyond the layout, and what it learns across chunks."""

    zone: str | None
    """Declared zone of local times (``--tz``), validated."""
    target: str | None
    """The target identifier given by the user or found in the preamble."""
    quirks: Counter[str] = field(default_factory=Counter)
    """What the layout's quirk hooks did: message -> rows, over all chunks."""
    unknown_codes: Counter[str] = field(default_factory=Counter)
    """``field: code`` of direction/event codes missing from the layout's tables."""


def convert_calls(
    df: pl.DataFrame, layout: Layout, ctx: ConvertContext, *, trimmed: bool = False
) -> pl.DataFrame:
    """Convert one chunk of call-record rows (see the module docstring).

    ``trimmed``: the caller knows that no field has leading or trailing blanks.
    """
    df = _with_fields(df, layout, CALL_FIELDS, trimmed)
    # The quirk hooks change neither code column: their distinct values serve throughout.
    codes = _codes_of(df)
    _count_unknown(codes, layout, ctx)
    df = df.with_columns(_direction_expr(codes, layout).alias("direction"))
    df = _assign_parties(df, layout, ctx)
    df = df.with_columns(
        *(pl.col(p).alias(f"{p}_input") for p in PARTIES), pl.lit(None, _S).alias("_event")
    )
    df, done = apply_hooks(df, layout.hooks, layout_path=layout.path)
    ctx.quirks.update(done)
    df = df.with_columns(
        _event_expr(df, codes, layout).alias("event_type"), *_target_exprs(layout, ctx)
    )
    df = _start_columns(df, layout, ctx)
    df = df.with_columns(
        _duration(df, layout).alias("duration_s"),
        int_expr(pl.col("leg"), pl.Int32()).alias("leg_i"),
        *(
            float_expr(pl.col(f"{s}_{c}"), -lim, lim).alias(f"{s}_{c}_f")
            for s in ("first", "last")
            for c, lim in (("lat", 90.0), ("lon", 180.0))
        ),
        _call_group_expr(layout, df.columns),
    )
    return df.with_columns(_call_reasons()).with_columns(
        pl.col("_reason").struct.field("reason").alias("_reason"),
        pl.col("_reason").struct.field("column").alias("_column"),
        pl.col("_reason").struct.field("detail").alias("_detail"),
    )


def convert_parties(
    df: pl.DataFrame, layout: Layout, ctx: ConvertContext, *, trimmed: bool = False
) -> pl.DataFrame:
    """Convert one chunk of subscriber or miscellaneous rows (``trimmed``: as above)."""
    df = _with_fields(df, layout, PARTY_FIELDS, trimmed)
    df = df.with_columns(pl.col("identifier").alias("identifier_input"))
    sep = layout.list_separator
    birth = parse_naive_expr(pl.col("birth_date"), layout.date_formats).dt.date()
    df = df.with_columns(
        pl.col("aliases").str.split(sep).list.eval(pl.element().str.strip_chars()).alias("aliases"),
        birth.alias("birth_date_d"),
        *(
            _utc_expr(pl.col(c), layout, ctx).alias(f"{c}_utc")
            for c in ("activated", "deactivated")
        ),
    )
    return df.with_columns(
        _first_reason(
            [
                (
                    pl.col("identifier").is_null(),
                    "missing_identifier",
                    "identifier",
                    "no identifier",
                ),
                (_failed("birth_date", "birth_date_d"), "bad_date", "birth_date", "unparsed date"),
                (_failed("activated", "activated_utc"), "bad_date", "activated", "unparsed time"),
                (_failed("deactivated", "deactivated_utc"), "bad_date", "deactivated", "unparsed"),
            ]
        )
    ).with_columns(
        pl.col("_reason").struct.field("reason").alias("_reason"),
        pl.col("_reason").struct.field("column").alias("_column"),
        pl.col("_reason").struct.field("detail").alias("_detail"),
    )


def _with_fields(
    df: pl.DataFrame, layout: Layout, fields: tuple[str, ...], trimmed: bool
) -> pl.DataFrame:
    present = [f for f in fields if f in df.columns]
    df = df.with_columns(null_expr(f, layout, strip=not trimmed) for f in present)
    return df.with_columns(pl.lit(None, _S).alias(f) for f in fields if f not in df.columns)


@dataclass(frozen=True)
class _Folded:
    """A code column of one chunk, folded (lowercased): its distinct codes and each row's."""

    name: str
    keys: list[str]
    """The distinct folded codes."""
    index: np.ndarray[Any, np.dtype[np.int32]]
    """Per row, the index of its folded code in ``keys``; negative for a null value."""

    def counts(self) -> list[int]:
        """Rows per key."""
        found = self.index[self.index >= 0]
        return [int(n) for n in np.bincount(found, minlength=len(self.keys))]

    def mapped(self, table: Mapping[str, str]) -> pl.Series:
        """Each row's code mapped through ``table`` (null when not there)."""
        values = pl.Series([*(table.get(k) for k in self.keys), None], dtype=_S)
        index = np.where(self.index >= 0, self.index, len(self.keys))
        return values.gather(index).alias(self.name)


def _codes_of(df: pl.DataFrame) -> dict[str, _Folded]:
    """The two code columns, folded."""
    return {name: _fold(df[name]) for name in ("direction", "event_type")}


def _fold(values: pl.Series) -> _Folded:
    """``values`` (already stripped by null_expr) folded: one lookup a row, the rest per code.

    Code columns hold a handful of distinct values: lowercasing those costs less than
    lowercasing every row, and every table the column goes through is then a gather of a
    short list (:meth:`_Folded.mapped`) instead of a lookup a row.
    """
    distinct = values.drop_nulls().unique()
    positions: dict[str, int] = {}
    folded = [positions.setdefault(f, len(positions)) for f in distinct.str.to_lowercase()]
    # The position of each row's value among the distinct ones: the physical Enum code.
    raw = values.cast(pl.Enum(distinct.to_list())).to_physical().fill_null(len(distinct))
    index = np.array([*folded, -1], dtype=np.int32)[raw.to_numpy()]
    return _Folded(values.name, list(positions), index)


def _lookup(values: pl.Series, keys: list[str], *, digits: bool) -> np.ndarray[Any, Any]:
    """:func:`~penlink_adapters._convert_kernel.lookup_kernel` over a string column."""
    encoded = [k.encode() for k in keys]
    key_offsets = np.cumsum([0, *(len(k) for k in encoded)], dtype=np.int64)
    key_data = np.frombuffer(b"".join(encoded), dtype=np.uint8)
    offsets, data, valid = string_buffers(values)
    result: np.ndarray[Any, Any] = lookup_kernel(
        offsets, data, valid, key_offsets, key_data, digits
    )
    return result


def _direction_expr(codes: dict[str, _Folded], layout: Layout) -> pl.Expr:
    mapped = codes["direction"].mapped(layout.direction_map)
    from_event = codes["event_type"].mapped(layout.event_direction)
    return pl.coalesce(pl.lit(mapped), pl.lit(from_event))


def _duration(df: pl.DataFrame, layout: Layout) -> pl.Expr:
    """Whole seconds of the duration column: by the kernel, or by the expression."""
    fast = duration_series(df["duration"], layout.duration_format)
    if fast is not None:
        return pl.lit(fast)
    dotted = bool(df.select(pl.col("duration").str.contains(".", literal=True).any()).item())
    return duration_expr(pl.col("duration"), layout.duration_format, dotted=dotted)


def _assign_parties(df: pl.DataFrame, layout: Layout, ctx: ConvertContext) -> pl.DataFrame:
    if "self" not in layout.columns and "other" not in layout.columns:
        return df
    me = pl.col("self") if "self" in layout.columns else pl.lit(ctx.target, _S)
    incoming = pl.col("direction") == "incoming"
    return df.with_columns(
        pl.when(incoming).then(pl.col("other")).otherwise(me).alias("orig"),
        pl.when(incoming).then(me).otherwise(pl.col("other")).alias("term"),
        me.alias("self"),
    )


def _count_unknown(codes: dict[str, _Folded], layout: Layout, ctx: ConvertContext) -> None:
    for name, table in (("direction", layout.direction_map), ("event_type", layout.event_map)):
        if not table or name not in layout.columns:
            continue
        extra = set(layout.event_direction) if name == "event_type" else set()
        for code, n in zip(codes[name].keys, codes[name].counts(), strict=True):
            if n and code not in table and code not in extra:
                ctx.unknown_codes[f"{name}: {code}"] += n


def _event_expr(df: pl.DataFrame, codes: dict[str, _Folded], layout: Layout) -> pl.Expr:
    mapped = pl.lit(codes["event_type"].mapped(layout.event_map))
    service: pl.Expr = pl.lit(None, _S)
    if layout.service_events:
        service = pl.lit(_service(df, layout.service_events))
    return pl.coalesce(pl.col("_event"), service, mapped, pl.lit(layout.event_default, _S))


def _service(df: pl.DataFrame, events: Mapping[str, str]) -> pl.Series:
    """The event type of rows whose terminating number is one of the layout's service numbers.

    A value of ASCII digits only hits exactly when it is a service number, or ``1`` and a
    10-digit one (:func:`_term_digits`): such values are looked up by the kernel. The few
    others (with a blank, a dash, a non-ASCII digit) take the digits path, once per distinct
    value.
    """
    direct = {k: v for k, v in events.items() if (k.isascii() and k.isdigit()) or k == ""}
    direct = {k: v for k, v in direct.items() if not (len(k) == 11 and k.startswith("1"))}
    direct |= {f"1{k}": v for k, v in direct.items() if len(k) == 10}
    term = df["term_input"]
    index = _lookup(term, list(direct), digits=True)
    values = [*direct.values(), None]
    undecided = index == UNDECIDED
    if undecided.any():
        distinct = term.filter(pl.Series(undecided)).unique().to_frame()
        service = _term_digits(distinct).replace_strict(events, default=None, return_dtype=_S)
        hits = distinct.select("term_input", service.alias("_service")).drop_nulls("_service")
        more = dict(zip(hits["term_input"].to_list(), hits["_service"].to_list(), strict=True))
        others = term.filter(pl.Series(undecided))
        first = len(values)
        values += [*more.values(), None]
        index[undecided] = others.replace_strict(
            list(more), list(range(first, first + len(more))), default=len(values) - 1
        ).to_numpy()
    index = np.where(index >= 0, index, len(direct))
    return pl.Series(values, dtype=_S).gather(index).alias("_service")


def _term_digits(df: pl.DataFrame) -> pl.Expr:
    """The digits of ``term_input``, without the NANP trunk ``1`` of an 11-digit number.

    When every value of the chunk is ASCII digits already (the usual case), the same result
    comes from length and prefix tests alone, without a regular expression per row.
    """
    term = pl.col("term_input")
    only_digits = (term.str.strip_chars("0123456789") == "").fill_null(True).all()
    if df.select(only_digits).item():
        trunk = (term.str.len_bytes() == 11) & term.str.starts_with("1")
        return pl.when(trunk).then(term.str.slice(1)).otherwise(term)
    return term.str.replace_all(r"\D", "").str.replace(r"^1(\d{10})$", "${1}")


def _target_exprs(layout: Layout, ctx: ConvertContext) -> list[pl.Expr]:
    """The target's raw value and normalization input, after the quirks ran."""
    rule = layout.target_rule
    given = pl.lit(ctx.target, _S)
    raw: pl.Expr = pl.lit(None, _S)
    value: pl.Expr = pl.lit(None, _S)
    if rule == "column":
        raw, value = pl.col("target"), pl.col("target_input")
    elif rule == "self":
        raw, value = pl.col("self"), pl.col("self")
    elif rule == "by_direction":
        for direction, party in reversed(list(layout.target_by_direction.items())):
            hit = pl.col("direction") == direction
            raw = pl.when(hit).then(pl.col(party)).otherwise(raw)
            value = pl.when(hit).then(pl.col(f"{party}_input")).otherwise(value)
    return [
        pl.coalesce(raw, given).alias("target"),
        pl.when(raw.is_null()).then(given).otherwise(value).alias("target_input"),
    ]


def _start_raw(df: pl.DataFrame, layout: Layout) -> pl.Expr:
    if "start" in layout.columns:
        return pl.col("start")
    # A workbook's date cell reads as "2021-03-14 00:00:00" and its time cell as
    # "1899-12-31 10:00:05" (Excel's day zero): keep the date part and the time part.
    # The replacements run only on chunks that hold such a cell (cheap prefix/suffix tests).
    date, time = pl.col("date"), pl.col("time")
    cells = df.select(
        date.str.ends_with(" 00:00:00").any().alias("date"),
        time.str.starts_with("1899-12-3").any().alias("time"),
    ).row(0)
    if cells[0]:
        date = date.str.replace(r"^(\d{4}-\d{2}-\d{2}) 00:00:00$", "${1}")
    if cells[1]:
        time = time.str.replace(r"^1899-12-3[01] ", "")
    return pl.concat_str([date, time], separator=" ")


def _utc_expr(
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


def _first_format_fits(df: pl.DataFrame, layout: Layout) -> tuple[Layout, pl.Series | None]:
    """The layout with only its first naive time format when that one parses every time.

    Parsing tries the formats in order and keeps the first fit, so when the first format
    parses every time of the chunk the others change nothing and need not run. Also returns
    the times parsed by that format when it fits (what the reduced layout parses them to):
    by the numba kernel when every time has the format's fixed width
    (:func:`~penlink_adapters._values.fixed_width_times`), else by polars.
    """
    if layout.epoch or layout.zone == "offset":
        return layout, None
    formats = layout.time_formats or DEFAULT_TIME_FORMATS
    naive = [f for f in formats if "%z" not in f and "%Z" not in f]
    if not naive:
        return layout, None
    offset = tuple(f for f in formats if f not in naive)
    reduced = dataclasses.replace(layout, time_formats=(naive[0], *offset))
    fixed = fixed_width_times(df["start_raw"], naive[0])
    if fixed is not None:
        return reduced, fixed
    if len(naive) < 2:
        return layout, None
    raw = pl.col("start_raw")
    parsed = df.select(raw.str.strptime(pl.Datetime("us"), naive[0], strict=False, exact=True))
    parsed_s = parsed.to_series()
    if (df["start_raw"].is_not_null() & parsed_s.is_null()).any():
        return layout, None
    return reduced, parsed_s


def _start_columns(df: pl.DataFrame, layout: Layout, ctx: ConvertContext) -> pl.DataFrame:
    df = df.with_columns(_start_raw(df, layout).alias("start_raw"))
    layout, parsed = _first_format_fits(df, layout)
    naive: pl.Expr | None = None
    if parsed is not None:
        df = df.with_columns(parsed.alias("_naive"))
        naive = pl.col("_naive")
    df = df.with_columns(_utc_expr(pl.col("start_raw"), layout, ctx, naive).alias("start_utc"))
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
        if naive is None:
            naive = parse_naive_expr(pl.col("start_raw"), layout.time_formats)
        dst = pl.when(naive.is_not_null()).then(dst_reason_expr(naive, ctx.zone)).otherwise(dst)
    df = df.with_columns(
        pl.when(pl.col("start_utc").is_not_null()).then(source).alias("tz_source"),
        pl.when(pl.col("start_utc").is_not_null()).then(name).cast(_S).alias("tz_name"),
        dst.alias("_time_reason"),
    )
    return df.drop("_naive", strict=False)


def _call_group_expr(layout: Layout, present: list[str]) -> pl.Expr:
    parts = [f"_g{i}" for i in range(len(layout.call_group))]
    if not parts or not all(p in present for p in parts):
        return pl.lit(None, _S).alias("call_group")
    return pl.concat_str([pl.col(p).str.strip_chars() for p in parts], separator="-").alias(
        "call_group"
    )


def _failed(raw: str, parsed: str) -> pl.Expr:
    return pl.col(raw).is_not_null() & pl.col(parsed).is_null()


def _first_reason(checks: list[tuple[pl.Expr, str, str, str]]) -> pl.Expr:
    out: pl.Expr = pl.lit(None, pl.Struct({"reason": _S, "column": _S, "detail": _S}))
    for cond, reason, column, detail in reversed(checks):
        value = pl.struct(
            pl.lit(reason).alias("reason"),
            pl.lit(column).alias("column"),
            pl.lit(detail).alias("detail"),
        )
        out = pl.when(cond).then(value).otherwise(out)
    return out.alias("_reason")


def _call_reasons() -> pl.Expr:
    no_party = pl.all_horizontal(pl.col(p).is_null() for p in ("orig", "term", "target"))
    time = pl.struct(
        pl.col("_time_reason").alias("reason"),
        pl.lit("start").alias("column"),
        pl.concat_str(
            pl.lit("cannot place "), pl.col("start_raw").fill_null("(empty)"), pl.lit(" in UTC")
        ).alias("detail"),
    )
    checks = _first_reason(
        [
            (no_party, "missing_identifier", "orig", "no originating, terminating or target id"),
            (_failed("duration", "duration_s"), "bad_value", "duration", "unparsed duration"),
            (_failed("leg", "leg_i"), "bad_value", "leg", "leg is not an integer"),
            *(
                (
                    _failed(f"{s}_{c}", f"{s}_{c}_f"),
                    "bad_value",
                    f"{s}_{c}",
                    "coordinate out of range",
                )
                for s in ("first", "last")
                for c in ("lat", "lon")
            ),
        ]
    )
    return (
        pl.when(pl.col("start_utc").is_null() & ~no_party)
        .then(time)
        .otherwise(checks)
        .alias("_reason")
    )
