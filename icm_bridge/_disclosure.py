"""Disclosures outside the department (DHS Form 191 fields) and the retention rule for cases.

A disclosure record, its export and its audit entry are linked both ways: the record keeps the
export's SHA-256 and the audit sequence number; the audit entry names the disclosure id and the
export hash. An external export is refused unless it names a disclosure record of that case.
Records are retained until 20 years after the end of the fiscal year in which the case closed
(:mod:`tls_core.retention`, the rule the repository's purge applies too), then purged, unless a
legal hold stands; the purge itself happens in the repository, after :func:`authorize_purge`.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final

import sqlalchemy as sa

from icm_bridge import _access as access
from icm_bridge._db import from_us, to_us
from icm_bridge._schema import cases, disclosures
from icm_bridge._store import CaseStore
from tls_core.errors import CaseStoreError
from tls_core.retention import RETENTION_YEARS, last_closing_day_due

__all__ = [
    "RECORD_RETENTION_YEARS",
    "Disclosure",
    "DisclosureRequest",
    "authorize_external_export",
    "authorize_purge",
    "cases_due_for_purge",
    "record_disclosure",
]

RECORD_RETENTION_YEARS = RETENTION_YEARS
"""Case records are kept this many years after the end of the fiscal year the case closed in."""


@dataclass(frozen=True)
class DisclosureRequest:
    """The DHS Form 191 fields of a disclosure to an agency outside the department."""

    case_number: str
    """The case whose records are disclosed."""
    receiving_agency: str
    """The agency receiving the records."""
    requester: str
    """Who asked for them (name and title)."""
    purpose: str
    """Why they are disclosed."""
    records: Sequence[str]
    """Ids of the records disclosed."""
    export_sha256: str
    """SHA-256 of the export file handed over."""
    secondary_recipient: str | None = None
    """A further recipient the receiving agency may pass them to, if any."""


@dataclass(frozen=True)
class Disclosure:
    """A stored disclosure record."""

    disclosure_id: int
    case_number: str
    operator: str
    receiving_agency: str
    requester: str
    secondary_recipient: str | None
    purpose: str
    disclosed: datetime
    records: tuple[str, ...]
    export_sha256: str
    audit_seq: int


def record_disclosure(store: CaseStore, actor: str, request: DisclosureRequest) -> Disclosure:
    """Write a disclosure record (the actor is the operator) linked to its audit entry.

    Raises:
        AccessDenied: The actor may not disclose this case's records.
        CaseStoreError: A required Form 191 field is empty.
    """
    _require_fields(request)
    objects = {"export_sha256": request.export_sha256, "records": ",".join(request.records)}
    made: list[int] = []

    def body(conn: sa.Connection) -> int:
        access.check_case(conn, store.policy, actor, "disclose", request.case_number, store.today())
        result = conn.execute(disclosures.insert().values(**_row(request, actor, store)))
        key = result.inserted_primary_key
        assert key is not None
        made.append(int(key[0]))
        objects["disclosure"] = str(made[0])
        return made[0]

    def link(conn: sa.Connection, seq: int) -> None:
        conn.execute(disclosures.update().where(disclosures.c.id == made[0]).values(audit_seq=seq))

    disclosure_id = store.run_audited(
        actor, "disclose", (request.case_number,), body, objects=objects, after=link
    )
    return _read(store, disclosure_id)


def authorize_external_export(
    store: CaseStore, actor: str, case_number: str, *, disclosure_id: int | None, export_sha256: str
) -> Disclosure:
    """Permit an export leaving the department only against a matching disclosure record.

    Raises:
        AccessDenied: The actor may not export this case's records.
        CaseStoreError: No disclosure record of this case names this export.
    """
    objects = {"export_sha256": export_sha256, "disclosure": str(disclosure_id)}

    def body(conn: sa.Connection) -> int:
        access.check_case(conn, store.policy, actor, "export", case_number, store.today())
        row = conn.execute(
            sa.select(disclosures.c.id).where(
                disclosures.c.id == (disclosure_id if disclosure_id is not None else -1),
                disclosures.c.case_number == case_number,
                disclosures.c.export_sha256 == export_sha256,
            )
        ).first()
        if row is None:
            raise CaseStoreError(
                "an export outside the department needs its disclosure record",
                reason="disclosure_required",
                hint="record the disclosure (Form 191 fields) first and pass its id",
            )
        return int(row.id)

    return _read(
        store, store.run_audited(actor, "export-external", (case_number,), body, objects=objects)
    )


def cases_due_for_purge(store: CaseStore, now: datetime) -> list[str]:
    """Return closed cases past retention and not under legal hold, sorted by number."""
    with store.engine.connect() as conn:
        return sorted(cases_due_for_purge_in(conn, now))


def authorize_purge(store: CaseStore, actor: str, case_number: str, now: datetime) -> None:
    """Check and audit that the case's records may be purged now.

    Raises:
        AccessDenied: The actor may not purge this case.
        CaseStoreError: The case is under legal hold or still within retention.
    """

    def body(conn: sa.Connection) -> None:
        access.check_case(conn, store.policy, actor, "purge", case_number, store.today())
        due = cases_due_for_purge_in(conn, now)
        if case_number not in due:
            raise CaseStoreError(
                f"case {case_number!r} is not due for purge",
                reason="not_due_for_purge",
                hint="records are kept 20 years after the end of the fiscal year the case closed "
                "in, and never while on legal hold",
            )

    store.run_audited(actor, "purge-authorize", (case_number,), body)


def cases_due_for_purge_in(conn: sa.Connection, now: datetime) -> set[str]:
    """Like :func:`cases_due_for_purge`, inside the caller's transaction.

    Closing days are UTC dates, as the repository's purge reads them.
    """
    last = last_closing_day_due(now.astimezone(UTC).date())
    cutoff = to_us(datetime(last.year, last.month, last.day, tzinfo=UTC) + _ONE_DAY)
    return set(
        conn.execute(
            sa.select(cases.c.number).where(
                cases.c.status == "closed",
                cases.c.closed_us < cutoff,
                cases.c.legal_hold.is_(False),
            )
        ).scalars()
    )


_ONE_DAY: Final = timedelta(days=1)


def _require_fields(request: DisclosureRequest) -> None:
    for name in ("receiving_agency", "requester", "purpose", "export_sha256"):
        if not str(getattr(request, name)).strip():
            raise CaseStoreError(
                f"disclosure field {name!r} is empty",
                column=name,
                reason="disclosure_incomplete",
                hint="a disclosure needs the Form 191 fields",
            )
    if not request.records:
        raise CaseStoreError(
            "a disclosure lists no records", column="records", reason="disclosure_incomplete"
        )


def _row(request: DisclosureRequest, actor: str, store: CaseStore) -> dict[str, object]:
    return {
        "case_number": request.case_number,
        "operator_id": actor,
        "receiving_agency": request.receiving_agency,
        "requester": request.requester,
        "secondary_recipient": request.secondary_recipient,
        "purpose": request.purpose,
        "disclosed_us": to_us(store.now()),
        "records": json.dumps(list(request.records)),
        "export_sha256": request.export_sha256,
    }


def _read(store: CaseStore, disclosure_id: int) -> Disclosure:
    with store.engine.connect() as conn:
        row = conn.execute(sa.select(disclosures).where(disclosures.c.id == disclosure_id)).one()
    return Disclosure(
        disclosure_id=row.id,
        case_number=row.case_number,
        operator=row.operator_id,
        receiving_agency=row.receiving_agency,
        requester=row.requester,
        secondary_recipient=row.secondary_recipient,
        purpose=row.purpose,
        disclosed=from_us(row.disclosed_us),
        records=tuple(json.loads(row.records)),
        export_sha256=row.export_sha256,
        audit_seq=int(row.audit_seq),
    )
