"""Every shipped layout against its fixture: detection, canonical output, rejects, report."""

from __future__ import annotations

from pathlib import Path

import pytest

import penlink_adapters as pla
from tests.adapters._expected import (
    cases,
    load_case,
    render_records,
    render_rejects,
    render_report,
    run_case,
)
from tls_core.errors import DetectionError
from tls_core.schema import CALL_RECORDS, REJECTS, SCHEMAS, check_table

CASES = cases()
IDS = [c.name for c in CASES]
READABLE = [c for c in CASES if not load_case(c).get("refused")]


@pytest.mark.parametrize("folder", CASES, ids=IDS)
def test_detect_picks_the_layout(folder: Path) -> None:
    case = load_case(folder)
    best = pla.detect(folder / case["file"])[0]
    assert best.layout.name == case["layout"]
    assert best.confidence >= pla.MIN_CONFIDENCE


@pytest.mark.parametrize("folder", CASES, ids=IDS)
def test_fixture_matches_expected_output(folder: Path) -> None:
    case = load_case(folder)
    if case.get("refused"):
        with pytest.raises(DetectionError) as info:
            run_case(folder)
        assert info.value.reason == "refused_layout"
        return
    records, rejects, report = run_case(folder)
    schema = SCHEMAS[records.schema.metadata[b"tls.schema"].decode()]
    check_table(records, schema)
    check_table(rejects, REJECTS)
    assert report.balanced
    assert rejects.num_rows == sum(report.rejected.values())
    assert render_records(records) == (folder / "expected_records.csv").read_text(encoding="utf-8")
    assert render_rejects(rejects) == (folder / "expected_rejects.csv").read_text(encoding="utf-8")
    assert render_report(report) == (folder / "expected_report.json").read_text(encoding="utf-8")


@pytest.mark.parametrize("folder", READABLE, ids=[c.name for c in READABLE])
def test_record_ids_are_stable_and_unique(folder: Path) -> None:
    first, _, _ = run_case(folder)
    again, _, _ = run_case(folder)
    ids = first.column("record_id").to_pylist()
    assert ids == again.column("record_id").to_pylist()
    assert len(set(ids)) == len(ids)
    assert all(len(i) == 32 for i in ids)


def test_bandicoot_sample_loads_every_record() -> None:
    folder = next(c for c in CASES if c.name == "bandicoot")
    records, rejects, report = run_case(folder)
    assert (report.loaded, rejects.num_rows, report.rows_total) == (314, 0, 315)
    assert set(records.column("event_type").to_pylist()) == {"voice", "sms"}
    assert records.schema.equals(CALL_RECORDS, check_metadata=True)
