"""One chunk of raw text columns to canonical values, with a reject reason per row.

The chunk arrives as a polars frame of strings named after canonical fields (see
:data:`penlink_adapters._layout.CALL_FIELDS`) plus ``_row`` and ``_raw``. The result holds the
canonical non-identifier columns, the identifier ``*_raw``/``*_input`` columns, and
``_reason``/``_column``/``_detail`` (null for good rows). Identifier normalization happens
afterwards, in one place (:mod:`penlink_adapters._identify`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

import numpy as np
import polars as pl

from penlink_adapters._code_kernel import (
    byte_words,
    choose_kernel,
    distinct_kernel,
    few_distinct_kernel,
    fill_kernel,
)
from penlink_adapters._convert_kernel import (
    UNDECIDED,
    empty_count,
    lookup_kernel,
    lookup_view_kernel,
    string_buffers,
    string_views,
)
from penlink_adapters._convert_time import start_columns, utc_expr
from penlink_adapters._layout import CALL_FIELDS, PARTY_FIELDS, Layout
from penlink_adapters._quirks import PARTIES, apply_hooks
from penlink_adapters._values import (
    duration_expr,
    duration_series,
    float_expr,
    int_expr,
    null_expr,
    parse_naive_expr,
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
    df: pl.DataFrame,
    layout: Layout,
    ctx: ConvertContext,
    *,
    trimmed: bool = False,
    empties: Mapping[str, int] | None = None,
) -> pl.DataFrame:
    """Convert one chunk of call-record rows (see the module docstring).

    ``trimmed``: the caller knows that no field has leading or trailing blanks. ``empties``:
    per column, how many values are there and empty, when the caller counted them.
    """
    df = _with_fields(df, layout, CALL_FIELDS, trimmed, empties)
    # The quirk hooks change neither code column: their distinct values serve throughout.
    codes = _codes_of(df)
    _count_unknown(codes, layout, ctx)
    df = df.with_columns(_direction(codes, layout))
    df = _assign_parties(df, layout, ctx)
    df = df.with_columns(
        *(pl.col(p).alias(f"{p}_input") for p in PARTIES), pl.lit(None, _S).alias("_event")
    )
    df, done = apply_hooks(df, layout.hooks, layout_path=layout.path)
    ctx.quirks.update(done)
    df = df.with_columns(_event_type(df, codes, layout), *_target_exprs(df, layout, ctx))
    df = start_columns(df, layout, ctx)
    df = df.with_columns(
        _duration(df, layout).alias("duration_s"),
        _unless_empty(df, "leg", int_expr(pl.col("leg"), pl.Int32()), pl.Int32()).alias("leg_i"),
        *(
            _unless_empty(
                df, f"{s}_{c}", float_expr(pl.col(f"{s}_{c}"), -lim, lim), pl.Float64
            ).alias(f"{s}_{c}_f")
            for s in ("first", "last")
            for c, lim in (("lat", 90.0), ("lon", 180.0))
        ),
        _call_group_expr(layout, df.columns),
    )
    if _all_good(df, ctx):
        return df.with_columns(pl.lit(None, _S).alias(c) for c in ("_reason", "_column", "_detail"))
    return df.with_columns(_call_reasons()).with_columns(
        pl.col("_reason").struct.field("reason").alias("_reason"),
        pl.col("_reason").struct.field("column").alias("_column"),
        pl.col("_reason").struct.field("detail").alias("_detail"),
    )


_CHECKED: Final = (
    ("duration", "duration_s"),
    ("leg", "leg_i"),
    *((f"{s}_{c}", f"{s}_{c}_f") for s in ("first", "last") for c in ("lat", "lon")),
)
"""Raw and parsed columns: a row is rejected where the raw value is there and the parsed not."""


def _all_good(df: pl.DataFrame, ctx: ConvertContext) -> bool:
    """Whether no row of the converted chunk is rejected, from null counts where they tell.

    A parsed column is null wherever its raw column is: it fails somewhere exactly when it
    has more nulls. A row without a start time is rejected whatever else it holds.
    """
    if df["start_utc"].null_count():
        return False
    if any(df[parsed].null_count() != df[raw].null_count() for raw, parsed in _CHECKED):
        return False
    parties = ("orig", "term", "target")
    if ctx.target is not None or any(df[p].null_count() == 0 for p in parties):
        return True
    return not df.select(pl.all_horizontal(pl.col(p).is_null() for p in parties).any()).item()


def _unless_empty(df: pl.DataFrame, name: str, parse: pl.Expr, dtype: Any) -> pl.Expr:
    """``parse``, or a null of ``dtype`` when the column is empty in this chunk."""
    if df[name].null_count() == len(df):
        return pl.lit(None, dtype)
    return parse


def convert_parties(
    df: pl.DataFrame,
    layout: Layout,
    ctx: ConvertContext,
    *,
    trimmed: bool = False,
    empties: Mapping[str, int] | None = None,
) -> pl.DataFrame:
    """Convert one chunk of subscriber or miscellaneous rows (``trimmed``, ``empties``: above)."""
    df = _with_fields(df, layout, PARTY_FIELDS, trimmed, empties)
    df = df.with_columns(pl.col("identifier").alias("identifier_input"))
    sep = layout.list_separator
    birth = parse_naive_expr(pl.col("birth_date"), layout.date_formats).dt.date()
    df = df.with_columns(
        pl.col("aliases").str.split(sep).list.eval(pl.element().str.strip_chars()).alias("aliases"),
        birth.alias("birth_date_d"),
        *(utc_expr(pl.col(c), layout, ctx).alias(f"{c}_utc") for c in ("activated", "deactivated")),
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
    df: pl.DataFrame,
    layout: Layout,
    fields: tuple[str, ...],
    trimmed: bool,
    empties: Mapping[str, int] | None,
) -> pl.DataFrame:
    present = [f for f in fields if f in df.columns]
    known = empties or {}
    return df.with_columns(
        *(_null_sentinels(df, f, layout, trimmed, known.get(f)) for f in present),
        *(pl.lit(None, _S).alias(f) for f in fields if f not in df.columns),
    )


def _null_sentinels(
    df: pl.DataFrame, name: str, layout: Layout, trimmed: bool, empty: int | None
) -> pl.Expr:
    """:func:`~penlink_adapters._values.null_expr` of a column, or what it gives, found cheaply.

    When the only sentinel is the empty value and no value needs stripping, the number of
    empty values tells which are: none (the column as it is), all (a null column), or some.
    ``empty``: that number when the cut counted it, else the view lengths give it.
    """
    sentinels = {*layout.nulls, *layout.column_nulls.get(name, ())}
    if not trimmed or sentinels != {""}:
        return null_expr(name, layout, strip=not trimmed)
    if empty is None:
        views = string_views(df[name])
        if views is None:
            return null_expr(name, layout, strip=False)
        empty = empty_count(views[1], views[3])
    if empty == 0:
        return pl.col(name)
    if empty + df[name].null_count() == len(df):
        return pl.lit(None, _S).alias(name)
    return null_expr(name, layout, strip=False)


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
        rows = np.bincount(self.index + 1, minlength=len(self.keys) + 1)  # nulls at 0
        return [int(n) for n in rows[1:]]

    def mapped(self, table: Mapping[str, str]) -> pl.Series:
        """Each row's code mapped through ``table`` (null when not there)."""
        return _first_of([self.choice(table)], None, self.name)

    def choice(self, table: Mapping[str, str]) -> _Choice:
        """Each row's code mapped through ``table`` (none when not there): see :func:`_first_of`."""
        return [table.get(k) for k in self.keys], self.index


