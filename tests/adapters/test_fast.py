"""The vectorized path for plain files agrees with the row-by-row path, row for row."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import penlink_adapters as pla
from penlink_adapters._source import inspect_source
from tests.adapters._expected import cases, load_case

READABLE = [c for c in cases() if not load_case(c).get("refused")]


def _both(path: Path, chunk_rows: int = 100_000, **kw: str | None) -> list[object]:
    out: list[object] = []
    for fast in (True, False):
        scan = pla.ReturnScan(
            path,
            kw.get("layout") or "auto",
            kw.get("tz"),
            kw.get("target"),
            kw.get("region"),
            chunk_rows,
            fast=fast,
        )
        parts = list(scan)
        records = pa.concat_tables([p[0] for p in parts]) if parts else None
        rejects = pa.concat_tables([p[1] for p in parts]) if parts else None
        out.append((records, rejects, scan.report()))
    return out


@pytest.mark.parametrize("folder", READABLE, ids=[c.name for c in READABLE])
@pytest.mark.parametrize("chunk_rows", [3, 100_000])
def test_fast_path_matches_row_path_on_fixtures(folder: Path, chunk_rows: int) -> None:
    case = load_case(folder)
    fast, slow = _both(
        folder / case["file"],
        chunk_rows,
        tz=case.get("tz"),
        target=case.get("target"),
        region=case.get("region"),
    )
    assert fast == slow


def test_plain_files_take_the_fast_path(io_files_path: Path) -> None:
    assert inspect_source(io_files_path / "tmobile" / "tmobile_v170711.csv").plain
    assert not inspect_source(io_files_path / "att" / "att_records_key.csv").plain  # quotes


HEADER = "start,from,to,target,duration,type,direction"
GOOD = "2021-03-0{d} 1{h}:00:00,212555010{d},646555012{h},212555010{d},{h}{d},voice,outgoing"
NOISE = ["", ",,,,,,", "Page 1 of 3", "Total records: 4", HEADER, "a,b", "x,y,z,1,2,3,4,5", "   "]


@settings(max_examples=60, deadline=None)
@given(
    picks=st.lists(
        st.one_of(
            st.tuples(st.just("good"), st.integers(1, 9), st.integers(0, 9)),
            st.tuples(st.just("noise"), st.integers(0, len(NOISE) - 1), st.just(0)),
        ),
        max_size=30,
    ),
    crlf=st.booleans(),
    chunk_rows=st.integers(1, 7),
)
def test_fast_path_matches_row_path_on_noisy_files(
    picks: list[tuple[str, int, int]], crlf: bool, chunk_rows: int
) -> None:
    lines = ["Analyst export", HEADER]
    for kind, a, b in picks:
        lines.append(GOOD.format(d=a, h=b) if kind == "good" else NOISE[a])
    text = ("\r\n" if crlf else "\n").join(lines) + "\n"
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "generic.csv"
        path.write_text(text, encoding="utf-8", newline="")
        assert inspect_source(path).plain
        fast, slow = _both(path, chunk_rows, layout="generic", tz="UTC")
    assert fast == slow
    assert fast[2].balanced  # type: ignore[index]


def test_a_block_holds_about_one_chunk_of_lines(tmp_path: Path) -> None:
    """Blocks are sized from the mean line length: chunks are full, not a full and a small one.

    With fixed 16 MiB blocks, 250,000 lines of about 76 bytes came as chunks of 50,000 rows
    and one of 20,000 cut off each block's end.
    """
    path = tmp_path / "generic.csv"
    body = "".join(
        f"2021-03-01 10:00:00,{2125550000 + i},6465550120,2125550101,10,voice,outgoing\n"
        for i in range(250_000)
    )
    path.write_text("start,from,to,target,duration,type,direction\n" + body)
    scan = pla.ReturnScan(path, "generic", "UTC", None, None, 50_000, fast=True)
    sizes = [records.num_rows for records, _ in scan]
    assert scan.report().loaded == sum(sizes) == 250_000
    assert max(sizes) <= 50_000
    assert min(sizes[1:-1]) >= 45_000, sizes


def test_a_line_longer_than_blocks_is_read_in_growing_blocks(tmp_path: Path) -> None:
    """A 3 MiB line (three first blocks) comes whole, between ordinary lines.

    The row path refuses such a field (the csv module's field limit), so only the fast path
    is read here.
    """
    path = tmp_path / "generic.csv"
    rows = [
        "2021-03-01 10:00:00,2125550101,6465550120,2125550101,10,voice,outgoing",
        f"2021-03-01 10:01:00,2125550102,6465550121,2125550101,11,{'v' * (3 << 20)},outgoing",
        "2021-03-01 10:02:00,2125550103,6465550122,2125550101,12,sms,incoming",
    ]
    path.write_text("start,from,to,target,duration,type,direction\n" + "\n".join(rows) + "\n")
    # Chunks of 10 rows: blocks of 1 MiB, so the long line is carried over several reads.
    scan = pla.ReturnScan(path, "generic", "UTC", None, None, 10, fast=True)
    records = pa.concat_tables([r for r, _ in scan])
    report = scan.report()
    assert report.balanced
    assert report.rows_total == 4
    assert records.column("source_row").to_pylist() == [2, 3, 4]
