"""The line set of the duplicate rule against a Python set (also run with the JIT off)."""

from __future__ import annotations

import tempfile
from unittest.mock import patch

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import penlink_adapters as pla
from penlink_adapters import _fast, _line_set
from penlink_adapters._line_set import LineSet
from penlink_adapters._source import inspect_source
from tls_core.errors import ReadError

pytestmark = pytest.mark.nojit

# Few distinct words, so batches repeat hashes; 0 and the top word included (the free-slot
# mark is the hash (0, 0), which a line may also have).
words = st.one_of(st.integers(0, 3), st.just(2**64 - 1), st.integers(0, 2**64 - 1))


@given(st.lists(st.lists(st.tuples(words, words), max_size=60), max_size=8))
def test_fresh_is_first_sight(batches):
    """Each hash is fresh once, at its first sight, across batches and while the set grows."""
    lines = LineSet(capacity=4)  # grows several times
    for _ in _against_a_set(lines, batches):
        assert 4 * lines.count <= 3 * lines.capacity


def _against_a_set(lines: LineSet, batches: list[list[tuple[int, int]]]):
    """Feed the batches to ``lines``, checking each answer against a Python set; yield after each."""
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
        yield


def test_the_all_zero_hash_is_a_line_like_any_other():
    lines = LineSet(capacity=4)
    zero = np.zeros(3, dtype=np.uint64)
    assert lines.fresh(zero, zero).tolist() == [True, False, False]
    assert lines.fresh(zero[:1], np.ones(1, dtype=np.uint64)).tolist() == [True]
    assert lines.count == 2


@given(
    st.lists(st.lists(st.tuples(words, words), max_size=60), max_size=12),
    st.sampled_from([4, 8, 16]),
    st.sampled_from([32, 64, 1 << 12]),
    st.sampled_from([0, 2, 1000]),
    st.sampled_from([1, 3, 4, 1 << 20]),
)
def test_fresh_is_first_sight_with_spilled_runs(batches, limit, bloom_bytes, few, piece):
    """Past its limit the table spills to runs on disk: the answers stay those of one set.

    Tiny tables, filters that say "maybe" to almost anything, lookups one at a time or in
    pieces of the run (a piece of one slot: every probe runs past its piece), probes that wrap
    around a run's end.
    """
    lines = LineSet(capacity=4, limit=limit, bloom_bytes=bloom_bytes, few=few, piece=piece)
    try:
        for _ in _against_a_set(lines, batches):
            assert lines.capacity <= limit
            assert 4 * lines.held <= 3 * lines.capacity
    finally:
        lines.close()
    assert not lines.runs


def test_a_spilled_set_keeps_its_memory_and_finds_old_lines():
    """60,000 distinct hashes through a table of 2,048 slots: many runs, the same answers."""
    rng = np.random.default_rng(11)
    pool = rng.integers(1, 2**63, size=(2, 60_000), dtype=np.uint64)
    lines = LineSet(capacity=1 << 11, limit=1 << 11, bloom_bytes=1 << 16, few=64, piece=512)
    try:
        for at in range(0, 60_000, 5_000):
            fresh = lines.fresh(pool[0, at : at + 5_000], pool[1, at : at + 5_000])
            assert fresh.all()
        assert len(lines.runs) > 30
        assert lines.keys.nbytes == 16 << 11
        again = rng.permutation(60_000)[:10_000]  # old lines, in every run, in any order
        assert not lines.fresh(pool[0, again], pool[1, again]).any()
        assert lines.count == 60_000
    finally:
        lines.close()


@pytest.mark.parametrize("quoted", [False, True], ids=["plain", "row-by-row"])
def test_a_read_whose_line_set_spills_reads_the_same(tmp_path, quoted):
    """A return read with a line set of 64 slots (dozens of runs) reads as with a large one.

    Repeated lines, planted anywhere after their first sight, are the report's duplicates
    either way; every other row is loaded, in the file's order. A quoted field makes the
    file take the row-by-row path, whose duplicate rule uses the same set.
    """
    rng = np.random.default_rng(3)
    kind = '"voice"' if quoted else "voice"
    rows = [
        f"2021-03-01 10:{i // 60 % 60:02d}:{i % 60:02d},212555{i % 10_000:04d},"
        f"646555{(7 * i) % 10_000:04d},2125550142,{i % 97},{kind},"
        "outgoing"
        for i in range(3_000)
    ]
    lines = ["start,from,to,target,duration,type,direction"]
    planted = 0
    for row in rows:
        lines.append(row)
        if rng.random() < 0.1:
            lines.append(lines[int(rng.integers(1, len(lines)))])
            planted += 1
    path = tmp_path / "generic.csv"
    path.write_text("\n".join(lines) + "\n")
    runs: list[int] = []

    class Counted(LineSet):
        def close(self) -> None:
            runs.append(len(self.runs))
            super().close()

    with patch.object(_fast, "LineSet", Counted), patch.object(_line_set, "LineSet", Counted):
        plain = pla.read_return(path, layout="generic", source_tz="UTC")
        with patch.object(_line_set, "LIMIT", 64):
            spilled = pla.read_return(path, layout="generic", source_tz="UTC")
    assert runs[0] == 0
    assert runs[-1] > 50
    assert inspect_source(path).plain is not quoted
    assert spilled[0].equals(plain[0])
    assert spilled[2].duplicates == plain[2].duplicates == planted
    assert spilled[2].loaded == plain[2].loaded == len(rows)


@pytest.mark.parametrize("quoted", [False, True], ids=["plain", "row-by-row"])
def test_a_spill_that_cannot_be_written_is_a_typed_error_naming_the_file(tmp_path, quoted):
    """No temporary directory to spill to (here a file stands where it should be)."""
    kind = '"voice"' if quoted else "voice"
    rows = [
        f"2021-03-01 10:{i // 60:02d}:{i % 60:02d},212555{i:04d},6465550120,2125550142,1,{kind},"
        "outgoing"
        for i in range(500)
    ]
    path = tmp_path / "generic.csv"
    path.write_text("\n".join(["start,from,to,target,duration,type,direction", *rows]) + "\n")
    not_a_directory = tmp_path / "tmp"
    not_a_directory.write_text("")
    with (
        patch.object(_line_set, "LIMIT", 64),
        patch.object(tempfile, "tempdir", str(not_a_directory)),
        pytest.raises(ReadError) as caught,
    ):
        pla.read_return(path, layout="generic", source_tz="UTC")
    assert caught.value.reason == "io"
    assert caught.value.file == str(path)
    assert "temporary" in caught.value.message
