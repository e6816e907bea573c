"""The read path's shortcuts agree with the plain computations they stand for.

Each shortcut (string views cut by the field kernel, its blank-edge flags, per-chunk fast paths
of the conversion, the identifier memo) is checked against the straightforward computation on
generated input: Python's ``str.split``, the regular expressions, ``str.to_lowercase``, a read
without memo.
"""

from __future__ import annotations

import re
import tempfile
from datetime import datetime
from pathlib import Path

import numpy as np
import polars as pl
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import penlink_adapters as pla
from penlink_adapters import _convert
from penlink_adapters._identify import IdentifierMemo, normalize_columns
from penlink_adapters._layout import DurationFormat
from penlink_adapters._plain_cut import Cut, CutSpec, cut_lines, view_series
from penlink_adapters._source import _check
from penlink_adapters._values import duration_expr, null_expr
from tests.adapters.test_fast import _both

_CHARS = st.sampled_from(["a", "1", "0", " ", "\t", ",", ";", "\u00a0", "\u3000", "é", "-", "."])
_LINES = st.lists(st.text(_CHARS, max_size=12), min_size=1, max_size=12)


def _cut_fields(block: bytes, delim: str, wanted: list[int]) -> tuple[Cut, list[pl.Series]]:
    cut = cut_lines(block, CutSpec(delim, tuple(wanted), ""))
    assert cut is not None
    f = cut.facts
    columns = [
        view_series(f.views[c], cut.buf, f.counts > w, int((f.counts <= w).sum()))
        for c, w in enumerate(wanted)
    ]
    return cut, columns


@pytest.mark.nojit
@settings(max_examples=150, deadline=None)
@given(lines=_LINES, delim=st.sampled_from([",", ";", "\t"]), wanted=st.sets(st.integers(0, 5)))
def test_field_views_match_str_split(lines: list[str], delim: str, wanted: set[int]) -> None:
    cols = sorted(wanted | {0})
    block, columns = _cut_fields("\n".join(lines).encode() + b"\n", delim, cols)
    counts, edgy = block.facts.counts, block.facts.edgy
    blank_edge = re.compile(rf"(?:^|{re.escape(delim)})\s|\s(?:{re.escape(delim)}|$)")
    assert block.head(len(lines)) == lines
    for i, line in enumerate(lines):
        parts = line.split(delim)
        assert counts[i] == len(parts)
        for c, column in zip(cols, columns, strict=True):
            assert column[i] == (parts[c] if c < len(parts) else None)
        # The flag may be raised in vain (non-ASCII), never missed.
        if any(p != p.strip() for p in parts) or blank_edge.search(line):
            assert edgy[i]
        if line.isascii() and not edgy[i]:
            assert all(p == p.strip() for p in parts)


@pytest.mark.nojit
def test_long_fields_point_into_the_block() -> None:
    long = "x" * 40 + "é" * 5
    _, columns = _cut_fields(f"{long},short,{long}!\n".encode(), ",", [0, 1, 2])
    assert [c[0] for c in columns] == [long, "short", long + "!"]


HEADER = "start,from,to,target,duration,type,direction"
BLANKY = "2021-03-01 10:00:0{s},{pad}212555010{s},646555012{s}{pad},2125550101,{s},voice,outgoing"


@settings(max_examples=25, deadline=None)
@given(
    pads=st.lists(st.sampled_from(["", " ", "\t", "\u00a0", "\u2003"]), min_size=1, max_size=8),
    chunk_rows=st.integers(1, 4),
)
def test_fast_path_matches_row_path_with_blank_edges(pads: list[str], chunk_rows: int) -> None:
    lines = [HEADER] + [BLANKY.format(s=i % 10, pad=p) for i, p in enumerate(pads)]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "generic.csv"
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        fast, slow = _both(path, chunk_rows, layout="generic", tz="UTC")
    assert fast == slow


_TERMS = st.one_of(
    st.none(),
    st.text(st.sampled_from("0123456789"), max_size=12),
    st.sampled_from(
        ["18056377249", "8056377249", "28056377249", "1", "18056377243", "8056377243", ""]
    ),
    st.text(st.sampled_from("0123456789-() +\u0663"), max_size=14),
)


