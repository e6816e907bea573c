"""``tls layouts``, ``tls detect`` and ``tls read --json`` on every fixture."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from tests.adapters._expected import cases, load_case
from tls_core.cli import app
from tls_core.errors import DetectionError

RUNNER = CliRunner()
CONTRACT = {
    "layout",
    "target",
    "rows_total",
    "loaded",
    "duplicates",
    "skipped",
    "rejected",
    "warnings",
}


def _args(folder: Path) -> list[str]:
    case = load_case(folder)
    args = [str(folder / case["file"])]
    if "tz" in case:
        args += ["--tz", case["tz"]]
    if "target" in case:
        args += ["--target", case["target"]]
    return args


def test_layouts_lists_every_layout() -> None:
    result = RUNNER.invoke(app, ["layouts", "--json"])
    assert result.exit_code == 0, result.output
    names = {r["name"] for r in json.loads(result.stdout)}
    assert {"tmobile", "att", "sprint_cdma", "cucm_cdr", "verizon", "uscellular"} <= names


@pytest.mark.parametrize("folder", cases(), ids=[c.name for c in cases()])
def test_detect_and_read_json_on_every_fixture(folder: Path) -> None:
    case = load_case(folder)
    detected = RUNNER.invoke(app, ["detect", str(folder / case["file"]), "--json"])
    assert detected.exit_code == 0, detected.output
    assert json.loads(detected.stdout)[0]["layout"] == case["layout"]
    result = RUNNER.invoke(app, ["read", *_args(folder), "--json"])
    if case.get("refused"):
        assert result.exit_code == 1
        assert isinstance(result.exception, DetectionError)
        assert result.exception.reason == "refused_layout"
        return
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report.keys() >= CONTRACT
    assert (
        report["loaded"] + sum(report["rejected"].values()) + report["skipped"]
        == report["rows_total"]
    )


def test_read_out_writes_parquet(tmp_path: Path, io_files_path: Path) -> None:
    out = tmp_path / "records.parquet"
    path = io_files_path / "tmobile" / "tmobile_v170711.csv"
    result = RUNNER.invoke(app, ["read", str(path), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "loaded 7" in result.stdout
    table = pq.read_table(out)
    assert table.num_rows == 7
    assert table.schema.metadata[b"tls.schema"] == b"call_records"


def test_read_error_is_one_line(io_files_path: Path) -> None:
    # Through the console entry point, where the group turns a TlsError into one line.
    path = io_files_path / "sprint_cdma" / "sprint_cdma.csv"
    code = "from tls_core.cli import main; main()"
    result = subprocess.run(
        [sys.executable, "-c", code, "read", str(path)],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1
    assert result.stderr.startswith("tls: error:")
    assert "zone_required" in result.stderr
