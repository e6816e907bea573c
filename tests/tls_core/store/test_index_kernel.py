"""The record-id index lookup kernel against a brute-force model (also run with the JIT off)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tls_core.store._index_kernel import files_hit

pytestmark = pytest.mark.nojit

_TOP = 2**48 - 1
# A few keys, often shared, including the smallest and the largest 48-bit key.
keys = st.one_of(st.integers(0, 40), st.sampled_from([0, 1, _TOP - 1, _TOP]), st.integers(0, _TOP))


def _segment(pairs: list[tuple[int, int]]) -> np.ndarray:
    return np.sort(np.array([(key << 16) | o for key, o in pairs], dtype=np.uint64))


def _query(wanted: list[int]) -> np.ndarray:
    return np.array(sorted({key << 16 for key in wanted}), dtype=np.uint64)


def _model(pairs: list[tuple[int, int]], wanted: list[int]) -> set[int]:
    wanted_set = set(wanted)
    return {o for key, o in pairs if key in wanted_set}


@given(
    st.lists(st.tuples(keys, st.one_of(st.integers(0, 9), st.just(0xFFFF))), max_size=300),
    st.lists(keys, max_size=300),
)
def test_files_hit_matches_the_model(pairs, wanted):
    """Ordinals up to the last one a segment can name (0xFFFF: its entry is ``q | 0xFFFF``)."""
    assert files_hit(_segment(pairs), _query(wanted), 2**16) == _model(pairs, wanted)


@pytest.mark.parametrize(("entries", "queries"), [(100_000, 7), (7, 100_000), (50_000, 50_000)])
def test_files_hit_with_many_entries_or_many_keys(entries, queries):
    """The gallop over a long run of smaller entries, or of keys past the last entry."""
    rng = np.random.default_rng(entries + queries)
    pairs = list(
        zip(
            rng.integers(0, 2**20, entries).tolist(),
            rng.integers(0, 300, entries).tolist(),
            strict=True,
        )
    )
    wanted = rng.integers(0, 2**20, queries).tolist() + [pairs[-1][0]]
    assert files_hit(_segment(pairs), _query(wanted), 300) == _model(pairs, wanted)


def test_no_entries_or_no_keys_hit_nothing():
    assert files_hit(np.empty(0, np.uint64), _query([1, 2]), 1) == set()
    assert files_hit(_segment([(1, 0)]), np.empty(0, np.uint64), 1) == set()
