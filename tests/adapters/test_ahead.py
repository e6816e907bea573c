"""Reading ahead in a helper thread (``threads=2``) changes nothing in the output (issue 3).

The two-thread scan is checked against the one-thread scan chunk for chunk (records, rejects
with their reasons and provenance, the report), on generated T-Mobile returns with every
kind of line a carrier writes: preamble, repeated headers, page and total lines, blank
lines, exact duplicates, bad dates and durations, lossy numbers, null sentinels, rows with
the wrong number of fields, quoted fields; LF or CRLF, with or without a BOM.
"""

from __future__ import annotations

import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import penlink_adapters as pla
from penlink_adapters._ahead import Threads, read_ahead
from tls_core.errors import ConfigError

_HEADER = (
    "Date,(UTC) Time,Duration,Call Type,Direction,Calling Number,Dialed Number,Called Number,"
    "Destination Number,IMSI,IMEI,Completion Code,Service Code,Switch Name,Message Text"
)
_PREAMBLE = [
    "T-Mobile USA Law Enforcement Relations,,,,,,,,,,,,,,",
    "Target Number: (212) 555-0001,,,,,,,,,,,,,,",
    ",,,,,,,,,,,,,,",
]
_ROW = "{d},{t},{dur},{kind},{dirn},{a},{dial},{b},{b},{imsi},{imei},completed,,SW01,{msg}"
_JUNK = [
    "Page 1 of 2,,,,,,,,,,,,,,",
    "Total records: 9,,,,,,,,,,,,,,",
    ",,,,,,,,,,,,,,",
    "",
    _HEADER,
    "03/14/2021,10:00:00,60,moc,Incoming,2125550004",  # too few fields
]

_DATES = st.sampled_from(["03/14/2021", "02/30/2021", "3/4/2021", "12/31/1999", "", "NULL"])
_TIMES = st.sampled_from(["10:00:00", "23:59:59", "24:00:00", "1:02:03", ""])
_DURATIONS = st.sampled_from(["0", "60", "", "abc", "1.5", "3600", "-1"])
_KINDS = st.sampled_from(["mSOriginating", "mSTerminating", "SMSc", "moc", "callForwarding", ""])
_DIRECTIONS = st.sampled_from(["Incoming", "Outgoing", "", "sideways"])
_NUMBERS = st.sampled_from(
    ["2125550001", "2125550002", "(646) 555-0199", "1.55501E+09", "911", "", "N/A", "+442071234567"]
)
_MESSAGES = st.sampled_from(["", "hello there", '"quoted, with a comma"'])


@st.composite
def _rows(draw: st.DrawFn) -> str:
    if draw(st.integers(0, 9)) == 0:
        return draw(st.sampled_from(_JUNK))
    return _ROW.format(
        d=draw(_DATES),
        t=draw(_TIMES),
        dur=draw(_DURATIONS),
        kind=draw(_KINDS),
        dirn=draw(_DIRECTIONS),
        a=draw(_NUMBERS),
        dial=draw(_NUMBERS),
        b=draw(_NUMBERS),
        imsi=draw(st.sampled_from(["310260000000001", ""])),
        imei=draw(st.sampled_from(["490154203237518", "49015420323751", ""])),
        msg=draw(_MESSAGES),
    )


def _scan(
    path: Path, chunk_rows: int, threads: Threads
) -> tuple[list[tuple[pa.Table, pa.Table]], pla.ReadReport]:
    scan = pla.scan_return(path, layout="tmobile", chunk_rows=chunk_rows, threads=threads)
    parts = list(scan)
    return parts, scan.report()


@settings(max_examples=30, deadline=None)
@given(
    rows=st.lists(_rows(), min_size=0, max_size=40),
    repeats=st.lists(st.integers(0, 39), max_size=5),
    crlf=st.booleans(),
    bom=st.booleans(),
    chunk_rows=st.integers(1, 7),
)
def test_two_threads_read_like_one_chunk_for_chunk(
    rows: list[str], repeats: list[int], crlf: bool, bom: bool, chunk_rows: int
) -> None:
    rows = rows + [rows[i] for i in repeats if i < len(rows)]  # exact duplicates, later on
    lines = [*_PREAMBLE, _HEADER, *rows]
    end = "\r\n" if crlf else "\n"
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "tmobile.csv"
        path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + (end.join(lines) + end).encode())
        one_parts, one_report = _scan(path, chunk_rows, 1)
        two_parts, two_report = _scan(path, chunk_rows, 2)
    assert two_report == one_report
    assert len(two_parts) == len(one_parts)
    for (r1, j1), (r2, j2) in zip(one_parts, two_parts, strict=True):
        assert r2.equals(r1)
        assert j2.equals(j1)
    rejected = sum(j.num_rows for _, j in one_parts)
    assert one_report.loaded + rejected + one_report.skipped == one_report.rows_total
    assert one_report.rows_total == len(lines)


def test_bench_file_reads_alike_with_one_and_two_threads_issue_3() -> None:
    from benchmarks.read_scale import synth_file

    path = synth_file(3_000, seed=11)
    one = pla.read_return(path, threads=1)
    two = pla.read_return(path, threads=2)
    assert two[0].equals(one[0])
    assert two[1].equals(one[1])
    assert two[2] == one[2]


def test_threads_other_than_one_or_two_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "tmobile.csv"
    path.write_text(_HEADER + "\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="threads must be 1 or 2"):
        pla.scan_return(path, layout="tmobile", threads=3)  # type: ignore[arg-type]


def test_read_ahead_keeps_order_and_runs_one_step_ahead() -> None:
    produced: list[int] = []
    lock = threading.Lock()

    def items() -> Iterator[int]:
        for i in range(6):
            with lock:
                produced.append(i)
            yield i

    seen = []
    for item in read_ahead(items()):
        time.sleep(0.01)  # the next step finishes meanwhile
        with lock:
            assert max(produced) <= item + 1  # never more than one step ahead
        seen.append(item)
    assert seen == list(range(6))


def test_read_ahead_raises_the_producers_error_in_the_consumer() -> None:
    def items() -> Iterator[int]:
        yield 1
        raise ValueError("boom")

    got: list[int] = []
    with pytest.raises(ValueError, match="boom"):
        got.extend(read_ahead(items()))
    assert got == [1]


def test_read_ahead_stopped_early_waits_for_the_step_in_flight() -> None:
    finished = threading.Event()

    def items() -> Iterator[int]:
        yield 1
        time.sleep(0.05)
        finished.set()
        yield 2

    ahead = read_ahead(items())
    assert next(ahead) == 1
    ahead.close()
    assert finished.is_set()


def test_concurrent_scans_share_the_pool(tmp_path: Path) -> None:
    from benchmarks.read_scale import synth_file

    path = synth_file(3_000, seed=11)
    expected = pla.read_return(path, threads=1)[0]
    results: list[pa.Table] = []

    def read() -> None:
        results.append(pla.read_return(path)[0])

    workers = [threading.Thread(target=read) for _ in range(3)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    assert len(results) == 3
    assert all(r.equals(expected) for r in results)
