"""Joining two text columns from their string views against polars' ``concat_str``."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
from hypothesis import given
from hypothesis import strategies as st

from penlink_adapters._convert_kernel import string_views
from penlink_adapters._view_join import join_views, join_views_kernel

pytestmark = pytest.mark.nojit

# Short values stay inside their 16-byte views, long ones go to the data buffer: both, and
# joins that cross the 12-byte line either way.
values = st.one_of(st.none(), st.text(max_size=3), st.text(min_size=4, max_size=20))
pairs = st.lists(st.tuples(values, values), max_size=40)


def _concat(a: pl.Series, b: pl.Series, separator: str) -> list[str | None]:
    frame = pl.DataFrame([a.alias("a"), b.alias("b")])
    return frame.select(pl.concat_str(["a", "b"], separator=separator)).to_series().to_list()


@given(pairs, st.sampled_from([" ", "", "--", "é", "T"]), st.integers(0, 5))
def test_joined_views_equal_polars_concat_str(rows, separator, skip):
    a = pl.Series("date", [x for x, _ in rows], dtype=pl.String)[skip:]  # sliced too
    b = pl.Series("time", [y for _, y in rows], dtype=pl.String)[skip:]
    joined = join_views(a, b, separator)
    assert joined is not None
    assert joined.name == "date"
    assert joined.dtype == pl.String
    assert joined.to_list() == _concat(a, b, separator)
    assert joined.null_count() == _concat_nulls(a, b)


def _concat_nulls(a: pl.Series, b: pl.Series) -> int:
    return sum(x is None or y is None for x, y in zip(a.to_list(), b.to_list(), strict=True))


def test_a_value_in_another_data_buffer_is_left_to_polars():
    """The kernel reads the first data buffer only: a view into another one declines all."""
    a = pl.Series("d", ["03/01/2021 long enough", "03/02/2021 long enough"])
    b = pl.Series("t", ["00:09:29", "00:10:00"])
    views_a, words_a, data_a, _ = string_views(a)
    views_b, words_b, data_b, _ = string_views(b)
    valid = np.ones(2, dtype=np.bool_)
    sep = np.frombuffer(b" ", dtype=np.uint8)
    ok, _, _ = join_views_kernel(views_a, words_a, data_a, views_b, words_b, data_b, valid, sep)
    assert ok
    other = words_a.copy()
    other[4 * 1 + 2] = 1  # the second value's buffer index
    ok, _, _ = join_views_kernel(views_a, other, data_a, views_b, words_b, data_b, valid, sep)
    assert not ok
