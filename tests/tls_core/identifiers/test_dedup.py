"""The distinct-value kernel against a plain dict, on values built to collide."""

from __future__ import annotations

import pyarrow as pa
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tls_core.identifiers._dedup import dedup_kernel
from tls_core.identifiers._normalize import _buffers

pytestmark = pytest.mark.nojit

# Short alphabets and shared prefixes make equal first-16-byte words and equal lengths common,
# so the byte-by-byte comparison of long values is exercised; empty strings and nulls too.
_PREFIX = "+1213555014299999"  # 17 bytes: longer than the two packed words
values = st.lists(
    st.one_of(
        st.none(),
        st.text("01", max_size=3),
        st.builds(lambda s: _PREFIX + s, st.text("ab", max_size=3)),
        st.text("0123456789+-() é", max_size=24),
    ),
    max_size=300,
)


def _check(items: list[str | None]) -> None:
    array = pa.array(items, pa.large_string())
    codes, first = dedup_kernel(*_buffers(array))
    assert len(codes) == len(items)
    seen: dict[str | None, int] = {}
    for row, value in enumerate(items):
        code = int(codes[row])
        assert seen.setdefault(value, code) == code  # equal values share a code
        assert 0 <= code < len(first)
        row_of = int(first[code])
        assert (value is None and row_of == -1) or items[row_of] == value
    assert len(set(seen.values())) == len(seen) == len(first)  # distinct values, distinct codes


@given(values)
def test_codes_match_a_dict(items):
    _check(items)


@given(values, st.integers(0, 50))
def test_sliced_arrays_keep_their_offset(items, cut):
    array = pa.array(["pad"] * cut + items, pa.large_string()).slice(cut)
    codes, first = dedup_kernel(*_buffers(array))
    assert [items[int(first[c])] if first[c] >= 0 else None for c in codes] == items


def test_many_rows_over_every_partition():
    items = [f"+1213{n % 5003:07d}" if n % 97 else None for n in range(6_000)]
    _check(items)


@given(st.binary(min_size=0, max_size=80), st.integers(0, 7))
def test_leading_words_read_whole_words_like_bytes(blob, shift):
    import numpy as np

    from tls_core.identifiers import _dedup

    data = np.frombuffer(b"\x00" * shift + blob, dtype=np.uint8)[shift:]  # any alignment
    words = _dedup._word_view(data)
    for s in range(len(blob) + 1):
        for e in range(s, min(len(blob), s + 20) + 1):
            got = _dedup._leading_words(data, words, s, e)
            assert tuple(map(int, got)) == tuple(map(int, _dedup._words(data, s, e)))


@given(st.binary(min_size=0, max_size=16))
def test_short_hash_is_the_hash_of_values_the_key_holds_whole(blob):
    import numpy as np

    from tls_core.identifiers import _dedup

    data = np.frombuffer(blob + b"\x00" * 24, dtype=np.uint8)
    words = _dedup._word_view(data)
    w0, w1 = (np.uint64(w) for w in _dedup._words(data, 0, len(blob)))  # as the keys hold them
    assert int(_dedup._short_hash(w0, w1, np.int64(len(blob)))) == int(
        _dedup._hash(data, words, 0, len(blob))
    )


@given(values)
def test_normalize_on_one_thread_equals_normalize_on_all(items):
    """The serial path of small inputs (kernel_threads) gives the parallel path's table."""
    from tls_core.identifiers import _dedup, normalize

    serial = normalize(items)
    before = _dedup.SERIAL_BELOW
    _dedup.SERIAL_BELOW = 0  # every input parallel, as before the serial path
    try:
        parallel = normalize(items)
    finally:
        _dedup.SERIAL_BELOW = before
    assert serial.to_pylist() == parallel.to_pylist()


def test_kernel_threads_is_per_thread_and_restores_the_count():
    import threading

    import numba

    from tls_core.identifiers._dedup import SERIAL_BELOW, kernel_threads

    total = numba.get_num_threads()
    seen: list[int] = []
    with kernel_threads(SERIAL_BELOW - 1):
        inside = numba.get_num_threads()
        other = threading.Thread(target=lambda: seen.append(numba.get_num_threads()))
        other.start()
        other.join()
    with kernel_threads(SERIAL_BELOW):
        large = numba.get_num_threads()
    assert (inside, seen, large) == (1 if not _dedup_interpreted() else total, [total], total)
    assert numba.get_num_threads() == total


def _dedup_interpreted() -> bool:
    from tls_core.identifiers import _dedup

    return _dedup._INTERPRETED
