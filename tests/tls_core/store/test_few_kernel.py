"""The few-values kernel against Arrow's hash encoding (also run with the JIT off)."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc
import pytest
from hypothesis import event, given
from hypothesis import strategies as st

from tls_core.store._constant import FEW, few_valued
from tls_core.store._few_kernel import WIDEST

pytestmark = pytest.mark.nojit

# Short and long values, multi-byte characters, values equal in their first and last eight
# bytes but not in between, one of WIDEST bytes and one past it, and values that differ only in
# their width (equal words: "a" and "a" with a NUL byte; runs of one letter from 8 bytes on).
_POOL = [
    "a\x00",
    "aaaaaaaa",
    "aaaaaaaaa",
    "aaaaaaaaaaaaaaaa",
    "",
    "a",
    "é",
    "incoming",
    "outgoing",
    "+12122001700",
    "+12022001700",
    "350000000340014",
    "0123456789abcdef",
    "01234567X9abcdef",
    "0123456789abcdefg",
    "ééééééé",
    "ééééééè",
]


@st.composite
def _arrays(draw: st.DrawFn) -> pa.Array:
    options = draw(st.lists(st.sampled_from(_POOL) | st.text(max_size=6), min_size=1, max_size=12))
    values = draw(st.lists(st.sampled_from(options), min_size=1, max_size=60))
    array = pa.array(draw(st.lists(st.sampled_from(_POOL), max_size=3)) + values, pa.string())
    start = draw(st.integers(0, len(array) - 1))  # a slice: the data before it is not its own
    return array.slice(start, draw(st.integers(1, len(array) - start)))


@given(array=_arrays(), limit=st.integers(1, FEW + 2))
def test_the_kernel_encodes_as_arrow_does_or_declines(array, limit):
    got = few_valued(array, limit)
    expected = pc.dictionary_encode(array)
    distinct = len(expected.dictionary)
    takes = distinct <= limit and max(len(v.as_py().encode()) for v in array) <= WIDEST
    event(f"taken: {takes}")
    if not takes:
        assert got is None
        return
    assert got is not None
    assert got.dictionary.equals(expected.dictionary)  # the same order: first appearance
    assert got.indices.cast(pa.int32()).equals(expected.indices.cast(pa.int32()))
    assert got.cast(pa.string()).equals(array)


def test_arrays_it_never_takes():
    assert few_valued(pa.array([], pa.string())) is None
    assert few_valued(pa.array(["a", None], pa.string())) is None
    assert few_valued(pa.array(["a", "b"], pa.large_string())) is None
    assert few_valued(pa.array([str(i) for i in range(FEW + 1)], pa.string())) is None
    assert few_valued(pa.array([str(i) for i in range(FEW)], pa.string())) is not None


def test_values_read_from_the_start_of_the_data_buffer():
    """Values ending in the buffer's first eight bytes are read byte by byte; the same value
    later in the buffer is read as a word: both must give the same key."""
    array = pa.array(["ab", "c", "ab", "xxxxxxxxxx", "c", "ab"], pa.string())
    got = few_valued(array)
    assert got is not None
    assert got.dictionary.to_pylist() == ["ab", "c", "xxxxxxxxxx"]
    assert got.indices.to_pylist() == [0, 1, 0, 2, 1, 0]


def test_values_that_differ_only_in_their_width_stay_apart():
    """Equal words, other widths: a letter and the letter with a NUL byte; runs of a letter
    (the first and last eight bytes of each are the same word)."""
    values = ["a", "a\x00", "aaaaaaaa", "aaaaaaaaa", "aaaaaaaaaaaaaaaa", "aaaaaaaaa", "a"]
    got = few_valued(pa.array(values, pa.string()))
    assert got is not None
    assert got.dictionary.to_pylist() == values[:5]
    assert got.indices.to_pylist() == [0, 1, 2, 3, 4, 3, 0]
