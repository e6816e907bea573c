"""Hypothesis round trips: records rendered in a layout with a random dialect, encoding and line
ending read back to the same canonical values; and arbitrary bytes never crash a reader."""

from __future__ import annotations

import csv
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import penlink_adapters as pla
from penlink_adapters._synth_render import SynthCall, call_fields, render_rows, supports_event
from tls_core.errors import TlsError

ROUND_TRIP = [
    lay
    for lay in pla.list_layouts()
    if lay.record_type == "call"
    and not lay.refuse
    and lay.name not in {"generic"}  # covered by its own fixture (offset-bearing times)
]

TARGET = "2125550100"

calls = st.builds(
    SynthCall,
    target=st.just(TARGET),
    other=st.integers(2_000_000, 9_999_999).map(lambda n: f"646{n}"),
    start=st.integers(0, 3 * 365 * 86400).map(
        lambda s: datetime(2020, 1, 1, tzinfo=UTC) + timedelta(seconds=s)
    ),
    duration=st.integers(0, 5000),
    direction=st.sampled_from(["outgoing", "incoming"]),
    event=st.sampled_from(["voice", "sms"]),
)

SETTINGS = settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@pytest.mark.parametrize("layout", ROUND_TRIP, ids=[lay.name for lay in ROUND_TRIP])
@SETTINGS
@given(
    records=st.lists(calls, min_size=1, max_size=8, unique_by=lambda c: (c.other, c.start)),
    encoding=st.sampled_from(["utf-8", "utf-8-sig", "utf-16", "cp1252"]),
    newline=st.sampled_from(["\n", "\r\n"]),
    quoting=st.sampled_from([csv.QUOTE_MINIMAL, csv.QUOTE_ALL]),
    data=st.data(),
)
def test_round_trip(
    layout: pla.Layout,
    records: list[SynthCall],
    encoding: str,
    newline: str,
    quoting: int,
    data: st.DataObject,
) -> None:
    records = [c for c in records if supports_event(layout, c.event)]
    if not records:
        return
    delimiter = data.draw(st.sampled_from(layout.delimiters))
    rows = [call_fields(layout, c, "UTC") for c in records]
    text = render_rows(layout, rows, delimiter=delimiter, quoting=quoting, newline=newline)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "return.csv"
        path.write_bytes(text.encode(encoding))
        table, rejects, report = pla.read_return(
            path, layout=layout, source_tz="UTC", target=TARGET, region="US"
        )
    assert rejects.num_rows == 0, rejects.to_pylist()
    assert report.balanced
    got = table.to_pylist()
    assert len(got) == len(records)
    for call, row in zip(records, got, strict=True):
        other = row["term_canonical"] if call.direction == "outgoing" else row["orig_canonical"]
        assert other == "+1" + call.other
        assert row["start_utc"] == call.start
        assert row["duration_s"] == call.duration
        assert row["direction"] == call.direction
        if layout.event_map:
            assert row["event_type"] == call.event


@pytest.mark.parametrize("layout", pla.list_layouts(), ids=[lay.name for lay in pla.list_layouts()])
@settings(max_examples=25, deadline=2000, suppress_health_check=[HealthCheck.too_slow])
@given(blob=st.binary(max_size=600))
def test_fuzz_raises_only_documented_errors(layout: pla.Layout, blob: bytes) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "fuzz.csv"
        path.write_bytes(blob)
        try:
            _, _, report = pla.read_return(path, layout=layout, source_tz="UTC")
        except TlsError:
            return
        assert report.balanced


@settings(max_examples=40, deadline=2000)
@given(blob=st.binary(max_size=600))
def test_fuzz_detection(blob: bytes) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "fuzz.csv"
        path.write_bytes(blob)
        try:
            pla.detect(path)
        except TlsError:
            return
