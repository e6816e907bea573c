"""The memo's fused lookups (issues 3 and 5): string views read in place, recent values reused.

Differential: :func:`normalize_columns` with the memo against without it (the path that does
not touch the memo's kernels), over columns that repeat values on adjacent rows, alternate a
target with contacts, hold nulls, long values (read through offsets, hashed past 15 bytes),
lossy numbers, several regions, sliced frames (views and validity at an offset) and a memo
limit crossed.
"""

from __future__ import annotations

import numpy as np
import polars as pl
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from penlink_adapters._identify import IdentifierMemo, _hashes, _single, normalize_columns
from penlink_adapters._memo_kernel import memo_view_rows_kernel

_VALUE = st.one_of(
    st.none(),
    st.sampled_from(
        [
            "",
            "2125550142",
            "+12125550142",
            "(646) 555-0123",
            "1.21355E+10",
            "2.12555E+9",
            "310260000000001",
            "490154203237518",
            "4901542032375181",
            "+1 (212) 555-0142 ext 7",
            "+442079460958",
            "02079460958",
            "030 1234567",
            "é2125550142",
            "911",
            "a@b.example",
        ]
    ),
    st.from_regex(r"\A[2-9][0-9]{9}\Z"),
    st.text("0123456789 +-.Eé", max_size=18),
)


@st.composite
def _column(draw: st.DrawFn, rows: int) -> list[str | None]:
    """A party column: runs of one value, a target alternating with contacts, or any values."""
    shape = draw(st.sampled_from(["runs", "alternate", "any", "one", "null"]))
    if shape == "null":
        return [None] * rows
    if shape == "one":
        return [draw(_VALUE)] * rows
    if shape == "any":
        return draw(st.lists(_VALUE, min_size=rows, max_size=rows))
    pool = draw(st.lists(_VALUE, min_size=1, max_size=4))
    out: list[str | None] = []
    while len(out) < rows:
        value = draw(st.sampled_from(pool))
        if shape == "alternate":
            out += [pool[0], value]
        else:
            out += [value] * draw(st.integers(1, 4))
    return out[:rows]


@st.composite
def _frame(draw: st.DrawFn) -> pl.DataFrame:
    rows = draw(st.integers(0, 14))
    columns = {f"{p}_input": draw(_column(rows)) for p in "abcd"}
    df = pl.DataFrame(columns, schema=dict.fromkeys(columns, pl.String))
    cut = draw(st.integers(0, max(rows - 1, 0)))  # a slice: views and validity at an offset
    return df.slice(cut, draw(st.integers(0, rows))) if draw(st.booleans()) else df


@pytest.mark.nojit
@settings(max_examples=80, deadline=None)
@given(
    frames=st.lists(_frame(), min_size=1, max_size=4),
    limit=st.sampled_from([1, 3, 8, 1_000_000]),
    region=st.sampled_from(["US", "GB", "DE"]),
    again=st.booleans(),
)
def test_memo_lookups_change_no_normalization(
    frames: list[pl.DataFrame], limit: int, region: str, again: bool
) -> None:
    """With the memo (hits, misses, its limit crossed) as without it, column for column."""
    memo = IdentifierMemo(limit=limit)
    memo.bind(region)
    parties = ("a", "b", "c", "d")
    for df in frames + (frames if again else []):
        with_memo = normalize_columns(df, parties, region, memo)
        without = normalize_columns(df, parties, region)
        assert with_memo.equals(without)
        assert len(memo.table) <= limit


@pytest.mark.nojit
@settings(max_examples=80, deadline=None)
@given(known=st.lists(_VALUE, max_size=20, unique=True), probe=_frame())
def test_rows_and_repeats_match_a_reference(known: list[str | None], probe: pl.DataFrame) -> None:
    """Each value's row as a dict finds it; one repeated value exactly as ``_single`` says."""
    memo = IdentifierMemo()
    memo.remember(_results(known))
    where = {v: i for i, v in enumerate(known)}
    for name in probe.columns:
        column = probe[name]
        rows, one = memo._locate(column)
        assert rows.tolist() == [where.get(v, -1) for v in column.to_list()]
        assert one == _single(column)


@pytest.mark.nojit
def test_view_keys_ignore_the_padding() -> None:
    """A view's bytes past its length (not promised to be zeros) are not part of its key."""
    values = ["", "7", "2125550142", "+12125550142", "12345678", "123456789"]
    memo = IdentifierMemo()
    memo.remember(_results(values))
    rng = np.random.default_rng(7)
    words = rng.integers(0, 2**63, size=(len(values), 2), dtype=np.uint64)
    view = words.view(np.uint8).reshape(-1, 16)
    for i, value in enumerate(values):
        raw = value.encode()
        view[i, :4] = np.frombuffer(len(raw).to_bytes(4, "little"), dtype=np.uint8)
        view[i, 4 : 4 + len(raw)] = np.frombuffer(raw, dtype=np.uint8)
    array = pa.StringViewArray.from_buffers(
        pa.string_view(), len(values), [None, pa.py_buffer(words.tobytes())]
    )
    assert array.to_pylist() == values
    rows, status = memo_view_rows_kernel(words, np.zeros(0, np.uint8), 0, memo._slots)
    assert (status, rows.tolist()) == (0, list(range(len(values))))


def test_a_long_value_takes_the_offsets() -> None:
    """Past 12 bytes a value is not inline: the kernel says so and the offsets path finds it."""
    values = ["2125550142", "310260000000001", "+1 (212) 555-0142 ext 7"]
    memo = IdentifierMemo()
    memo.remember(_results(values))
    column = pl.Series("_value", [values[0], values[1], values[2], values[0]])
    words = np.frombuffer(
        column.to_arrow(compat_level=pl.CompatLevel.newest()).buffers()[1], np.uint64
    ).reshape(-1, 2)
    assert memo_view_rows_kernel(words, np.zeros(0, np.uint8), 0, memo._slots)[1] == 2
    rows, one = memo._locate(column)
    assert (rows.tolist(), one) == ([0, 1, 2, 0], False)


def test_a_hashed_value_repeated_is_one_value() -> None:
    """A column repeating one long (hashed) value is one value; two that differ are not."""
    long = "+1 (212) 555-0142 ext 7"
    memo = IdentifierMemo()
    memo.remember(_results([long]))
    assert memo._locate(pl.Series("_value", [long] * 5))[1]
    assert not memo._locate(pl.Series("_value", [long] * 4 + [long + "8"]))[1]
    h1, h2 = _hashes(pl.Series("_value", [long]))
    assert int(h2[0]) >> 56 == 0xFF


def _results(values: list[str | None]) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "_value": values,
            "kind": [None if v is None else f"k{len(v)}" for v in values],
            "canonical": [None if v is None else v.upper() + "!" for v in values],
            "reason": [None] * len(values),
        },
        schema=dict.fromkeys(("_value", "kind", "canonical", "reason"), pl.String),
    )
