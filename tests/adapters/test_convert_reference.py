"""The conversion gives what main's conversion gave, on generated chunks of every call layout.

The reference is main's ``_convert.py`` copied unchanged (``_convert_reference.py``). Chunks
hold odd values (empty fields, blanks, unknown codes, workbook cells, times off the
formats, long codes) and columns that are empty throughout, the case where the new
conversion skips work; some are built from two frames so that their long values sit in two
data buffers (the view kernels decline those, the polars paths take over).
"""

from __future__ import annotations

from typing import Any

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from penlink_adapters._convert import ConvertContext, convert_calls
from penlink_adapters._registry import builtin_layouts
from tests.adapters import _convert_reference as reference

_CALL_LAYOUTS = sorted(n for n, lay in builtin_layouts().items() if lay.record_type == "call")

_TEXT = st.text(st.sampled_from("0123456789abcXYZ-+:./ \u00e9"), max_size=24)
_NUMBERS = st.sampled_from(
    ["2125550142", "12125550142", "8056377249", "18056377249", "805-637-7243", "b0012345"]
) | st.sampled_from(["+442071234567", "00442071234567", "-1139627840", "0", "11212555014"])
_TIMES = st.sampled_from(
    ["03/01/2021 00:00:11", "2021-03-01 10:00:00", "2021-03-14 02:30:00", "2021-11-07 01:30"]
) | st.sampled_from(["2021-03-01T10:00:00+0100", "2021-03-01T10:00:00Z", "1614592811", "0"])
_DATES = st.sampled_from(["03/01/2021", "2021-03-01", "2021-03-14 00:00:00", "02/30/2021"])
_CLOCKS = st.sampled_from(["00:00:11", "1899-12-31 10:00:05", "12:30", "24:00:00", "7:05:09"])
_CODES = st.sampled_from(
    ["Outgoing", "incoming", "mSOriginating", "MSTERMINATINGSMSINMSC", "moc", "sms", "voice"]
) | st.sampled_from(["callForwarding", "RCS-IMChat", "mo", "\u0130n", "a-long-unknown-code-xyz"])
_DURATIONS = st.sampled_from(["0", "3098", "12.0", "1:02", "1:02:03", "x", "007", "-1", "1.5"])
_COORDS = st.sampled_from(["40.7", "-73.9", "95.0", "abc", "0", "181", "-180.0"])


def _cell(name: str) -> st.SearchStrategy[str | None]:
    if name in ("direction", "event_type"):
        return _CODES
    if name == "duration":
        return _DURATIONS
    if name in ("start", "end"):
        return _TIMES
    if name == "date":
        return _DATES
    if name == "time":
        return _CLOCKS
    if name.endswith(("_lat", "_lon")):
        return _COORDS
    return _NUMBERS


@st.composite
def _chunk(draw: st.DrawFn, layout: Any) -> tuple[pl.DataFrame, bool]:
    """Rows of ``layout``'s columns; each column is filled, empty throughout, or mixed."""
    trimmed = draw(st.booleans())
    n = draw(st.integers(1, 30))
    columns: dict[str, list[str | None]] = {}
    for name in layout.columns:
        mode = draw(st.sampled_from(["filled", "filled", "mixed", "empty", "null"]))
        value: st.SearchStrategy[str | None] = _cell(name)
        if mode == "mixed":
            value = value | st.sampled_from(["", " ", "NA", "null"]) | st.none() | _TEXT
        cells: list[str | None] = draw(st.lists(value, min_size=n, max_size=n))
        if mode == "empty":
            cells = [""] * n
        elif mode == "null":
            cells = [None] * n
        if not trimmed and draw(st.booleans()):
            cells = [None if c is None else f" {c} " for c in cells]
        if trimmed:
            cells = [None if c is None else c.strip() for c in cells]
        columns[name] = cells
    df = pl.DataFrame(columns, schema=dict.fromkeys(layout.columns, pl.String))
    if n > 1 and draw(st.booleans()):  # two frames: long values in two data buffers
        df = pl.concat([df.head(n // 2), df.tail(n - n // 2)], rechunk=True)
    df = df.with_row_index("_row").cast({"_row": pl.Int64})
    return df, trimmed


def _compare(
    layout: Any, df: pl.DataFrame, trimmed: bool, zone: str | None, target: str | None
) -> None:
    ctx, ref_ctx = ConvertContext(zone, target), reference.ConvertContext(zone, target)
    got = convert_calls(df, layout, ctx, trimmed=trimmed)
    want = reference.convert_calls(df, layout, ref_ctx, trimmed=trimmed)
    for name in want.columns:
        assert got[name].dtype == want[name].dtype, name
        assert got[name].to_list() == want[name].to_list(), name
    assert set(got.columns) == set(want.columns)
    assert ctx.unknown_codes == ref_ctx.unknown_codes
    assert ctx.quirks == ref_ctx.quirks


@settings(max_examples=40, deadline=None)
@given(data=st.data())
@pytest.mark.parametrize("name", _CALL_LAYOUTS)
def test_convert_calls_equals_main(data: st.DataObject, name: str) -> None:
    layout = builtin_layouts()[name]
    df, trimmed = data.draw(_chunk(layout))
    zone = data.draw(st.sampled_from([None, "UTC", "America/New_York"]))
    target = data.draw(st.sampled_from([None, "2125550142"]))
    _compare(layout, df, trimmed, zone, target)


def test_a_long_chunk_of_repeated_codes_equals_main() -> None:
    """Many rows, few distinct codes (the hash tables grow) and one odd row at the end."""
    layout = builtin_layouts()["tmobile"]
    n = 5000
    rows = {name: ["" for _ in range(n)] for name in layout.columns}
    rows["date"] = [f"03/{1 + i % 28:02d}/2021" for i in range(n)]
    rows["time"] = [f"{i % 24:02d}:{i % 60:02d}:{(7 * i) % 60:02d}" for i in range(n)]
    rows["duration"] = [str(i % 977) for i in range(n)]
    codes = ["mSOriginating", "mSTerminating", "mSOriginatingSMSinMSC", "callForwarding"]
    rows["event_type"] = [codes[i % 4] if i % 13 else f"code{i}" for i in range(n)]
    rows["direction"] = ["Outgoing" if i % 3 else "Incoming" for i in range(n)]
    rows["orig"] = [f"212555{i % 10000:04d}" for i in range(n)]
    rows["term"] = ["8056377249" if i % 50 == 0 else f"646555{i % 7000:04d}" for i in range(n)]
    rows["time"][-1] = "25:00:00"
    df = pl.DataFrame(rows, schema=dict.fromkeys(layout.columns, pl.String))
    df = df.with_row_index("_row").cast({"_row": pl.Int64})
    _compare(layout, df, True, None, None)