@settings(max_examples=150, deadline=None)
@given(terms=st.lists(_TERMS, max_size=20))
def test_term_digits_fast_path_matches_the_regex(terms: list[str | None]) -> None:
    df = pl.DataFrame({"term_input": terms}, schema={"term_input": pl.String})
    regex = pl.col("term_input").str.replace_all(r"\D", "").str.replace(r"^1(\d{10})$", "${1}")
    got = df.select(_convert._term_digits(df).alias("d"))["d"]
    assert got.to_list() == df.select(regex.alias("d"))["d"].to_list()


@settings(max_examples=150, deadline=None)
@given(terms=st.lists(_TERMS, max_size=20))
def test_service_events_on_distinct_values_match_every_row(terms: list[str | None]) -> None:
    events = {"8056377249": "forwarded", "18056377243": "voicemail", "1": "other", "": "x"}
    df = pl.DataFrame({"term_input": terms}, schema={"term_input": pl.String})
    per_row = _convert._term_digits(df).replace_strict(events, default=None, return_dtype=pl.String)
    got = _convert._service(df, events)
    assert got.to_list() == df.select(per_row.alias("e"))["e"].to_list()


_CODE = st.one_of(
    st.none(), st.text(st.sampled_from("aAbB\u03a3\u03c3\u03c2 \u0130\u00a0"), max_size=4)
)


@settings(max_examples=100, deadline=None)
@given(values=st.lists(_CODE, max_size=20), pairs=st.dictionaries(_CODE, _CODE, max_size=4))
def test_code_mapping_matches_folding_every_row(
    values: list[str | None], pairs: dict[str | None, str | None]
) -> None:
    table = {k: v for k, v in pairs.items() if k is not None and v is not None}
    df = pl.DataFrame({"c": values}, schema={"c": pl.String})
    codes = _convert._fold(df["c"])
    folded = df["c"].str.to_lowercase()
    rowwise = folded.replace_strict(table, default=None, return_dtype=pl.String)
    assert codes.mapped(table).to_list() == rowwise.to_list()
    want = folded.drop_nulls().value_counts()
    got = {k: n for k, n in zip(codes.keys, codes.counts(), strict=True) if n}
    assert got == dict(want.iter_rows())


@settings(max_examples=100, deadline=None)
@given(
    values=st.lists(
        st.one_of(st.none(), st.text(st.sampled_from("0123456789:\u0663 -+x"), max_size=25)),
        max_size=20,
    )
)
def test_undotted_durations_parse_alike(values: list[str | None]) -> None:
    df = pl.DataFrame({"d": values}, schema={"d": pl.String})
    formats: tuple[DurationFormat, ...] = ("seconds", "mm:ss", "hh:mm:ss", "auto")
    for fmt in formats:
        dotted = df.select(duration_expr(pl.col("d"), fmt, dotted=True))
        plain = df.select(duration_expr(pl.col("d"), fmt, dotted=False))
        assert dotted.equals(plain)


@settings(max_examples=40, deadline=None)
@given(
    chunks=st.lists(
        st.lists(
            st.one_of(
                st.none(),
                st.sampled_from(["2125550142", "(646) 555-0123", "1.21355E+10", "911", "x"]),
                st.from_regex(r"\A[2-9][0-9]{9}\Z"),
            ),
            max_size=8,
        ),
        min_size=1,
        max_size=4,
    ),
    limit=st.integers(1, 6),
)
def test_memo_changes_no_normalization(chunks: list[list[str | None]], limit: int) -> None:
    memo = IdentifierMemo(limit=limit)
    for values in chunks:
        df = pl.DataFrame(
            {"a_input": values, "b_input": list(reversed(values))},
            schema={"a_input": pl.String, "b_input": pl.String},
        )
        with_memo = normalize_columns(df, ("a", "b"), "US", memo)
        assert with_memo.equals(normalize_columns(df, ("a", "b"), "US"))


@pytest.mark.nojit
@settings(max_examples=300, deadline=None)
@given(
    block=st.lists(
        st.sampled_from([b"a", b"\r", b"\n", b'"', b"\x00", b",", b"\x80", b"\xff"]),
        max_size=30,
    ),
    after_cr=st.booleans(),
)
def test_plain_block_kernel_matches_the_byte_counts(block: list[bytes], after_cr: bool) -> None:
    data = b"".join(block)
    lone = data.count(b"\r") - data.count(b"\r\n")
    expected = not (b'"' in data or b"\x00" in data or (after_cr and not data.startswith(b"\n")))
    expected = expected and lone == (1 if data.endswith(b"\r") else 0)
    assert _check(data, after_cr) == (expected, data.isascii())


