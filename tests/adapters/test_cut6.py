"""The copying path (blocks with a CR elsewhere than before a LF) after cut6 (issue 3).

Such a block's lines are cut from a copy without any CR by the same kernel as a plain block
(:func:`penlink_adapters._plain_cut.copy_lines`). A golden test holds what main's code before
cut6 (``split_lines_kernel``, ``split_fields_kernel``) made of a file with stray CRs; a
differential test checks that a file with stray CRs reads as the same file without them
(the cut-in-place path, itself checked against the row path in ``test_fused.py``). Inspection
never calls such a file plain (it takes the row path), so the tests force the plain path.
"""

from __future__ import annotations

import dataclasses
import tempfile
from pathlib import Path
from typing import Any
from unittest.mock import patch

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import penlink_adapters as pla
from penlink_adapters import _fast
from penlink_adapters._fast import iter_plain_chunks
from penlink_adapters._plain_cut import CutSpec, copy_lines
from penlink_adapters._rows import RowSorter
from tests.adapters.test_fused import _NOISE, GENERIC_HEADER, _generic_row

STRAY = [
    b"Analyst export",
    b"start,from,to,target,duration,type,direction",
    b"2021-03-01 10:00:00,2125550101,6465550120,2125550101,10,voice,outgoing\r",
    b"2021-03-01 10:0\r1:00,21255501\r02,6465550121,2125550102,11,voice,outgoing",
    b"2021-03-01 10:01:00,2125550102,6465550121,2125550102,11,voice,outgoing",
    b"Page 1 of 2\r",
    b"\r",
    b"a,b\rc",
    b"2021-03-01 10:02:00, 2125550103,6465550122,2125550103,12,sms,incoming\r\r",
    b"Total records: 3",
    b"2021-03-01 10:03:00,2125550104,6465550123,2125550104,13,voice,outgoing,\r",
    b"x,y,z,1,2,3,4,5",
    b"2021-03-01 10:04:00,2125550105,6465550124,2125550105,\r14,voice,outgoing",
]

# Written by main's code at 0027e94 (the copying path before cut6); the same for each block
# size below. The file ends with LF then CR: a last, empty line (blank).
MAIN_ROWS = [
    ("2021-03-01 10:00:00", "2125550101", "6465550120", "2125550101", "10", "voice", "outgoing", 3),
    ("2021-03-01 10:01:00", "2125550102", "6465550121", "2125550102", "11", "voice", "outgoing", 4),
    ("2021-03-01 10:02:00", " 2125550103", "6465550122", "2125550103", "12", "sms", "incoming", 9),
    (
        "2021-03-01 10:03:00",
        "2125550104",
        "6465550123",
        "2125550104",
        "13",
        "voice",
        "outgoing",
        11,
    ),
    (
        "2021-03-01 10:04:00",
        "2125550105",
        "6465550124",
        "2125550105",
        "14",
        "voice",
        "outgoing",
        13,
    ),
]
MAIN_TRIMMED = False
MAIN_SKIPPED = {"preamble": 1, "header": 1, "page": 1, "blank": 2, "total": 1, "duplicate": 1}
MAIN_BAD_ROWS = [
    (8, "2 fields, expected 7", "a,bc"),
    (12, "8 fields, expected 7", "x,y,z,1,2,3,4,5"),
]
MAIN_TOTAL = 14

_SIZES = [(1 << 24, 100_000), (64, 2), (300, 3)]


def _plain_read(data: bytes, block: int, chunk_rows: int) -> tuple[Any, ...]:
    """Chunks of the plain path (forced) over ``data``: rows, trimmed flags, sorter counts.

    The read plan (header) is found on the file without its CRs: what is tested is the cut.
    """
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "generic.csv"
        path.write_bytes(data.replace(b"\r", b""))
        scan = pla.ReturnScan(path, "generic", "UTC", None, None, chunk_rows, fast=True)
        path.write_bytes(data)
        info = dataclasses.replace(scan.info, plain=True, size=len(data))
        sorter = RowSorter(scan.plan, chunk_rows=chunk_rows)
        with patch.object(_fast, "_BLOCK", block):
            chunks = list(iter_plain_chunks(info, sorter))
    rows = [r for c in chunks for r in c.frame.rows()]
    fields = {k: v for c in chunks for k, v in c.fields_of(c.frame["_row"].to_list()).items()}
    trimmed = [c.trimmed for c in chunks]
    return rows, fields, trimmed, dict(sorter.skipped), sorter.bad_rows, sorter.total


@pytest.mark.parametrize(("block", "chunk_rows"), _SIZES)
def test_stray_crs_read_as_main_read_them_issue_3(block: int, chunk_rows: int) -> None:
    rows, fields, trimmed, skipped, bad_rows, total = _plain_read(
        b"\n".join(STRAY) + b"\n\r", block, chunk_rows
    )
    assert rows == MAIN_ROWS
    assert fields == {r[-1]: [*r[:-1]] + [""] * (r[-1] == 11) for r in MAIN_ROWS}
    assert (skipped, bad_rows, total) == (MAIN_SKIPPED, MAIN_BAD_ROWS, MAIN_TOTAL)
    if block == 1 << 24:
        assert trimmed == [MAIN_TRIMMED]


def test_copy_keeps_a_last_line_without_lf() -> None:
    spec = CutSpec(",", (0, 1), "")
    assert copy_lines(b"a\rb,c\n\r", spec).head(5) == ["ab,c", ""]
    assert copy_lines(b"a\rb,c\nd\r", spec).head(5) == ["ab,c", "d"]
    assert copy_lines(b"a\rb,c\n", spec).head(5) == ["ab,c"]


@st.composite
def _with_stray_crs(draw: st.DrawFn, line: str) -> str:
    at = sorted(draw(st.lists(st.integers(0, len(line)), max_size=3)))
    parts = [line[i:j] for i, j in zip([0, *at], [*at, len(line)], strict=True)]
    return "\r".join(parts)


@settings(max_examples=30, deadline=None)
@given(
    body=st.lists(
        st.one_of(_generic_row(), st.sampled_from([*_NOISE, GENERIC_HEADER]), st.just("dup")),
        min_size=1,
        max_size=20,
    ),
    data=st.data(),
    size=st.sampled_from(_SIZES),
)
def test_stray_crs_read_as_the_file_without_them(
    body: list[str], data: st.DataObject, size: tuple[int, int]
) -> None:
    lines = ["Analyst export", GENERIC_HEADER]
    for line in body:
        lines.append(lines[-1] if line == "dup" else line)
    stray = [data.draw(_with_stray_crs(line)) for line in lines]
    text = "\n".join(stray) + "\n"
    # Blocks are cut by bytes, so the two files may be chunked apart: per-chunk flags differ.
    rows, fields, trimmed, *counts = _plain_read(text.encode(), *size)
    rows2, fields2, trimmed2, *counts2 = _plain_read(text.replace("\r", "").encode(), *size)
    assert (rows, fields, all(trimmed), counts) == (rows2, fields2, all(trimmed2), counts2)
