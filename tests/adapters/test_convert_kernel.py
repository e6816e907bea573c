"""The conversion's numba kernels agree with the polars expressions they stand in for.

Durations (:func:`duration_series` against :func:`duration_expr`), code columns (the lookup
kernel and its per-distinct-value fallback against lowercasing and mapping every row, with
the unknown-code counts), the service numbers, and whole chunks of T-Mobile-like and
generic-layout rows through :func:`convert_calls` against the same chunk with every kernel
declined (which sends each column down its polars expression): values and reasons identical.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import numpy as np
import polars as pl
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from penlink_adapters import _code_kernel, _convert, _convert_kernel
from penlink_adapters._convert import ConvertContext, convert_calls
from penlink_adapters._layout import DurationFormat
from penlink_adapters._values import duration_expr, duration_series

_FORMATS: tuple[DurationFormat, ...] = ("seconds", "mm:ss", "hh:mm:ss", "auto")

_DURATIONS = st.one_of(
    st.none(),
    st.sampled_from(["", "0", "007", "61", "1:05", "1:60", "01:5", "1:2:3", "12:59:59", "1.0"]),
    st.sampled_from(["1.", ".0", "1.00", "1.5", "9" * 16, "9" * 15, "1" * 15 + ":59", "-1"]),
    st.text(st.sampled_from("0123456789:."), max_size=10),
    st.text(st.sampled_from("0123456789: .+-e\u0663"), max_size=8),
)


@settings(max_examples=150, deadline=None)
@given(values=st.lists(_DURATIONS, max_size=30))
@pytest.mark.parametrize("fmt", _FORMATS)
def test_duration_kernel_matches_the_expression(values: list[str | None], fmt: str) -> None:
    raw = pl.Series("d", values, pl.String)
    want = raw.to_frame().select(duration_expr(pl.col("d"), fmt))["d"]  # type: ignore[arg-type]
    got = duration_series(raw, fmt)  # type: ignore[arg-type]
    if got is None:  # declined: only for a non-ASCII value or a very long number
        assert any(v and (not v.isascii() or len(v) > 15) for v in values)
        return
    assert got.to_list() == want.to_list()


def test_duration_kernel_python_form_agrees() -> None:
    """The kernel's Python form (what coverage sees) gives what the compiled form gives."""
    raw = pl.Series("d", ["1:05", "12:59:59", "61", "1.0", None, "x", "1:60", ""], pl.String)
    bufs = _convert_kernel.string_buffers(raw)
    kernel: Any = _convert_kernel.duration_kernel
    for fmt in range(4):
        fast, slow = kernel(*bufs, fmt), kernel.py_func(*bufs, fmt)
        assert fast[0].tolist() == slow[0].tolist()
        assert fast[1].tolist() == slow[1].tolist()


def test_lookup_kernel_python_form_agrees() -> None:
    raw = pl.Series("c", ["In", "OUT", None, "\u0130n", "x", "", "12", "1-2"], pl.String)
    bufs = _convert_kernel.string_buffers(raw)
    keys = pl.Series(["in", "out", "", "12"]).to_arrow().cast("large_string")
    key_offsets, key_data = keys.buffers()[1], keys.buffers()[2]
    import numpy as np

    ko = np.frombuffer(key_offsets, np.int64)
    kd = np.frombuffer(key_data, np.uint8)
    kernel: Any = _convert_kernel.lookup_kernel
    for digits in (False, True):
        fast, slow = kernel(*bufs, ko, kd, digits), kernel.py_func(*bufs, ko, kd, digits)
        assert fast.tolist() == slow.tolist()
    assert kernel(*bufs, ko, kd, False).tolist() == [0, 1, -2, -3, -1, 2, 3, -1]
    assert kernel(*bufs, ko, kd, True).tolist() == [-3, -3, -2, -3, -3, 2, 3, -3]


def _layout(name: str) -> Any:
    from penlink_adapters._registry import builtin_layouts

    return builtin_layouts()[name]


