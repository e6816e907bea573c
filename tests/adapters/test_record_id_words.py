"""The record-id kernel's word-at-a-time paths against the pure-Python reference (issue 3).

Text is copied eight bytes at a time from any byte position of a padded buffer, integers are
written eight decimal digits per word, hex digits four pairs per word, and the work arrays are
reused from call to call in a thread: each must leave the ids byte-identical.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from penlink_adapters._record_ids import content_id, table_record_ids

_SCHEMA = pa.schema(
    [
        ("a_canonical", pa.string()),
        ("a_raw", pa.string()),
        ("n", pa.int64()),
        ("b", pa.string()),
        ("leg", pa.int32()),
    ]
)
_KEY = ["a_canonical", "n", "b", "leg"]
_TEXT = st.one_of(st.none(), st.text(max_size=40), st.text(alphabet="0123456789+", max_size=17))
_DIGITS = st.integers(0, 19).flatmap(lambda d: st.integers(10**d, 10 ** (d + 1) - 1))
_INT64 = st.one_of(
    st.none(),
    _DIGITS.filter(lambda v: v < 2**63),
    _DIGITS.map(lambda v: -v).filter(lambda v: v >= -(2**63)),
    st.sampled_from([0, -1, -(2**63), 2**63 - 1, 10**8, 10**8 - 1, 10**16, 10**16 - 1]),
)
_INT32 = st.one_of(st.none(), st.integers(-(2**31), 2**31 - 1))
_ROW = st.tuples(_TEXT, _TEXT, _INT64, _TEXT, _INT32)


def _table(rows: list[tuple[object, ...]]) -> pa.Table:
    columns = [list(c) for c in zip(*rows, strict=True)] if rows else [[]] * len(_SCHEMA)
    arrays = [pa.array(c, f.type) for c, f in zip(columns, _SCHEMA, strict=True)]
    return pa.Table.from_arrays(arrays, schema=_SCHEMA)


def _expected(rows: list[tuple[object, ...]]) -> list[str]:
    ids = []
    for canonical, raw, n, b, leg in rows:
        if canonical is None and raw is not None:
            canonical = f"raw:{raw}"
        ids.append(content_id([canonical, n, b, leg]))
    return ids


@pytest.mark.nojit
@settings(max_examples=200, deadline=None)
@given(rows=st.lists(_ROW, max_size=16), cut=st.integers(0, 16))
def test_word_paths_match_the_reference_at_any_alignment_issue_3(
    rows: list[tuple[object, ...]], cut: int
) -> None:
    """Every text length and start byte, every decimal width (1 to 20 digits, signs)."""
    table = _table(rows)
    expected = _expected(rows)
    cut = min(cut, len(rows))
    assert table_record_ids(table, _KEY).to_pylist() == expected
    assert table_record_ids(table.slice(cut), _KEY).to_pylist() == expected[cut:]
    chunked = pa.concat_tables([table.slice(0, cut), table.slice(cut)])
    assert table_record_ids(chunked, _KEY).to_pylist() == expected


def test_reused_work_arrays_shrink_and_grow_issue_3() -> None:
    """A large table, then a small one, then the large one again: the same ids each time."""
    big: list[tuple[object, ...]] = [
        (f"+1213555{i:04d}", None, i * 7919, "é" * (i % 23), i % 3 or None) for i in range(3000)
    ]
    small: list[tuple[object, ...]] = [(None, "x" * 30, -1, None, None), ("", "", 0, "", 0)]
    for rows in (big, small, big[:1500], small, big):
        assert table_record_ids(_table(rows), _KEY).to_pylist() == _expected(rows)


def test_threads_each_have_their_own_work_arrays_issue_3() -> None:
    """Tables of different shapes hashed at once in four threads, as one thread does."""
    tables = [
        _table([(f"{t}-{i}" * (t + 1), None, i - t, None, t) for i in range(2000 + 500 * t)])
        for t in range(8)
    ]
    alone = [table_record_ids(t, _KEY) for t in tables]
    with ThreadPoolExecutor(4) as pool:
        together = list(pool.map(lambda t: table_record_ids(t, _KEY), tables * 3))
    assert all(got.equals(alone[i % 8]) for i, got in enumerate(together))


def test_tiles_of_unlike_rows_and_a_growing_scratch_buffer_issue_3() -> None:
    """Keys are written a tile of rows at a time: ids across tile edges, a tile whose long
    values (10 KB) make the scratch buffer grow, nulls, fallbacks and negatives in each."""
    rows: list[tuple[object, ...]] = []
    for i in range(1700):
        long = 700 <= i < 705 or i == 1535
        text = ("ab" * 5000 + str(i)) if long else "x" * (i % 37)
        canonical = None if i % 5 == 0 else f"+1213{i:07d}"
        rows.append((canonical, text if i % 10 else None, -i if i % 3 else i, text, i % 4 or None))
    expected = _expected(rows)
    table = _table(rows)
    assert table_record_ids(table, _KEY).to_pylist() == expected
    assert table_record_ids(table.slice(511, 600), _KEY).to_pylist() == expected[511:1111]
