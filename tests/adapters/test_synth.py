"""The synthetic scenario: every file reads as its ground truth says, and every planted link
is there to be found."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import pyarrow as pa
import pytest

import penlink_adapters as pla
from tls_core.identifiers import normalize


@pytest.fixture(scope="module")
def scenario(tmp_path_factory: pytest.TempPathFactory) -> pla.Scenario:
    return pla.write_scenario(tmp_path_factory.mktemp("synth"), seed=7)


@pytest.fixture(scope="module")
def tables(scenario: pla.Scenario) -> dict[str, tuple[pa.Table, pla.ReadReport]]:
    out = {}
    for case in scenario.cases:
        args = case["read_args"]
        records, _, report = pla.read_return(
            Path(scenario.folder) / case["file"],
            source_tz=args.get("tz"),
            target=args.get("target"),
        )
        out[case["case_id"]] = (records, report)
    return out


def test_every_call_layout_is_written(scenario: pla.Scenario) -> None:
    written = {c["layout"] for c in scenario.cases}
    shipped = {lay.name for lay in pla.list_layouts() if not lay.refuse}
    assert written == shipped


def test_every_file_reads_as_the_ground_truth_says(
    scenario: pla.Scenario, tables: dict[str, tuple[pa.Table, pla.ReadReport]]
) -> None:
    for case in scenario.cases:
        _, report = tables[case["case_id"]]
        expected = case["expected"]
        assert report.layout == case["layout"], case["file"]
        assert report.loaded == expected["loaded"], case["file"]
        assert dict(report.rejected) == expected["rejected"], case["file"]
        assert report.duplicates == expected["duplicates"], case["file"]
        assert report.balanced


def _identifiers(table: pa.Table) -> set[str]:
    cols = ["orig_canonical", "term_canonical", "target_canonical", "target_imei"]
    if "identifier_canonical" in table.column_names:
        cols = ["identifier_canonical"]
    return {v for c in cols for v in table.column(c).to_pylist() if v}


def _canonical(value: str) -> str:
    out = normalize([value]).column("canonical").cast(pa.string())[0].as_py()
    assert out is not None
    return str(out)


def test_every_planted_link_is_found_by_brute_force(
    scenario: pla.Scenario, tables: dict[str, tuple[pa.Table, pla.ReadReport]]
) -> None:
    types = set()
    for link in scenario.links:
        ident = _canonical(link["identifier"])
        for case_id in (link["case_a"], link["case_b"]):
            assert ident in _identifiers(tables[case_id][0]), (link, case_id)
        types.add(link["type"])
    assert types == {
        "common_target",
        "direct_contact",
        "common_contact",
        "device_continuity",
        "subscriber_match",
        "misc_match",
    }


def test_device_continuity_is_one_imei_behind_two_numbers(
    scenario: pla.Scenario, tables: dict[str, tuple[pa.Table, pla.ReadReport]]
) -> None:
    link = next(lk for lk in scenario.links if lk["type"] == "device_continuity")
    targets = set()
    for case_id in (link["case_a"], link["case_b"]):
        records = tables[case_id][0]
        assert set(records.column("target_imei").to_pylist()) == {link["identifier"]}
        targets |= set(records.column("target_canonical").to_pylist())
    assert len(targets) == 2


def test_hubs_touch_most_cases(
    scenario: pla.Scenario, tables: dict[str, tuple[pa.Table, pla.ReadReport]]
) -> None:
    seen: dict[str, set[str]] = defaultdict(set)
    for case_id, (records, _) in tables.items():
        for ident in _identifiers(records):
            seen[ident].add(case_id)
    call_cases = [c for c in scenario.cases if c["case_id"].startswith("C")]
    assert len(seen["+12125550199"]) > len(call_cases) * 0.8


def test_same_seed_same_bytes(tmp_path: Path) -> None:
    a = pla.write_scenario(tmp_path / "a", seed=3)
    b = pla.write_scenario(tmp_path / "b", seed=3)
    for case_a, case_b in zip(a.cases, b.cases, strict=True):
        first = (Path(a.folder) / case_a["file"]).read_bytes()
        assert first == (Path(b.folder) / case_b["file"]).read_bytes()