_Choice = tuple[list[str | None], np.ndarray[Any, Any]]
"""Values, and per row the index of its value (negative or a None value: nothing there)."""


def _first_of(choices: list[_Choice], default: str | None, name: str) -> pl.Series:
    """Per row, the first choice with a value there, else ``default``: one gather of strings.

    The same as coalescing the mapped columns, done on the small index arrays.
    """
    values: list[str | None] = []
    out = np.full(len(choices[0][1]), -1, dtype=np.int64)
    for table, index in choices:
        some = np.array([v is not None for v in table], dtype=np.bool_)
        choose_kernel(out, index, some, len(values))
        values += table
    values.append(default)
    fill_kernel(out, len(values) - 1)
    return pl.Series(name, values, dtype=_S).gather(out)


def _codes_of(df: pl.DataFrame) -> dict[str, _Folded]:
    """The two code columns, folded."""
    return {name: _fold(df[name]) for name in ("direction", "event_type")}


def _fold(values: pl.Series) -> _Folded:
    """``values`` (already stripped by null_expr) folded: one lookup a row, the rest per code.

    Code columns hold a handful of distinct values: lowercasing those costs less than
    lowercasing every row, and every table the column goes through is then a lookup in a
    short list (:meth:`_Folded.choice`) instead of a lookup a row.
    """
    views = string_views(values)
    found = None
    if views is not None:
        longs = byte_words(views[2])
        index, first, status = few_distinct_kernel(*views, longs)
        found = (index, first, status == 0)
        if status == 1:
            with np.errstate(over="ignore"):  # without JIT: hashes wrap as compiled ones do
                found = distinct_kernel(*views, longs)
    if found is not None and found[2]:
        distinct = values.gather(found[1])
        raw = found[0]
    else:
        distinct = values.drop_nulls().unique()
        # The position of each row's value among the distinct ones: the physical Enum code.
        enum = values.cast(pl.Enum(distinct.to_list())).to_physical().fill_null(-1)
        raw = enum.to_numpy()
    positions: dict[str, int] = {}
    folded = [positions.setdefault(f, len(positions)) for f in distinct.str.to_lowercase()]
    index = np.array([*folded, -1], dtype=np.int32)[raw]
    return _Folded(values.name, list(positions), index)


