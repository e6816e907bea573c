"""Record ids: the numba MurmurHash3 kernel agrees with the pure-Python reference and mmh3."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import polars as pl
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from penlink_adapters._record_ids import (
    content_id,
    content_key,
    hex_ids,
    murmur3_128,
    record_ids,
    table_record_ids,
)

# Published MurmurHash3_x64_128 (seed 0) digests, as mmh3.hash_bytes(data).hex() prints them.
VECTORS = [
    (b"", "00000000000000000000000000000000"),
    (b"hello", "029bbd41b3a7d8cb191dae486a901e5b"),
    (b"The quick brown fox jumps over the lazy dog", "6c1b07bc7bbc4be347939ac4a93c437a"),
    ("é€\x1f\x00".encode() * 5, "2287f9994c74af04039d581873a05437"),
]


@pytest.mark.parametrize(("data", "digest"), VECTORS)
def test_reference_matches_published_digests(data: bytes, digest: str) -> None:
    assert murmur3_128(data).hex() == digest


@pytest.mark.parametrize(("data", "digest"), VECTORS)
def test_kernel_matches_published_digests(data: bytes, digest: str) -> None:
    array = pa.array([data.decode()], pa.string())
    assert hex_ids(array).to_pylist() == [digest]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.text(), max_size=40))
def test_kernel_matches_reference(values: list[str]) -> None:
    expected = [murmur3_128(v.encode()).hex() for v in values]
    array = pa.array(values, pa.string())
    assert hex_ids(array).to_pylist() == expected
    if values:  # a slice keeps its own offsets
        assert hex_ids(array.slice(1)).to_pylist() == expected[1:]


def test_record_ids_match_content_id_row_by_row() -> None:
    start = datetime(2021, 3, 14, 9, 30, 5, tzinfo=UTC)
    df = pl.DataFrame(
        {
            "orig_canonical": ["+12125550101", None, "+12125550101"],
            "orig_raw": ["2125550101", "9f86d081884c", None],
            "start_utc": [start, start, None],
            "duration_s": [42, None, 0],
            "event_type": ["voice", "sms", None],
        }
    )
    key = ["orig_canonical", "start_utc", "duration_s", "event_type"]
    ids = record_ids(df, key).to_list()
    rows = [
        ["+12125550101", start, 42, "voice"],
        ["raw:9f86d081884c", start, None, "sms"],
        ["+12125550101", None, 0, None],
    ]
    assert ids == [content_id(r) for r in rows]
    assert content_key(rows[2]) == b"+12125550101\x1f\x00\x1f0\x1f\x00"
    assert len(set(ids)) == 3


_TEXT = st.one_of(st.none(), st.text(max_size=6))
_INT = st.one_of(st.none(), st.integers(-(2**63), 2**63 - 1))
_TIME = st.one_of(
    st.none(),
    st.datetimes(datetime(1, 1, 1), datetime(9999, 12, 31)).map(lambda t: t.replace(tzinfo=UTC)),
)
_ROW = st.tuples(_TEXT, _TEXT, _TIME, _INT, st.one_of(st.none(), st.integers(-(2**31), 2**31 - 1)))


@settings(max_examples=200, deadline=None)
@given(rows=st.lists(_ROW, max_size=12), cut=st.integers(0, 3))
def test_table_record_ids_match_the_polars_ids_issue_3(
    rows: list[tuple[str | None, str | None, datetime | None, int | None, int | None]], cut: int
) -> None:
    """Ids from the Arrow buffers: nulls, ``raw:`` fallbacks, negative numbers, chunked columns."""
    schema = pa.schema(
        [
            ("orig_canonical", pa.string()),
            ("orig_raw", pa.string()),
            ("start_utc", pa.timestamp("us", tz="UTC")),
            ("duration_s", pa.int64()),
            ("leg", pa.int32()),
        ]
    )
    whole = pa.Table.from_pylist([dict(zip(schema.names, r, strict=True)) for r in rows], schema)
    cut = min(cut, len(rows))
    table = pa.concat_tables([whole.slice(0, cut), whole.slice(cut)])  # two chunks, an offset
    key = ["orig_canonical", "start_utc", "duration_s", "leg"]
    # The polars path (checked against content_id above) is the oracle: exact integer times.
    expected = record_ids(pl.from_arrow(table), key).to_list()  # type: ignore[arg-type]
    assert table_record_ids(table, key).to_pylist() == expected
    assert table_record_ids(whole.slice(cut), key).to_pylist() == expected[cut:]  # one chunk
    wide = whole.cast(
        pa.schema([f.with_type(pa.large_string()) if f.type == pa.string() else f for f in schema])
    )
    assert table_record_ids(wide, key).to_pylist() == expected


def test_normalize_memo_changes_nothing() -> None:
    from penlink_adapters._identify import IdentifierMemo, normalize_columns

    chunks = [
        pl.DataFrame({"a_input": ["(212) 555-0142", None, "1.21355E+10"], "b_input": ["911"] * 3}),
        pl.DataFrame({"a_input": ["2125550142", "x", None], "b_input": ["911", "1.21355E+10", ""]}),
    ]
    memo = IdentifierMemo(limit=4)  # small: the memo also starts afresh on the way
    for df in chunks * 2:
        with_memo = normalize_columns(df, ("a", "b"), "US", memo)
        assert with_memo.equals(normalize_columns(df, ("a", "b"), "US"))
    assert 0 < len(memo.table) <= 4


_LONG_TEXT = st.one_of(st.none(), st.text(max_size=6), st.text(min_size=40, max_size=200))
_DATE = st.one_of(st.none(), st.integers(-(2**31), 2**31 - 1))
_WIDE_ROW = st.tuples(_LONG_TEXT, _LONG_TEXT, _LONG_TEXT, _TIME, _INT, _DATE, _LONG_TEXT)
_WIDE_SCHEMA = pa.schema(
    [
        ("orig_canonical", pa.string()),
        ("orig_raw", pa.string()),
        ("term_canonical", pa.string()),  # no term_raw: no fallback
        ("start_utc", pa.timestamp("us", tz="UTC")),
        ("duration_s", pa.int64()),
        ("birth_date", pa.date32()),
        ("event_type", pa.string()),
    ]
)


@pytest.mark.nojit
@settings(max_examples=200, deadline=None)
@given(rows=st.lists(_WIDE_ROW, max_size=12), cut=st.integers(0, 3), large=st.booleans())
def test_kernel_ids_match_mains_ids_byte_for_byte_issue_3(
    rows: list[tuple[object, ...]], cut: int, large: bool
) -> None:
    """The record-id kernel against main's ids and the pure-Python reference, row by row.

    Nulls, empty strings, non-ASCII text, ``raw:`` fallbacks, keys longer than the kernel's
    first scratch buffer, extreme integers, times and dates, chunked, sliced and
    ``large_string`` columns.
    """
    from tests.adapters._main_record_ids import main_table_record_ids

    columns = [list(c) for c in zip(*rows, strict=True)] if rows else [[]] * len(_WIDE_SCHEMA)
    days = pa.array(columns[5], pa.int32()).cast(pa.date32())  # any day number, no calendar
    arrays = [
        pa.array(c, f.type) if f.name != "birth_date" else days
        for c, f in zip(columns, _WIDE_SCHEMA, strict=True)
    ]
    whole = pa.Table.from_arrays(arrays, schema=_WIDE_SCHEMA)
    if large:
        whole = whole.cast(
            pa.schema(
                [
                    f.with_type(pa.large_string()) if f.type == pa.string() else f
                    for f in _WIDE_SCHEMA
                ]
            )
        )
    cut = min(cut, len(rows))
    table = pa.concat_tables([whole.slice(0, cut), whole.slice(cut)])
    key = [n for n in _WIDE_SCHEMA.names if n != "orig_raw"]
    ids = table_record_ids(table, key)
    assert ids.type == pa.string()
    assert ids.equals(main_table_record_ids(table, key))
    rest = whole.slice(cut)
    assert table_record_ids(rest, key).equals(main_table_record_ids(rest, key))
    for row, got in zip(rows, ids.to_pylist(), strict=True):
        canonical, raw, term, start, duration, day, event = row
        if canonical is None and raw is not None:
            canonical = f"raw:{raw}"
        if isinstance(start, datetime):  # exact integer microseconds (no float on the way)
            start = (start - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1)
        assert got == content_id([canonical, term, start, duration, day, event])


def test_kernel_ids_of_extreme_values_issue_3() -> None:
    """Smallest and largest int64, times at both ends of the calendar, a key past 1 KiB."""
    from tests.adapters._main_record_ids import main_table_record_ids

    table = pa.table(
        {
            "a_canonical": pa.array([None, "", "é" * 600, None], pa.string()),
            "a_raw": pa.array(["x", None, "y", "€\x00"], pa.string()),
            "t": pa.array([-(2**63), 2**63 - 1, 0, -1], pa.timestamp("us", tz="UTC")),
            "i": pa.array([-(2**63), 2**63 - 1, None, -10], pa.int64()),
            "leg": pa.array([None, -(2**31), 2**31 - 1, 0], pa.int32()),
        }
    )
    key = ["a_canonical", "t", "i", "leg"]
    ids = table_record_ids(table, key)
    assert ids.equals(main_table_record_ids(table, key))
    assert ids.to_pylist()[0] == content_id(["raw:x", -(2**63), -(2**63), None])
    assert table_record_ids(table.slice(0, 0), key).to_pylist() == []
