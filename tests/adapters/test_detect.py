"""Detection, drift, refusal and layout files."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

import penlink_adapters as pla
from penlink_adapters._layout import parse_layout
from tls_core.errors import ConfigError, DetectionError, LayoutError

TMOBILE_HEADER = (
    "Date,(UTC) Time,Duration,Call Type,Direction,Calling Number,Dialed Number,Called Number,"
    "Destination Number,IMSI,IMEI,Completion Code,Service Code,Switch Name"
)
ROW = (
    "03/14/2021,10:00:00,60,mSTerminating,Incoming,2125550004,,2125550001,2125550001,,,"
    "completed,,SW"
)


def test_unknown_file_names_closest_layouts(tmp_path: Path) -> None:
    path = tmp_path / "mystery.csv"
    path.write_text("Date,When,Who,Length\n03/14/2021,10:00,2125550001,60\n", encoding="utf-8")
    with pytest.raises(DetectionError) as info:
        pla.read_return(path)
    err = info.value
    assert err.reason == "unknown_layout"
    assert "closest" in err.message
    assert "missing" in err.message
    assert err.hint
    assert "--layout" in err.hint


def test_renamed_column_is_drift_warning(tmp_path: Path) -> None:
    header = TMOBILE_HEADER.replace("Switch Name", "Switch Identifier")
    path = tmp_path / "tmo.csv"
    path.write_text(f"{header}\n{ROW}\n", encoding="utf-8")
    candidate = pla.detect(path)[0]
    assert candidate.layout.name == "tmobile"
    assert candidate.unknown == ("Switch Identifier",)
    _, _, report = pla.read_return(path)
    assert any("Switch Identifier" in w and "drift" in w for w in report.warnings)


def test_missing_required_column_is_drift_warning(tmp_path: Path) -> None:
    header = TMOBILE_HEADER.replace("Call Type,", "")
    row = ROW.replace("mSTerminating,", "")
    path = tmp_path / "tmo.csv"
    path.write_text(f"{header}\n{row}\n", encoding="utf-8")
    _, _, report = pla.read_return(path, layout="tmobile")
    assert any("'Call Type' is missing" in w for w in report.warnings)
    assert report.loaded == 1


def test_cmr_file_is_refused(io_files_path: Path) -> None:
    with pytest.raises(DetectionError, match="call-quality") as info:
        pla.read_return(io_files_path / "cucm_cmr" / "cmr_Cluster1_01_202103140200_1")
    assert info.value.reason == "refused_layout"


def test_cdr_custom_and_cdr_csv_are_told_apart_by_content(io_files_path: Path) -> None:
    csv_best = pla.detect(io_files_path / "asterisk_cdr_csv" / "Master.csv")[0]
    custom_best = pla.detect(io_files_path / "asterisk_cdr_custom" / "Master.csv")[0]
    assert (csv_best.layout.name, custom_best.layout.name) == (
        "asterisk_cdr_csv",
        "asterisk_cdr_custom",
    )


def test_user_layout_file(tmp_path: Path, io_files_path: Path) -> None:
    source = Path(pla.get_layout_or_raise("generic").path)
    text = source.read_text(encoding="utf-8").replace('name = "generic"', 'name = "my_generic"')
    mine = tmp_path / "mine.toml"
    mine.write_text(text, encoding="utf-8")
    data = tmp_path / "analyst.csv"
    shutil.copy(io_files_path / "generic" / "analyst.csv", data)
    records, _, report = pla.read_return(data, layout=mine, source_tz="America/New_York")
    assert report.layout == "my_generic"
    assert set(records.column("layout_name").to_pylist()) == {"my_generic"}


def test_unknown_layout_name() -> None:
    with pytest.raises(ConfigError, match="unknown layout"):
        pla.get_layout_or_raise("no_such_carrier")


@pytest.mark.parametrize(
    ("data", "key"),
    [
        ({}, "layout.name"),
        ({"layout": {"name": "x", "version": "1", "record_type": "fax"}}, "layout.record_type"),
        ({"layout": {"name": "x", "version": "1"}, "columns": {"colour": "c"}}, "columns.colour"),
        (
            {"layout": {"name": "x", "version": "1"}, "direction": {"map": {"O": "sideways"}}},
            "direction.map.O",
        ),
        (
            {"layout": {"name": "x", "version": "1"}, "format": {"header": False}},
            "format.names",
        ),
        ({"layout": {"name": "x", "version": "1"}, "colums": {}}, "colums"),
        ({"layout": {"name": "x", "version": "1"}, "time": {"zone": "utc", "fmt": []}}, "time.fmt"),
    ],
)
def test_invalid_layouts_name_the_key(data: dict[str, object], key: str) -> None:
    with pytest.raises(LayoutError) as info:
        parse_layout(data)
    assert info.value.column == key


def test_shipped_layouts_are_valid_and_hooks_exist() -> None:
    from penlink_adapters._quirks import HOOKS

    layouts = pla.list_layouts()
    assert len(layouts) >= 18
    for layout in layouts:
        assert set(layout.hooks) <= set(HOOKS), layout.name
    unverified = {lay.name for lay in layouts if not lay.verified}
    assert unverified == {"verizon", "uscellular"}
    for name in unverified:
        text = Path(pla.get_layout_or_raise(name).path).read_text(encoding="utf-8")
        assert text.startswith("# UNVERIFIED")


def test_candidates_explain_themselves(io_files_path: Path) -> None:
    best = pla.detect(io_files_path / "tmobile" / "tmobile_v170711.csv")[0]
    summary = best.as_dict()
    assert summary["layout"] == "tmobile"
    assert any("header at row 5" in r for r in best.reasons)  # after four preamble rows