def _lookup(values: pl.Series, keys: list[str], *, digits: bool) -> np.ndarray[Any, Any]:
    """:func:`~penlink_adapters._convert_kernel.lookup_kernel` over a string column."""
    encoded = [k.encode() for k in keys]
    key_offsets = np.cumsum([0, *(len(k) for k in encoded)], dtype=np.int64)
    key_data = np.frombuffer(b"".join(encoded), dtype=np.uint8)
    views = string_views(values)
    if views is not None:
        found, ok = lookup_view_kernel(*views, key_offsets, key_data, digits)
        if ok:
            return found  # type: ignore[no-any-return]
    result: np.ndarray[Any, Any] = lookup_kernel(
        *string_buffers(values), key_offsets, key_data, digits
    )
    return result


def _direction(codes: dict[str, _Folded], layout: Layout) -> pl.Series:
    """The direction code mapped, else the one the event type implies."""
    choices = [
        codes["direction"].choice(layout.direction_map),
        codes["event_type"].choice(layout.event_direction),
    ]
    return _first_of(choices, None, "direction")


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


def _event_type(df: pl.DataFrame, codes: dict[str, _Folded], layout: Layout) -> pl.Expr:
    """A quirk's event type, else a service number's, else the code's, else the default."""
    choices = []
    if layout.service_events:
        choices.append(_service_choice(df, layout.service_events))
    choices.append(codes["event_type"].choice(layout.event_map))
    found = _first_of(choices, layout.event_default, "event_type")
    if df["_event"].null_count() == len(df):
        return pl.lit(found).alias("event_type")
    return pl.coalesce(pl.col("_event"), pl.lit(found)).alias("event_type")


def _service(df: pl.DataFrame, events: Mapping[str, str]) -> pl.Series:
    """The event type of rows whose terminating number is a service number (null if none)."""
    values, index = _service_choice(df, events)
    return pl.Series(values, dtype=_S).gather(index).alias("_service")


def _service_choice(df: pl.DataFrame, events: Mapping[str, str]) -> _Choice:
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
    return values, np.where(index >= 0, index, len(direct))


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


def _target_exprs(df: pl.DataFrame, layout: Layout, ctx: ConvertContext) -> list[pl.Expr]:
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
    if rule == "by_direction":  # each chosen once, then only where a row needs the given one
        if layout.hooks:
            found = df.select(raw.alias("target"), value.alias("target_input"))
        else:  # without hooks, each <party>_input is <party> itself: choose once
            chosen = df.select(raw.alias("target")).to_series()
            found = pl.DataFrame([chosen, chosen.alias("target_input")])
        if found["target"].null_count() == 0:
            return [pl.lit(found["target"]), pl.lit(found["target_input"])]
        raw, value = pl.lit(found["target"]), pl.lit(found["target_input"])
    return [
        pl.coalesce(raw, given).alias("target"),
        pl.when(raw.is_null()).then(given).otherwise(value).alias("target_input"),
    ]


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