def _cased(codes: list[str]) -> st.SearchStrategy[str]:
    """A code of the table in any letter case, or an odd one."""
    known = st.sampled_from(codes).flatmap(
        lambda c: st.lists(st.booleans(), min_size=len(c), max_size=len(c)).map(
            lambda up: "".join(ch.upper() if u else ch for ch, u in zip(c, up, strict=True))
        )
    )
    odd = st.one_of(
        st.sampled_from(["", "NA", "\u0130n", "K\u212a", "\u00e9v"]), st.text(max_size=4)
    )
    return st.one_of(known, odd)


_NUMBERS = st.one_of(
    st.none(),
    st.sampled_from(["8056377249", "18056377249", "8056377243", "805-637-7243", "", "NA"]),
    st.text(st.sampled_from("0123456789"), min_size=1, max_size=12),
    st.text(st.sampled_from("0123456789-() +\u0663"), max_size=12),
)
_DATES = st.one_of(
    st.none(), st.sampled_from(["03/01/2021", "02/30/2021", "2021-03-01", "3/1/2021", "x", ""])
)
_TIMES = st.one_of(
    st.none(), st.sampled_from(["00:00:11", "23:59:59", "24:00:00", "1:2:3", "12:30", ""])
)
_STARTS = st.one_of(
    st.none(),
    st.sampled_from(["2021-03-01 10:00:00", "2021-03-14 02:30:00", "2021-03-01T10:00:00+0100"]),
    st.sampled_from(["2021-11-07 01:30:00", "2021-03-01 10:00", "bad", ""]),
)


def _rows(layout: Any) -> st.SearchStrategy[dict[str, str | None]]:
    codes = {
        "direction": _cased([*layout.direction_map, "bogus"]),
        "event_type": _cased([*layout.event_map, *layout.event_direction, "bogus"]),
    }
    fields: dict[str, st.SearchStrategy[str | None]] = {}
    for name in layout.columns:
        if name in codes:
            fields[name] = st.one_of(st.none(), codes[name])
        elif name == "duration":
            fields[name] = _DURATIONS
        elif name == "date":
            fields[name] = _DATES
        elif name == "time":
            fields[name] = _TIMES
        elif name == "start":
            fields[name] = _STARTS
        else:
            fields[name] = _NUMBERS
    return st.fixed_dictionaries(fields)


def _convert_both(layout: Any, rows: list[dict[str, str | None]], zone: str | None) -> Any:
    schema = dict.fromkeys(layout.columns, pl.String)
    df = pl.DataFrame(rows, schema=schema).with_row_index("_row").cast({"_row": pl.Int64})
    fast_ctx, slow_ctx = ConvertContext(zone, "2125550142"), ConvertContext(zone, "2125550142")
    fast = convert_calls(df, layout, fast_ctx)
    declined = _convert_kernel.UNDECIDED

    def undecided(values: pl.Series, keys: list[str], *, digits: bool) -> Any:
        import numpy as np

        nulls = values.is_null().to_numpy()
        return np.where(nulls, _convert_kernel.NULL, declined).astype(np.int32)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(_convert, "_lookup", undecided)
        mp.setattr(_convert, "duration_series", lambda raw, fmt: None)
        slow = convert_calls(df, layout, slow_ctx)
    return fast, slow, fast_ctx, slow_ctx


@settings(max_examples=60, deadline=None)
@given(data=st.data())
@pytest.mark.parametrize(("name", "zone"), [("tmobile", None), ("generic", "America/New_York")])
def test_convert_calls_equals_the_polars_path(data: st.DataObject, name: str, zone: str) -> None:
    layout = _layout(name)
    rows = data.draw(st.lists(_rows(layout), min_size=1, max_size=25))
    fast, slow, fast_ctx, slow_ctx = _convert_both(layout, rows, zone)
    assert fast.columns == slow.columns
    assert fast.to_dicts() == slow.to_dicts()
    assert fast_ctx.unknown_codes == slow_ctx.unknown_codes
    assert fast_ctx.quirks == slow_ctx.quirks


