"""Expected canonical output of the fixtures: how it is written and compared.

Regenerate after a deliberate change with ``python -m tests.adapters._expected`` and review
the diff: the expected files are the specification of each layout.
"""

from __future__ import annotations

import csv
import io
import json
import tomllib
from pathlib import Path
from typing import Any

import pyarrow as pa

import penlink_adapters as pla

FILES = Path(__file__).parent / "files"

# Identifier kinds/canonical values and record ids depend on tls_core.identifiers and are
# checked by their own tests; the expected files pin everything the adapters decide.
CALL_COLUMNS = (
    "source_row",
    "orig_raw",
    "term_raw",
    "dialed_raw",
    "target_raw",
    "start_utc",
    "start_raw",
    "tz_source",
    "tz_name",
    "duration_s",
    "event_type",
    "direction",
    "leg",
    "call_group",
    "target_imei",
    "target_imsi",
    "first_cell",
    "first_sector",
    "first_lat",
    "first_lon",
    "last_cell",
    "last_sector",
    "layout_name",
    "layout_version",
)
PARTY_COLUMNS = (
    "source_row",
    "identifier_raw",
    "subscriber_name",
    "aliases",
    "address",
    "birth_date",
    "account_id",
    "service_type",
    "imei",
    "imsi",
    "activated_utc",
    "deactivated_utc",
    "legal_process_ref",
    "relationship",
    "source_description",
    "layout_name",
)
REPORT_KEYS = (
    "layout",
    "target",
    "target_source",
    "rows_total",
    "loaded",
    "duplicates",
    "skipped",
    "skipped_by",
    "rejected",
    "warnings",
    "dropped_columns",
    "tz_source",
    "tz_name",
)


def cases() -> list[Path]:
    return sorted(p for p in FILES.iterdir() if (p / "case.toml").exists())


def load_case(folder: Path) -> dict[str, Any]:
    return tomllib.loads((folder / "case.toml").read_text(encoding="utf-8"))


def run_case(folder: Path) -> tuple[pa.Table, pa.Table, pla.ReadReport]:
    case = load_case(folder)
    return pla.read_return(
        folder / case["file"],
        source_tz=case.get("tz"),
        target=case.get("target"),
        region=case.get("region"),
    )


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, list):
        return ";".join(map(str, value))
    return str(value)


def render_records(table: pa.Table) -> str:
    call = "orig_raw" in table.column_names
    columns = CALL_COLUMNS if call else PARTY_COLUMNS
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(columns)
    for row in table.select(list(columns)).to_pylist():
        writer.writerow([_cell(row[c]) for c in columns])
    return buf.getvalue()


def render_rejects(table: pa.Table) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    cols = ("source_row", "reason", "column", "raw_line")
    writer.writerow(cols)
    for row in table.select(list(cols)).to_pylist():
        writer.writerow([_cell(row[c]) for c in cols])
    return buf.getvalue()


def render_report(report: pla.ReadReport) -> str:
    data = report.to_json()
    return json.dumps({k: data[k] for k in REPORT_KEYS}, indent=2, sort_keys=True) + "\n"


def regenerate() -> None:
    for folder in cases():
        if load_case(folder).get("refused"):
            continue
        records, rejects, report = run_case(folder)
        (folder / "expected_records.csv").write_text(render_records(records), encoding="utf-8")
        (folder / "expected_rejects.csv").write_text(render_rejects(rejects), encoding="utf-8")
        (folder / "expected_report.json").write_text(render_report(report), encoding="utf-8")


if __name__ == "__main__":
    regenerate()
