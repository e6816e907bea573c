"""Builders of small canonical repositories for the linker tests (synthetic values only)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pyarrow as pa

from tls_core.schema import CALL_NATURAL_KEY, CALL_RECORDS, MISC_RECORDS, SUBSCRIBER_RECORDS

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def sha_of(label: str) -> str:
    return hashlib.sha256(label.encode()).hexdigest()


def kind_of(value: str) -> str:
    if value.startswith("+"):
        return "phone"
    if len(value) <= 3:
        return "service"
    return "imei" if len(value) == 15 and value.startswith("35") else "phone"


@dataclass(frozen=True)
class Call:
    """One call: the target's number, the other party, the minute, devices as written."""

    target: str
    other: str
    minute: int
    outgoing: bool = True
    imei: str | None = None
    imsi: str | None = None


def call_rows(calls: list[Call]) -> pa.Table:
    rows = []
    for c in calls:
        orig, term = (c.target, c.other) if c.outgoing else (c.other, c.target)
        row = {f.name: None for f in CALL_RECORDS}
        row.update(
            orig_raw=orig,
            orig_kind=kind_of(orig),
            orig_canonical=orig,
            term_raw=term,
            term_kind=kind_of(term),
            term_canonical=term,
            target_raw=c.target,
            target_kind=kind_of(c.target),
            target_canonical=c.target,
            start_utc=T0 + timedelta(minutes=c.minute),
            start_raw=str(c.minute),
            tz_source="carrier_utc",
            duration_s=60,
            event_type="voice",
            direction="outgoing" if c.outgoing else "incoming",
            leg=0,
            target_imei=c.imei,
            target_imsi=c.imsi,
            source_sha256="0" * 64,
            source_row=0,
            layout_name="test",
            layout_version="1",
        )
        text = "\x1f".join("" if row[k] is None else str(row[k]) for k in CALL_NATURAL_KEY)
        row["record_id"] = hashlib.sha256(text.encode()).hexdigest()[:32]
        rows.append(row)
    return pa.Table.from_pylist(rows, schema=CALL_RECORDS)


def party_rows(identifiers: list[str], *, misc: bool = False, imei: str | None = None) -> pa.Table:
    schema = MISC_RECORDS if misc else SUBSCRIBER_RECORDS
    rows = []
    for i, ident in enumerate(identifiers):
        row = {f.name: None for f in schema}
        row.update(
            record_id=sha_of(f"{misc}{ident}{imei}")[:32],
            identifier_raw=ident,
            identifier_kind=kind_of(ident),
            identifier_canonical=ident,
            imei=imei,
            activated_utc=T0,
            source_sha256="0" * 64,
            source_row=i + 2,
            layout_name="test",
            layout_version="1",
        )
        rows.append(row)
    return pa.Table.from_pylist(rows, schema=schema)


def commit(repo, table: pa.Table, source: str, cases: list[str], record_type: str = "call"):
    sha = sha_of(source)
    table = table.set_column(
        table.schema.get_field_index("source_sha256"),
        "source_sha256",
        pa.array([sha] * table.num_rows, pa.string()),
    )
    return repo.commit_batch(
        table,
        source_sha256=sha,
        source_name=source,
        case_ids=cases,
        record_type=record_type,
        actor="tester",
    )


def ingest_scenario(folder, repo, *, only=None) -> dict:
    """Read every file of a ``write_scenario`` folder and commit it for its case.

    ``only``: case ids to ingest (default all). Returns the ground truth.
    """
    import json
    from pathlib import Path

    import penlink_adapters as pla

    folder = Path(folder)
    truth = json.loads((folder / "ground_truth.json").read_text())
    for case in truth["cases"]:
        if only is not None and case["case_id"] not in only:
            continue
        path = folder / case["file"]
        args = case["read_args"]
        records, rejects, _ = pla.read_return(
            path, layout=case["layout"], source_tz=args.get("tz"), target=args.get("target")
        )
        record_type = case["layout"] if case["layout"] in ("subscriber", "misc") else "call"
        repo.commit_batch(
            records,
            rejects,
            source_sha256=hashlib.sha256(path.read_bytes()).hexdigest(),
            source_name=case["file"],
            case_ids=[case["case_id"]],
            record_type=record_type,
            actor="tester",
        )
    return truth


def canonical(identifier: str) -> str:
    """The canonical value of a ground-truth identifier (NANP numbers are written bare)."""
    return f"+1{identifier}" if len(identifier) == 10 else identifier
