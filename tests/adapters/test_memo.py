"""The identifier memo (issues 3 and 5): found values, its keys, collisions, its bound."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from penlink_adapters._identify import IdentifierMemo, _lookup, normalize_columns

_SCHEMA = {
    "_value": pl.String,
    "kind": pl.String,
    "canonical": pl.String,
    "reason": pl.String,
}

# Around the 15-byte limit of keys that hold the value itself, and past it (hashed keys).
_VALUES = st.one_of(
    st.none(),
    st.sampled_from(
        [
            "",
            "2125550142",
            "(646) 555-0123",
            "1.21355E+10",
            "310260000000001",
            "4901542032375181",
            "+1 (212) 555-0142 ext 7",
            "é2125550142",
            "911",
        ]
    ),
    st.from_regex(r"\A[2-9][0-9]{9}\Z"),
    st.text("0123456789 +-é", max_size=20),
)


def _frame(values: list[str | None], rows: int) -> pl.DataFrame:
    """Four party columns: the values, reversed, one repeated value, all null."""
    first = values[0] if values else None
    return pl.DataFrame(
        {
            "a_input": values,
            "b_input": list(reversed(values)),
            "c_input": [first] * len(values),
            "d_input": [None] * len(values),
        },
        schema={f"{p}_input": pl.String for p in "abcd"},
    ).head(rows)


@settings(max_examples=60, deadline=None)
@given(
    chunks=st.lists(st.lists(_VALUES, max_size=12), min_size=1, max_size=5),
    limit=st.sampled_from([1, 2, 5, 1_000_000]),
    again=st.booleans(),
)
def test_memo_changes_no_normalization(
    chunks: list[list[str | None]], limit: int, again: bool
) -> None:
    """With the memo (values met in earlier chunks, its limit crossed) as without it."""
    memo = IdentifierMemo(limit=limit)
    parties = ("a", "b", "c", "d")
    for values in chunks + (chunks if again else []):
        df = _frame(values, len(values))
        with_memo = normalize_columns(df, parties, "US", memo)
        assert with_memo.equals(normalize_columns(df, parties, "US"))
        assert len(memo.table) <= limit


def _results(values: list[str | None]) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "_value": values,
            "kind": [None if v is None else f"k{len(v)}" for v in values],
            "canonical": [None if v is None else v.upper() + "!" for v in values],
            "reason": [None] * len(values),
        },
        schema=_SCHEMA,
    )


@settings(max_examples=60, deadline=None)
@given(
    known=st.lists(_VALUES, max_size=30, unique=True),
    probe=st.lists(_VALUES, max_size=30),
)
def test_memo_rows_match_the_join(known: list[str | None], probe: list[str | None]) -> None:
    """Short (own-key) and long (hashed) values, null and empty alike: found as a join finds."""
    memo = IdentifierMemo()
    memo.remember(_results(known))
    for values in (probe, known):
        series = pl.Series("_value", values, pl.String)
        assert memo.find(series).equals(_lookup(series, memo.table))
        rows = memo.rows(series)
        assert [known[r] if r >= 0 else "<miss>" for r in rows] == [
            v if v in known else "<miss>" for v in values
        ]


def test_null_and_empty_are_distinct_keys() -> None:
    memo = IdentifierMemo()
    memo.remember(_results([""]))
    assert memo.rows(pl.Series("_value", [None, "", None], pl.String)).tolist() == [-1, 0, -1]


@pytest.mark.parametrize("long", ["+1 (212) 555-0142 ext 7", "x" * 40])
def test_a_hash_collision_on_a_long_value_is_a_miss(long: str) -> None:
    """A hashed key forged onto another value's row: its bytes differ, so no row."""
    from penlink_adapters._identify import _hashes
    from penlink_adapters._memo_kernel import memo_put_kernel

    other = long[:-1] + ("0" if long[-1] != "0" else "1")
    memo = IdentifierMemo()
    memo.remember(_results(["2125550142", other]))
    intruder = pl.Series("_value", [long])
    h1, h2 = _hashes(intruder)
    assert int(h2[0]) >> 56 == 0xFF  # a hashed key, not the value itself
    memo_put_kernel(h1, h2, memo._slots, 1)  # forge: its key -> the row of `other`
    found = memo.find(pl.Series("_value", [long, other]))
    assert found["_hit"].to_list() == [None, True]
    assert found["canonical"].to_list() == [None, other.upper() + "!"]
    assert memo.rows(pl.Series("_value", [long])).tolist() == [-1]


def test_short_values_are_their_own_keys() -> None:
    """Up to 15 bytes the key holds the bytes and the length: distinct values, distinct keys."""
    from penlink_adapters._identify import _hashes

    values = ["", "0", "00", "0" * 15, "\x00", "\x00\x00", "é"]
    h1, h2 = _hashes(pl.Series("_value", values))
    assert len(set(zip(h1.tolist(), h2.tolist(), strict=True))) == len(values)
    assert [int(b) >> 56 for b in h2] == [len(v.encode()) for v in values]


def test_memo_grows_and_resets() -> None:
    """Past the map's load it is rebuilt; past the limit the memo starts afresh."""
    values = [f"{2125550000 + i}" for i in range(3_000)]
    memo = IdentifierMemo(limit=2_500)
    memo.remember(_results(values[:2_000]))
    assert len(memo._slots) >= 4 * 2_000 // 3
    assert (memo.rows(pl.Series("_value", values[:2_000])) == np.arange(2_000)).all()
    memo.remember(_results(values[2_000:]))  # 3000 > 2500: afresh, the new ones only
    assert len(memo.table) == 1_000
    found = memo.rows(pl.Series("_value", values))
    assert (found[:2_000] == -1).all()
    assert (found[2_000:] == np.arange(1_000)).all()
