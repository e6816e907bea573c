"""The line set of the duplicate rule against a Python set (also run with the JIT off)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from penlink_adapters._fast import LineSet

pytestmark = pytest.mark.nojit

# Few distinct words, so batches repeat hashes; 0 and the top word included (the free-slot
# mark is the hash (0, 0), which a line may also have).
words = st.one_of(st.integers(0, 3), st.just(2**64 - 1), st.integers(0, 2**64 - 1))


@given(st.lists(st.lists(st.tuples(words, words), max_size=60), max_size=8))
def test_fresh_is_first_sight(batches):
    """Each hash is fresh once, at its first sight, across batches and while the set grows."""
    lines = LineSet(capacity=4)  # grows several times
    seen: set[tuple[int, int]] = set()
    for batch in batches:
        h1 = np.array([a for a, _ in batch], dtype=np.uint64)
        h2 = np.array([b for _, b in batch], dtype=np.uint64)
        expected = []
        for pair in batch:
            expected.append(pair not in seen)
            seen.add(pair)
        assert lines.fresh(h1, h2).tolist() == expected
        assert lines.count == len(seen)
        assert 4 * lines.count <= 3 * lines.capacity


def test_the_all_zero_hash_is_a_line_like_any_other():
    lines = LineSet(capacity=4)
    zero = np.zeros(3, dtype=np.uint64)
    assert lines.fresh(zero, zero).tolist() == [True, False, False]
    assert lines.fresh(zero[:1], np.ones(1, dtype=np.uint64)).tolist() == [True]
    assert lines.count == 2
