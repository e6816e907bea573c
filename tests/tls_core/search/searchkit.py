"""Build small synthetic repositories and case stores for the search tests (synthetic data)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pyarrow as pa

from icm_bridge import CaseStore, NewUser
from tls_core.schema import CALL_NATURAL_KEY, CALL_RECORDS, SUBSCRIBER_RECORDS
from tls_core.search import SearchResult, search
from tls_core.store import Repository

T0 = datetime(2026, 1, 1, tzinfo=UTC)
TODAY = date(2026, 6, 1)
NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)

Call = tuple[str, str, int]
"""(target E.164, other party E.164 or raw value with a kind, minute offset)."""


def sha_of(label: str) -> str:
    return hashlib.sha256(label.encode()).hexdigest()


def _record_id(row: dict) -> str:
    text = "\x1f".join("" if row[k] is None else str(row[k]) for k in CALL_NATURAL_KEY)
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def call_table(
    source: str,
    calls: Iterable[tuple[str, str, int]],
    *,
    other_kind: str = "phone",
    target_imei: str | None = None,
) -> pa.Table:
    """Outgoing calls from a target to others: (target, other, minute)."""
    sha = sha_of(source)
    rows = []
    for i, (target, other, minute) in enumerate(calls):
        row = {f.name: None for f in CALL_RECORDS}
        row.update(
            orig_raw=target,
            orig_kind="phone",
            orig_canonical=target,
            term_raw=other,
            term_kind=other_kind,
            term_canonical=other,
            target_raw=target,
            target_kind="phone",
            target_canonical=target,
            target_imei=target_imei,
            start_utc=T0 + timedelta(minutes=minute),
            start_raw=str(minute),
            tz_source="carrier_utc",
            duration_s=60,
            event_type="voice",
            direction="outgoing",
            leg=0,
            source_sha256=sha,
            source_row=i + 2,
            layout_name="test",
            layout_version="1",
        )
        row["record_id"] = _record_id(row)
        rows.append(row)
    return pa.Table.from_pylist(rows, schema=CALL_RECORDS)


def subscriber_table(source: str, idents: Sequence[tuple[str, str]]) -> pa.Table:
    """Subscriber records: (kind, canonical)."""
    sha = sha_of(source)
    rows = []
    for i, (kind, canonical) in enumerate(idents):
        row = {f.name: None for f in SUBSCRIBER_RECORDS}
        row.update(
            record_id=sha_of(f"{source}:{i}")[:32],
            identifier_raw=canonical,
            identifier_kind=kind,
            identifier_canonical=canonical,
            subscriber_name=f"Person {i}",
            created_utc=T0,
            source_sha256=sha,
            source_row=i + 2,
            layout_name="test",
            layout_version="1",
        )
        rows.append(row)
    return pa.Table.from_pylist(rows, schema=SUBSCRIBER_RECORDS)


def commit_calls(repo: Repository, case: str, source: str, calls: Iterable[Call], **kw) -> None:
    table = call_table(source, calls, **kw)
    repo.commit_batch(
        table, source_sha256=sha_of(source), source_name=source, case_ids=[case], actor="t"
    )


def commit_subscribers(
    repo: Repository, case: str, source: str, idents: Sequence[tuple[str, str]]
) -> None:
    repo.commit_batch(
        subscriber_table(source, idents),
        source_sha256=sha_of(source),
        source_name=source,
        case_ids=[case],
        record_type="subscriber",
        actor="t",
    )


def user(uid: str, role: str, *, supervisor: str | None = None, **kw: str) -> NewUser:
    return NewUser(
        user_id=uid,
        name=kw.pop("name", uid.title()),
        role=role,  # type: ignore[arg-type]
        trained_on=kw.pop("trained", TODAY),  # type: ignore[arg-type]
        supervisor=supervisor,
        **kw,
    )


def open_office(tmp: Path) -> CaseStore:
    """admin; chief > sup > alice; bob under chief; carol analyst; opr; lapsed agent."""
    (tmp / "keys").mkdir(exist_ok=True)
    store = CaseStore.open(tmp / "cases", audit_key=tmp / "keys" / "audit.key", clock=lambda: NOW)
    store.add_user(None, user("admin", "admin"))
    for new in [
        user("chief", "supervisor", name="Chief Cho", phone="+1 202 555 0199"),
        user("sup", "supervisor", supervisor="chief", name="Sam Sup", phone="+1 206 555 0111"),
        user("alice", "agent", supervisor="sup", name="Alice Able", phone="+1 206 555 0100"),
        user("bob", "agent", supervisor="chief", name="Bob Baker", phone="+1 713 555 0100"),
        user("carol", "analyst", supervisor="sup"),
        user("opr", "opr", name="Olga Opr"),
        user("old", "agent", supervisor="chief", trained=date(2024, 1, 1)),  # type: ignore[arg-type]
    ]:
        store.add_user("admin", new)
    return store


def search_as(
    repo: Repository, office: CaseStore, value: str, actor: str = "alice", **kw: object
) -> SearchResult:
    """``search`` with the office as every case-store seam (access, directory, notices, audit)."""
    return search(
        repo,
        value,
        actor=actor,
        access=office,
        directory=office,
        notifier=office,
        audit=office,
        **kw,  # type: ignore[arg-type]
    )
