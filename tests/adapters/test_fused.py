"""The fused pass over plain blocks (:mod:`penlink_adapters._plain_cut`) against the row path.

Differential tests: T-Mobile-like and generic-analyst returns with nulls, odd and bad dates,
unknown codes, CRLF or LF, a BOM or not, a quoted field or not (a file with quotes is not plain
and takes the row path both ways), preamble, repeated-header, page, total and junk lines,
exact duplicates and rows with the wrong number of fields, read by the fused path and by the
row-by-row path: canonical tables (provenance included), rejects and reports are equal, and
every line is accounted for. Blocks are made small so that a file spans many of them.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from unittest.mock import patch

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from penlink_adapters import _fast
from penlink_adapters._plain_cut import Cut, CutSpec, cut_lines
from penlink_adapters._source import inspect_source
from tests.adapters.test_fast import _both

TMOBILE_HEADER = (
    "Date,(UTC) Time,Duration,Call Type,Direction,Calling Number,Dialed Number,"
    "Destination Number,IMSI,IMEI,1st Cell ID,1st LTE Sector ID,1st Tower LAT,1st Tower LONG,"
    "Last Cell ID,Last LTE Sector ID,Last Tower LAT,Last Tower LONG,Called Number"
)
_DATES = ["03/01/2021", "3/1/2021", "02/29/2021", "02/29/2024", "13/01/2021", "", "2021-03-01"]
_TIMES = ["00:00:11", "23:59:59", "12:30", "24:00:00", "", "7:05:09"]
_DURATIONS = ["0", "3098", "", "12.0", "1:02", "x", "007"]
_TYPES = [
    "mSOriginating",
    "msterminating",
    "mSOriginatingSMSinMSC",
    "SMSc",
    "RCS-IMChat",
    "foo",
    "",
]
_DIRECTIONS = ["Outgoing", "incoming", "", "sideways"]
_NUMBERS = [
    "2125550142",
    "6465041085",
    "",
    "8056377249",
    "+1 212 555 0142",
    "1.21355E+10",
    "(718) 934-2785",
    "911",
    " 2025826062",
]
_IDS = ["310260000000001", "490154203237518", "", "12", "49015420323751\u00e9"]
_COORDS = ["40.7", "-73.9", "", "95.0", "abc", "0"]
_NOISE = [
    "",
    ",,,,",
    "Page 1 of 3",
    "page 2",
    "Total records: 4",
    "Subtotal,5",
    "Grand total,9",
    TMOBILE_HEADER,
    "a,b",
    "   ",
    "\u00a0Page 3 of 3",
    "Date,junk",
]


@st.composite
def _tmobile_row(draw: st.DrawFn) -> str:
    pick = st.sampled_from
    fields = [
        draw(pick(_DATES)),
        draw(pick(_TIMES)),
        draw(pick(_DURATIONS)),
        draw(pick(_TYPES)),
        draw(pick(_DIRECTIONS)),
        draw(pick(_NUMBERS)),
        draw(pick(_NUMBERS)),
        draw(pick(_NUMBERS)),
        draw(pick(_IDS)),
        draw(pick(_IDS)),
        draw(pick(["1234", "", "77"])),
        draw(pick(["1", "", "3"])),
        draw(pick(_COORDS)),
        draw(pick(_COORDS)),
        draw(pick(["1234", ""])),
        draw(pick(["2", ""])),
        draw(pick(_COORDS)),
        draw(pick(_COORDS)),
        draw(pick(["1", "", "x"])),
    ]
    extra = draw(st.sampled_from(["", "", "", ",", ",extra"]))
    return ",".join(fields) + extra


def _render(lines: list[str], crlf: bool, bom: bool) -> bytes:
    text = ("\r\n" if crlf else "\n").join(lines) + ("\r\n" if crlf else "\n")
    return (b"\xef\xbb\xbf" if bom else b"") + text.encode()


def _check(path: Path, **kw: str | None) -> None:
    for block, chunk_rows in ((1 << 24, 100_000), (97, 3), (1000, 7)):
        with patch.object(_fast, "_BLOCK", block):
            fused, rows = _both(path, chunk_rows, **kw)
        assert fused == rows
        assert fused[2].balanced  # type: ignore[index]


@settings(max_examples=30, deadline=None)
@given(
    body=st.lists(
        st.one_of(_tmobile_row(), st.sampled_from(_NOISE), st.just("dup")), min_size=1, max_size=25
    ),
    crlf=st.booleans(),
    bom=st.booleans(),
    quoted=st.booleans(),
    tab=st.booleans(),
)
def test_fused_path_matches_row_path_on_tmobile_returns(
    body: list[str], crlf: bool, bom: bool, quoted: bool, tab: bool
) -> None:
    lines = ["T-Mobile Call Detail Records", "Target: (212) 555-0142", TMOBILE_HEADER]
    for line in body:
        lines.append(lines[-1] if line == "dup" else line)
    if quoted:
        lines.append('03/01/2021,00:00:11,1,moc,Outgoing,"2125550142",,2125550143' + "," * 11)
    if tab:  # the layout's other delimiter
        lines = [line.replace(",", "\t") for line in lines]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "tmobile.csv"
        path.write_bytes(_render(lines, crlf, bom))
        assert inspect_source(path).plain == (not quoted)
        _check(path, layout="tmobile")


GENERIC_HEADER = "start,from,to,target,duration,type,direction"


@st.composite
def _generic_row(draw: st.DrawFn) -> str:
    pick = st.sampled_from
    start = draw(pick(["2021-03-01 10:00:00", "2021-03-14 02:30:00", "2021-02-30 10:00:00", ""]))
    return ",".join(
        [
            start,
            draw(pick(_NUMBERS)),
            draw(pick(_NUMBERS)),
            draw(pick(_NUMBERS)),
            draw(pick(_DURATIONS)),
            draw(pick(["voice", "sms", "fax", ""])),
            draw(pick(["outgoing", "incoming", ""])),
        ]
    )


@settings(max_examples=25, deadline=None)
@given(
    body=st.lists(
        st.one_of(_generic_row(), st.sampled_from([*_NOISE, GENERIC_HEADER]), st.just("dup")),
        min_size=1,
        max_size=25,
    ),
    crlf=st.booleans(),
    tz=st.sampled_from(["UTC", "America/New_York"]),
)
def test_fused_path_matches_row_path_on_generic_returns(
    body: list[str], crlf: bool, tz: str
) -> None:
    lines = ["Analyst export", GENERIC_HEADER]
    for line in body:
        lines.append(lines[-1] if line == "dup" else line)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "generic.csv"
        path.write_bytes(_render(lines, crlf, bom=False))
        _check(path, layout="generic", tz=tz)


def test_a_lone_cr_is_not_cut_in_place() -> None:
    assert cut_lines(b"a,b\r\nc\rd\n") is None
    cut = cut_lines(b"a,b\r\nc,d\r")
    assert cut is not None
    assert cut.head(5) == ["a,b", "c,d"]


def test_invalid_utf8_is_refused() -> None:
    with pytest.raises(UnicodeDecodeError):
        cut_lines(b"a,b\n\xff,c\n")


_CHARS = st.sampled_from(["a", "P", "1", " ", "\t", ",", "\u00a0", "é", "T", "g", "S", "\x1f"])


@settings(max_examples=200, deadline=None)
@given(lines=st.lists(st.text(_CHARS, max_size=14), min_size=1, max_size=10))
def test_kernel_facts_match_python(lines: list[str]) -> None:
    """Counts, trailing delimiter and line bytes as Python says; no non-record row missed."""
    from penlink_adapters._rows import _PAGE, _TOTAL

    cut = cut_lines("\n".join(lines).encode() + b"\n", CutSpec(",", (0, 2), "Page"))
    assert isinstance(cut, Cut)
    assert cut.head(len(lines)) == lines
    facts = cut.facts
    counts, maybe, trailing = facts.counts, facts.maybe_nonrecord, facts.trailing
    h1, h2, views = facts.h1, facts.h2, facts.views
    for i, line in enumerate(lines):
        parts = line.split(",")
        assert counts[i] == len(parts)
        assert trailing[i] == line.endswith(",")
        for c, f in enumerate((0, 2)):
            length = len(parts[f].encode()) if f < len(parts) else 0
            assert views[c, i, 0] & 0xFFFFFFFF == length  # a view begins with it
        first = parts[0].strip()
        nonrecord = not first or first == "Page" or _PAGE.match(first) or _TOTAL.match(first)
        if nonrecord:
            assert maybe[i]
        same = [j for j, other in enumerate(lines) if other == line]
        assert all(h1[j] == h1[i] and h2[j] == h2[i] for j in same)
        if any(p and (_white(p[0]) or _white(p[-1])) for p in parts):
            assert facts.edgy[i]  # a line not flagged has no blank at a field's edge


def _white(char: str) -> bool:
    """What polars' ``strip_chars`` strips (Unicode White_Space; Python adds U+001C-U+001F)."""
    return char.isspace() and char not in "\x1c\x1d\x1e\x1f"