def test_unknown_codes_are_counted_folded() -> None:
    layout = _layout("tmobile")
    rows: list[dict[str, str | None]] = [dict.fromkeys(layout.columns) for _ in range(4)]
    for row, code in zip(rows, ["Bogus", "bOGUS", "mSOriginating", "\u00c9v"], strict=True):
        row["event_type"] = code
        row["direction"] = "Outgoing"
    _, _, ctx, slow_ctx = _convert_both(layout, rows, None)
    assert ctx.unknown_codes == Counter({"event_type: bogus": 2, "event_type: \u00e9v": 1})
    assert slow_ctx.unknown_codes == ctx.unknown_codes


_VALUES = st.one_of(
    st.none(),
    st.sampled_from(["", "In", "in", "OUT", "mSOriginatingSMSinMSC", "8056377249", "1:05"]),
    # Long values equal in length, first 4 and last 8 bytes: only the middle tells them apart.
    st.sampled_from(["mSOriginatingSMSinMSC", "mSOriginXtingSMSinMSC", "mSOriginatingSMXinMSC"]),
    st.text(st.sampled_from("0123456789:.-aB\u00e9"), max_size=20),
)


def _views_of(values: list[str | None], split: bool) -> tuple[pl.Series, Any]:
    """A string column and its views; ``split``: built from two frames (two data buffers)."""
    raw = pl.Series("c", values, pl.String)
    if split and len(values) > 1:
        half = len(values) // 2
        raw = pl.concat([raw.head(half), raw.tail(len(values) - half)], rechunk=True)
    return raw, _convert_kernel.string_views(raw)


@pytest.mark.nojit
@settings(max_examples=150, deadline=None)
@given(values=st.lists(_VALUES, max_size=40), split=st.booleans())
def test_view_kernels_match_the_offsets_kernels(values: list[str | None], split: bool) -> None:
    """Distinct numbering, empty counts, lookups and durations over views, as over offsets."""
    raw, views = _views_of(values, split)
    assert views is not None
    kernels: Any = _convert_kernel  # numba dispatchers, untyped
    with np.errstate(over="ignore"):
        longs = _code_kernel.byte_words(views[2])
        index, first, ok = _code_kernel.distinct_kernel(*views, longs)
    if ok:  # else: a long value in a second buffer, and the caller takes polars' path
        assert [None if k < 0 else values[first[k]] for k in index] == values
        assert sorted(first.tolist()) == first.tolist()
        assert len(set(values) - {None}) == len(first)
        few_index, few_first, status = _code_kernel.few_distinct_kernel(*views, longs)
        assert status == (0 if len(first) <= 8 else 1)
        if status == 0:  # the same numbering by a scan as by the hash table
            assert few_index.tolist() == index.tolist()
            assert few_first.tolist() == first.tolist()
    assert kernels.empty_count(views[1], views[3]) == values.count("")
    bufs = kernels.string_buffers(raw)
    keys = ["8056377249", "in", "out", "", "1:05"]
    encoded = [k.encode() for k in keys]
    ko = np.cumsum([0, *(len(k) for k in encoded)], dtype=np.int64)
    kd = np.frombuffer(b"".join(encoded), dtype=np.uint8)
    for digits in (False, True):
        got, found = kernels.lookup_view_kernel(*views, ko, kd, digits)
        if found:
            assert got.tolist() == kernels.lookup_kernel(*bufs, ko, kd, digits).tolist()
    for fmt in range(4):
        seconds, parsed, status = kernels.duration_view_kernel(*views, fmt)
        want = kernels.duration_kernel(*bufs, fmt)
        if status != 2:
            assert status == (0 if want[2] else 1)
        if status == 0:
            assert seconds.tolist() == want[0].tolist()
            assert parsed.tolist() == want[1].tolist()


_ONE_VALUE = st.sampled_from(
    ["", "phone", "UTC", "+12125550142", "123456789012", "1234567890123", "310260000000001"]
)


