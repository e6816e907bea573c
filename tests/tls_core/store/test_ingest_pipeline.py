"""The ingest pipeline: the read runs one chunk ahead in a thread, bounded, stopped on failure.

Also the commit's keys taken while staging (no read-back) against the keys read back from the
staged files, and the record-id index's merge with a file-ordinal shift.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
import storekit as k
from hypothesis import given, settings
from hypothesis import strategies as st

from tls_core.errors import ReadError
from tls_core.store import IngestProgress, Repository
from tls_core.store._commit import _keyed, _split_keys
from tls_core.store._dedup import _read_back
from tls_core.store._files import write_staged
from tls_core.store._layout import STORED_SCHEMAS
from tls_core.store._prefetch import READERS, Prefetch, ReadThreads
from tls_core.store._record_index import _merge_sorted, distinct

HEADER = (
    "Date,(UTC) Time,Duration,Call Type,Direction,Calling Number,Dialed Number,"
    "Destination Number,IMSI,IMEI,1st Cell ID,1st LTE Sector ID,1st Tower LAT,1st Tower LONG,"
    "Last Cell ID,Last LTE Sector ID,Last Tower LAT,Last Tower LONG,Called Number"
)


def _tmobile_return(path: Path, rows: int) -> Path:
    """A synthetic T-Mobile-layout return of ``rows`` distinct calls (several read chunks)."""
    lines = [HEADER]
    for i in range(rows):
        day, second = divmod(i * 7, 86_400)
        hour, rest = divmod(second, 3_600)
        other = 2_122_000_000 + (i * 7_919) % 1_000_000
        lines.append(
            f"01/{day % 28 + 1:02d}/2025,{hour:02d}:{rest // 60:02d}:{rest % 60:02d},"
            f"{i % 3_600},msoriginating,outgoing,2125550142,,{other},310260000000001,"
            "490154203237518,,,,,,,,,1"
        )
    path.write_text("\r\n".join(lines) + "\r\n")
    return path


def _chunk(i: int) -> tuple[pa.Table, pa.Table]:
    return pa.table({"i": [i]}), pa.table({"r": pa.array([], pa.int64())})


def _read_threads() -> list[threading.Thread]:
    """Read threads still reading (finished ones wait, idle, for the next read)."""
    alive = [t for t in threading.enumerate() if t.name == "tls-ingest-read"]
    for _ in range(100):  # a thread that just finished its read returns to the pool
        if len(alive) == len(READERS._waiting):
            return []
        time.sleep(0.01)
        alive = [t for t in threading.enumerate() if t.name == "tls-ingest-read"]
    return alive


def test_prefetch_yields_every_chunk_in_order_and_ends_its_thread():
    chunks = [_chunk(i) for i in range(50)]
    out = [records.column("i")[0].as_py() for records, _ in Prefetch(iter(chunks), 1)]
    assert out == list(range(50))
    assert not _read_threads()


def test_prefetch_runs_at_most_depth_chunks_ahead():
    produced: list[int] = []

    def scan() -> Iterator[tuple[pa.Table, pa.Table]]:
        for i in range(100):
            produced.append(i)
            yield _chunk(i)

    for depth in (1, 2):
        produced.clear()
        prefetch = Prefetch(scan(), depth)
        for consumed, _ in enumerate(prefetch, start=1):
            time.sleep(0.01)  # let the thread run ahead as far as it may
            # the thread holds one chunk it made, the queue ``depth`` more
            assert len(produced) <= consumed + depth + 1
            if consumed == 5:
                break
        prefetch.close()
        assert len(produced) <= 5 + depth + 1
        assert not _read_threads()


def test_a_read_error_is_raised_in_the_consumer_after_the_chunks_before_it():
    def scan() -> Iterator[tuple[pa.Table, pa.Table]]:
        yield _chunk(0)
        yield _chunk(1)
        raise ReadError("malformed row", file="x.csv", row=7, reason="bad_file")

    chunks = iter(Prefetch(scan(), 1))
    seen = [next(chunks)[0].column("i")[0].as_py(), next(chunks)[0].column("i")[0].as_py()]
    with pytest.raises(ReadError) as err:
        next(chunks)
    assert seen == [0, 1]
    assert (err.value.file, err.value.row, err.value.reason) == ("x.csv", 7, "bad_file")
    assert not _read_threads()


class _Stop(Exception):
    pass


def test_a_commit_failing_mid_file_stops_the_read_and_leaves_nothing(tmp_path):
    source = _tmobile_return(tmp_path / "return.csv", 120_000)  # two read chunks
    repo = Repository.open(tmp_path / "repo")

    def stop_at_first_chunk(event: IngestProgress) -> None:
        if event.phase == "read":
            raise _Stop

    with pytest.raises(_Stop):
        repo.ingest(source, case_ids=["C1"], actor="alice", progress=stop_at_first_chunk)
    assert not _read_threads()
    assert repo.snapshot().batch_ids == frozenset()
    assert repo.verify().ok
    assert not list((repo.root / "_tls" / "tmp").glob("rejects-*"))
    (report,) = repo.ingest(source, case_ids=["C1"], actor="alice")
    assert report.loaded == 120_000
    assert report.rows_total == 120_001  # the header
    assert repo.snapshot().row_count("call_records") == 120_000


@settings(max_examples=25, deadline=None)
@given(
    sizes=st.lists(st.integers(0, 40), min_size=1, max_size=12),
    per_file=st.integers(1, 60),
)
def test_keys_taken_while_staging_match_the_staged_files(tmp_path_factory, sizes, per_file):
    layout = Repository.open(tmp_path_factory.mktemp("repo"))._layout
    table = k.calls("a.csv", sum(sizes))
    owner = pa.array(["b" * 32] * len(table))
    stored = table.append_column("batch_id", owner).cast(STORED_SCHEMAS["call_records"])
    schema = STORED_SCHEMAS["call_records"]
    empty = pa.RecordBatch.from_arrays([pa.array([], f.type) for f in schema], schema=schema)
    batches, at = [], 0
    for size in sizes:  # zero-row batches too: the staging skips them
        batches.append(stored.slice(at, size).combine_chunks().to_batches()[0] if size else empty)
        at += size
    keys: list[np.ndarray] = []
    staged = write_staged(
        layout, _keyed(batches, keys), STORED_SCHEMAS["call_records"], rows_per_file=per_file
    )
    split = _split_keys(keys, staged)
    assert split is not None
    assert [s.tolist() for s in split] == [_read_back(p).tolist() for p, _ in staged]
    for path, _ in staged:
        path.unlink()


@settings(max_examples=200)
@given(
    st.lists(st.integers(0, 2**48 - 1)),
    st.lists(st.integers(0, 2**48 - 1)),
    st.integers(0, 100),
    st.integers(1, 100),
)
def test_merge_with_a_file_shift_is_a_sort_of_the_shifted_entries(a, b, files_a, files_b):
    def entries(keys: list[int], files: int) -> np.ndarray:
        return np.sort(np.array([(x << 16) | (x % files) for x in keys], dtype=np.uint64))

    left, right = entries(a, max(files_a, 1)), entries(b, files_b)
    merged = _merge_sorted(left, right, files_a)
    expected = sorted(left.tolist() + [v + files_a for v in right.tolist()])
    assert merged.tolist() == expected
    assert distinct(merged).tolist() == sorted(set(expected))


def test_read_threads_are_reused_and_end_when_idle():
    pool = ReadThreads(idle=0.2)
    names: list[int] = []
    for _ in range(5):
        ran = threading.Event()
        pool.run(lambda ran=ran: (names.append(threading.get_ident()), ran.set()))
        assert ran.wait(5)
        time.sleep(0.02)  # back in the pool
    assert len(set(names)) == 1  # one thread ran every read, one after the other
    both = threading.Barrier(2, timeout=5)
    pool.run(both.wait)
    pool.run(both.wait)  # the first is busy: a second thread, no waiting for the first
    time.sleep(0.6)
    assert pool._waiting == []  # idle threads ended


def test_a_forked_child_reads_in_its_own_threads():
    import os

    chunks = [_chunk(i) for i in range(3)]
    assert len(list(Prefetch(iter(chunks), 1))) == 3
    assert READERS._waiting  # the parent keeps an idle read thread
    pid = os.fork()
    if pid == 0:  # the child must not hand its read to the parent's thread (it has none)
        code = 1
        try:
            code = 0 if len(list(Prefetch(iter(chunks), 1))) == 3 else 1
        finally:
            os._exit(code)
    for _ in range(600):  # a child waiting for a thread it does not have would hang
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            break
        time.sleep(0.05)
    else:
        os.kill(pid, 9)
        os.waitpid(pid, 0)
        pytest.fail("the forked child's read hung")
    assert os.waitstatus_to_exitcode(status) == 0