_EDGES = [" 1", "1 ", " ", "\u00a0x", "x\u00a0", "\x0b"]


@pytest.mark.nojit
@pytest.mark.parametrize(
    ("edge", "delimiter"), [*((e, ",") for e in [*_EDGES, "\t"]), *((e, "\t") for e in _EDGES)]
)
def test_blank_edges_are_flagged_wherever_they_fall(edge: str, delimiter: str) -> None:
    """A field with a blank at an edge flags its line, at every offset of the kernel's
    64-byte windows (before and after the delimiter, at a window's first and last byte)."""
    for shift in range(130):
        lines = ["f" * shift, delimiter.join(["a", edge, "b"]), delimiter.join("a1b")]
        cut = cut_lines("\n".join(lines).encode() + b"\n", CutSpec(delimiter, (0, 1), "Page"))
        assert isinstance(cut, Cut)
        assert list(cut.facts.edgy[1:]) == [True, False], (edge, shift)


@settings(max_examples=300, deadline=None)
@given(
    window=st.binary(min_size=64, max_size=64)
    | st.lists(
        st.sampled_from([0, 9, 10, 13, 32, 33, 44, 127, 128, 255]), min_size=64, max_size=64
    ).map(bytes),
    delimiter=st.sampled_from([9, 44, 59, 124, 32, 127, 128, 255]),
    offset=st.integers(0, 63),
)
def test_window_masks_match_the_bytes(window: bytes, delimiter: int, offset: int) -> None:
    """The compiled 64-byte masks (vector compares) say what each byte is, at any offset."""
    import numba
    import numpy as np

    from penlink_adapters import _block_kernel as bk

    if bk._NO_JIT:
        pytest.skip("the compiled masks are not used without the JIT")
    masks = numba.njit(lambda b, at, d: bk._window_masks_intrinsic(b, at, d))
    buf = np.zeros(offset + 64, dtype=np.uint8)
    buf[offset:] = np.frombuffer(window, dtype=np.uint8)
    special, blankish = masks(buf, offset, np.uint8(delimiter))
    for j, byte in enumerate(window):
        assert (int(special) >> j) & 1 == (byte in (delimiter, 10, 13)), (j, byte)
        assert (int(blankish) >> j) & 1 == (byte < 33 or byte > 127), (j, byte)
    assert (special, blankish) == bk._window_masks_python(buf, offset, np.uint8(delimiter))