@settings(max_examples=150, deadline=None)
@given(
    values=st.lists(
        st.one_of(st.none(), st.sampled_from(["", " ", "N/A", "x", " N/A"])), max_size=12
    ),
    sentinels=st.lists(st.sampled_from(["", "N/A", "x"]), max_size=3),
    strip=st.booleans(),
)
def test_null_sentinels_match_is_in(
    values: list[str | None], sentinels: list[str], strip: bool
) -> None:
    import dataclasses

    layout = dataclasses.replace(pla.get_layout_or_raise("tmobile"), nulls=tuple(sentinels))
    df = pl.DataFrame({"c": values}, schema={"c": pl.String})
    col = pl.col("c").str.strip_chars() if strip else pl.col("c")
    want = df.select(
        pl.when(col.is_in(list(dict.fromkeys(sentinels)))).then(None).otherwise(col).alias("c")
    )
    got = df.select(null_expr("c", layout, strip=strip))
    assert got["c"].to_list() == want["c"].to_list()


_IDS = st.sampled_from(["2125550142", "+1 212 555 0142", "1.21355E+10", "abc", "", None])


@settings(max_examples=100, deadline=None)
@given(
    rows=st.integers(0, 8),
    pick=st.lists(st.tuples(_IDS, _IDS), min_size=8, max_size=8),
    constant=st.tuples(_IDS, st.booleans()),
)
def test_normalized_columns_match_normalize_row_by_row(
    rows: int, pick: list[tuple[str | None, str | None]], constant: tuple[str | None, bool]
) -> None:
    """Columns of one value (looked up once, repeated) and mixed columns alike (issue 3)."""
    from tls_core.identifiers import normalize

    value, memo = constant
    df = pl.DataFrame(
        {
            "a_input": [a for a, _ in pick[:rows]],
            "b_input": [b for _, b in pick[:rows]],
            "c_input": [value] * rows,
            "d_input": [None] * rows,
        },
        schema={f"{p}_input": pl.String for p in "abcd"},
    )
    got = normalize_columns(df, tuple("abcd"), "US", IdentifierMemo() if memo else None)
    for p in "abcd":
        want = normalize(df[f"{p}_input"].to_arrow(), "auto", default_region="US")
        assert got[f"{p}_kind"].to_list() == want.column("kind").cast(pa.string()).to_pylist()
        canonical = want.column("canonical").cast(pa.string()).to_pylist()
        assert got[f"{p}_canonical"].to_list() == canonical
        lossy = [r == "lossy_number" for r in want.column("reason").cast(pa.string()).to_pylist()]
        assert got[f"{p}_lossy"].to_list() == lossy


def test_plain_bench_file_reads_alike_both_ways() -> None:
    """A larger synthetic return (several chunks, both code paths of the memo)."""
    from benchmarks.read_scale import synth_file

    path = synth_file(3_000, seed=11)
    fast, slow = _both(path, 700)
    assert fast == slow
    records = fast[0]  # type: ignore[index]
    assert isinstance(records, pa.Table)
    assert records.num_rows == 3_000
    assert np.unique(records.column("record_id").to_numpy(zero_copy_only=False)).size == 3_000
    assert pla.read_return(path)[0].equals(records)


def _results(values: list[str | None]) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "_value": values,
            "kind": [None if v is None else f"k{len(v)}" for v in values],
            "canonical": [None if v is None else v.upper() for v in values],
            "reason": [None] * len(values),
        },
        schema={
            "_value": pl.String,
            "kind": pl.String,
            "canonical": pl.String,
            "reason": pl.String,
        },
    )


