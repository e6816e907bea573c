"""Interchange format: export then import is the identity; tampering is detected."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import penlink_adapters as pla
from tests.adapters._expected import cases, run_case
from tls_core.errors import ReadError

READABLE = [
    c for c in cases() if c.name not in {"cucm_cmr", "bandicoot_antennas", "telenor_towers"}
]


@pytest.mark.parametrize("folder", READABLE, ids=[c.name for c in READABLE])
def test_export_import_is_identity(tmp_path: Path, folder: Path) -> None:
    records, rejects, _ = run_case(folder)
    entries = pla.write_interchange(tmp_path, {"records": records, "rejects": rejects})
    assert [e.rows for e in entries] == [records.num_rows, rejects.num_rows]
    back = pla.read_interchange(tmp_path)
    assert back["records"].equals(records)
    assert back["records"].schema.equals(records.schema, check_metadata=True)
    assert back["rejects"].equals(rejects)


def test_altered_file_is_refused(tmp_path: Path, io_files_path: Path) -> None:
    records, _, _ = pla.read_return(io_files_path / "tmobile" / "tmobile_v170711.csv")
    pla.write_interchange(tmp_path, {"records": records})
    path = tmp_path / "records.parquet"
    path.write_bytes(path.read_bytes() + b"\x00")
    with pytest.raises(ReadError, match="SHA-256"):
        pla.read_interchange(tmp_path)


def test_other_schema_version_is_refused(tmp_path: Path, io_files_path: Path) -> None:
    records, _, _ = pla.read_return(io_files_path / "tmobile" / "tmobile_v170711.csv")
    pla.write_interchange(tmp_path, {"records": records})
    manifest = tmp_path / "manifest.json"
    data = json.loads(manifest.read_text(encoding="utf-8"))
    data["schema_version"] = "999"
    manifest.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(ReadError) as info:
        pla.read_interchange(tmp_path)
    assert info.value.reason == "schema_version"
