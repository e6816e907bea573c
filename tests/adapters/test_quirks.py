"""Carrier quirks end to end: canonical identifiers after the layout's hooks."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pytest

import penlink_adapters as pla
from penlink_adapters._quirks import ip_from_signed_int


def _read(path: Path, **kwargs: str) -> pa.Table:
    records, _, _ = pla.read_return(path, **kwargs)  # type: ignore[arg-type]
    return records


def test_freeswitch_four_prefixes_one_number(io_files_path: Path) -> None:
    records = _read(
        io_files_path / "freeswitch_csv" / "Master.csv", source_tz="Europe/Madrid", region="ES"
    )
    canon = records.column("term_canonical").to_pylist()[:4]
    assert canon == ["+34912345678"] * 4
    assert records.column("term_raw").to_pylist()[:4] == [
        "0034912345678",
        "+34912345678",
        "34912345678",
        "00034912345678",
    ]


def test_tmobile_voicemail_pseudo_numbers(io_files_path: Path) -> None:
    records = _read(io_files_path / "tmobile" / "tmobile_v170711.csv")
    by_term = dict(
        zip(
            records.column("term_canonical").to_pylist(),
            records.column("event_type").to_pylist(),
            strict=True,
        )
    )
    assert by_term["+18056377243"] == "voicemail"
    assert by_term["+18056377249"] == "forwarded"
    assert set(records.column("target_canonical").to_pylist()) == {"+12125550001"}


def test_tmobile_lossy_number_is_rejected(io_files_path: Path) -> None:
    _, rejects, report = pla.read_return(io_files_path / "tmobile" / "tmobile_v170711.csv")
    lossy = [r for r in rejects.to_pylist() if r["reason"] == "lossy_number"]
    assert len(lossy) == 1
    assert lossy[0]["column"] == "term"
    assert report.rejected["lossy_number"] == 1


def test_att_dialed_line_and_legs(io_files_path: Path) -> None:
    records = _read(io_files_path / "att" / "att_records_key.csv")
    row = records.filter(pc.equal(records.column("leg"), 3)).to_pylist()[0]
    assert row["orig_canonical"] == "+12125550101"
    assert row["dialed_raw"] == "2125550199(D)"
    assert row["dialed_canonical"] == "+12125550199"
    legs = records.column("leg").to_pylist()
    assert legs[:2] == [1, 2]  # two legs of one call are two records
    assert records.column("record_id")[0] != records.column("record_id")[1]


def test_sprint_voicemail_prefix_and_sector(io_files_path: Path) -> None:
    records = _read(io_files_path / "sprint_cdma" / "sprint_cdma.csv", source_tz="America/Chicago")
    rolled = records.filter(pc.equal(records.column("event_type"), "forwarded"))
    assert rolled.column("term_raw").to_pylist() == ["112125550201"]
    assert rolled.column("term_canonical").to_pylist() == ["+12125550201"]
    first = records.to_pylist()[0]
    assert (first["first_sector"], first["first_cell"]) == ("2", "083")
    sms = records.filter(pc.equal(records.column("duration_s"), 0)).to_pylist()[0]
    assert sms["first_cell"] is None  # 0 is a null sentinel in Sprint cell columns


def test_cucm_bridge_ports_are_not_normalized(io_files_path: Path) -> None:
    records = _read(io_files_path / "cucm_cdr" / "cdr_Cluster1_01_202103140200_1")
    bridge = records.filter(pc.equal(records.column("term_raw"), "b0019901001"))
    assert bridge.num_rows == 2
    assert bridge.column("term_canonical").null_count == 2
    assert set(bridge.column("call_group").to_pylist()) == {"1-1002"}
    ip_row = records.filter(pc.equal(records.column("orig_raw"), "192.168.18.188"))
    assert ip_row.column("orig_kind").to_pylist() == ["ip"]


@pytest.mark.parametrize(
    ("value", "expected"),
    [("-1139627840", "192.168.18.188"), ("0", None), ("", None), ("x", None), ("2147483648", None)],
)
def test_ip_from_signed_int(value: str, expected: str | None) -> None:
    assert ip_from_signed_int(value) == expected


def test_cucm_start_is_epoch_utc(io_files_path: Path) -> None:
    records = _read(io_files_path / "cucm_cdr" / "cdr_Cluster1_01_202103140200_1")
    first = records.to_pylist()[0]
    assert first["start_utc"].isoformat() == "2021-03-14T01:59:00+00:00"
    assert first["tz_source"] == "carrier_utc"