@pytest.mark.nojit
@settings(max_examples=60, deadline=None)
@given(
    batches=st.lists(
        st.lists(st.one_of(st.none(), st.text("ab1 ", max_size=4)), max_size=900, unique=True),
        min_size=1,
        max_size=3,
    ),
    probe=st.lists(st.one_of(st.none(), st.text("ab1 ", max_size=4)), max_size=40),
    limit=st.sampled_from([3, 1_000_000]),
)
def test_memo_find_matches_the_join(
    batches: list[list[str | None]], probe: list[str | None], limit: int
) -> None:
    """The memo's hash map finds exactly what a join on its table finds (growth, resets)."""
    from penlink_adapters._identify import _lookup

    memo = IdentifierMemo(limit=limit)
    for batch in batches:
        known = set(memo.table["_value"].to_list())
        memo.remember(_results([v for v in batch if v not in known]))
        for values in (probe, batch, memo.table["_value"].to_list()):
            series = pl.Series("_value", values, pl.String)
            assert memo.find(series).equals(_lookup(series, memo.table))


_TIME_FORMATS = (
    "%m/%d/%Y %H:%M:%S",
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%dT%H:%M:%S",
    "%m/%d/%Y %H:%M",
    "%d.%m.%Y %H:%M:%S",
    "%Y/%m/%d %H:%M",
    "%H:%M:%S %m/%d/%Y",
    "%Y%m%d%H%M%S",
)


def _time_text(fmt: str) -> st.SearchStrategy[str]:
    """Text shaped like ``fmt``: digits (in range or not), sometimes a stray character."""
    width = {"Y": 4, "m": 2, "d": 2, "H": 2, "M": 2, "S": 2}
    near = {"Y": [1, 999, 1900, 2000, 2020, 2021, 2100, 9999], "m": [0, 1, 2, 9, 12, 13]}
    near |= {"d": [0, 1, 28, 29, 30, 31, 32], "H": [0, 9, 23, 24]}
    near |= {"M": [0, 59, 60], "S": [0, 30, 59, 60]}
    parts: list[st.SearchStrategy[str]] = []
    for token in re.findall(r"%.|.", fmt):
        if token.startswith("%"):
            f = token[1]
            number = st.sampled_from(near[f]) | st.integers(0, 10 ** width[f] - 1)
            parts.append(number.map(lambda v, w=width[f]: str(v).zfill(w)))
        else:
            parts.append(st.sampled_from([token, token, token, " ", "\t", "x"]))
    shaped = st.tuples(*parts).map("".join)
    return shaped | shaped.map(lambda t: t[1:]) | shaped.map(lambda t: t + "0")


@st.composite
def _times(draw: st.DrawFn) -> tuple[str, list[str | None]]:
    fmt = draw(st.sampled_from(_TIME_FORMATS))
    when = st.datetimes(datetime(1000, 1, 1), datetime(9999, 12, 31, 23, 59, 59))
    valid = when.map(lambda d: d.strftime(fmt))
    if draw(st.booleans()):  # times that all fit (the usual file): the kernel's own results
        return fmt, draw(st.lists(st.none() | valid, max_size=12))
    return fmt, draw(st.lists(st.none() | valid | _time_text(fmt), max_size=12))


@pytest.mark.nojit
@settings(max_examples=400, deadline=None)
@given(case=_times())
def test_fixed_width_times_equal_polars_strptime(case: tuple[str, list[str | None]]) -> None:
    """The numba time parser gives polars' result, or steps aside (None) for polars to parse."""
    from penlink_adapters._values import fixed_width_times

    fmt, values = case
    raw = pl.Series("start_raw", values, pl.String)
    fast = fixed_width_times(raw, fmt)
    expected = raw.str.strptime(pl.Datetime("us"), fmt, strict=False, exact=True)
    if fast is not None:  # else: a value it cannot vouch for; polars parses the column
        assert fast.equals(expected)


def test_fixed_width_times_step_aside_for_other_formats() -> None:
    from penlink_adapters._values import fixed_width_times

    raw = pl.Series("start_raw", ["03/01/2021 00:00:11"])
    fmt = "%m/%d/%Y %H:%M:%S"
    parsed = fixed_width_times(raw, fmt)
    assert parsed is not None
    assert parsed.to_list() == [datetime(2021, 3, 1, 0, 0, 11)]
    for fmt in ("%m/%d/%Y %I:%M:%S %p", "%m/%d/%y %H:%M:%S", "%m/%d/%Y", "%b %d %Y %H:%M"):
        assert fixed_width_times(raw, fmt) is None
    assert (
        fixed_width_times(pl.Series("start_raw", ["3/1/2021 00:00:11"]), "%m/%d/%Y %H:%M:%S")
        is None
    )