@pytest.mark.nojit
@settings(max_examples=200, deadline=None)
@given(
    value=_ONE_VALUE,
    n=st.integers(1, 700),
    change=st.one_of(
        st.none(), st.tuples(st.integers(0, 699), st.one_of(_VALUES, st.integers(0, 14)))
    ),
    split=st.booleans(),
    arrow=st.booleans(),
)
def test_one_value_kernel_says_whether_every_value_is_the_first(
    value: str, n: int, change: tuple[int, str | int | None] | None, split: bool, arrow: bool
) -> None:
    """True exactly when every row holds one value (or undecided: False); no row is null.

    Columns longer than the kernel's block of 256 rows, a row changed anywhere (also in one
    byte only, past the views' prefix), built by polars (from one or two frames) or by pyarrow; a long value
    in another data buffer than the first is undecided.
    """
    values: list[str | None] = [value] * n
    if change is not None and change[0] < n:
        other = change[1]
        if isinstance(other, int):  # one byte of the value changed: same length
            at = min(other, len(value) - 1)
            other = value[:at] + ("x" if value[at : at + 1] != "x" else "y") + value[at + 1 :]
        values[change[0]] = other or ""  # the kernel is for columns without nulls
    if arrow:
        views = _convert_kernel.array_views(pa.array(values, pa.string_view()))
    else:
        views = _views_of(values, split)[1]
    assert views is not None
    got = bool(_convert_kernel.one_value_kernel(views[1], views[2]))
    one = len(set(values)) == 1
    words = views[1].reshape(-1, 4)
    in_first = bool(((words[:, 0] <= 12) | (words[:, 2] == 0)).all())
    if got or in_first:  # every long value in the first data buffer: the kernel decides
        assert got == one


_DATE_PARTS = st.one_of(
    st.none(),
    st.sampled_from(["03/01/2021", "2021-03-01", "", "2021-03-14 00:00:00", "31/12/99"]),
    st.text(st.sampled_from("0123456789/-: .\u00e9"), max_size=14),
)
_TIME_PARTS = st.one_of(
    st.none(),
    st.sampled_from(["00:00:11", "12:30", "", "1899-12-31 10:00:05", "7:05:09.123"]),
    st.text(st.sampled_from("0123456789: .\u00e9"), max_size=12),
)


@pytest.mark.nojit
@settings(max_examples=200, deadline=None)
@given(
    rows=st.lists(st.tuples(_DATE_PARTS, _TIME_PARTS), max_size=40),
    split=st.booleans(),
)
def test_join_views_kernel_joins_as_concat_str(
    rows: list[tuple[str | None, str | None]], split: bool
) -> None:
    """``date time`` (null where either is) as polars' ``concat_str``, or declined.

    Declined only for a workbook cell (a date of 19 bytes or more, a time of 11 or more)
    or a long value in a second data buffer; the offsets describe the same values.
    """
    from penlink_adapters._convert_time import _joined
    from penlink_adapters._time_kernel import JOIN_ELSEWHERE, JOIN_WORKBOOK, join_views_kernel

    date, _ = _views_of([d for d, _ in rows], split)
    time, _ = _views_of([t for _, t in rows], split)
    want = pl.select(pl.concat_str([pl.lit(date), pl.lit(time)], separator=" ")).to_series()
    views = _convert_kernel.string_views(date), _convert_kernel.string_views(time)
    assert views[0] is not None
    assert views[1] is not None
    status = join_views_kernel(*views[0], *views[1])[4]
    workbook = any(
        (d is not None and len(d.encode()) >= 19) or (t is not None and len(t.encode()) >= 11)
        for d, t in rows
    )
    joined = _joined(date, time)
    if joined is None:
        assert status == (JOIN_WORKBOOK if workbook else JOIN_ELSEWHERE)
        assert workbook or split
        return
    got, (offsets, data, valid) = joined
    assert got.to_list() == want.to_list()
    texts = [bytes(data[offsets[i] : offsets[i + 1]]).decode() for i in range(len(rows))]
    assert [t if ok else None for t, ok in zip(texts, valid, strict=True)] == want.to_list()
