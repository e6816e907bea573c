"""``target_profile``: per-target analysis of one case (top contacts, common contacts, activity).

Runs the linker's ``occurrences`` step scoped to the case's batches (``scope="delta"`` with
``case_scope`` = the case's batch links and nothing known), then small SQL steps named after the
tables they produce: ``target_activity``, ``contact_counts``, ``top_contacts``,
``common_contacts``. Counts are distinct call records.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from tls_core.protocols import AccessPolicy, AuditEvent, AuditSink
from tls_core.search._audit import outcome_of
from tls_core.store import Repository

__all__ = ["CommonContact", "ContactCount", "TargetProfile", "TargetSummary", "target_profile"]


@dataclass(frozen=True)
class ContactCount:
    """How often a target's records name one contact."""

    identifier: str
    """Canonical value of the contact."""
    kind: str
    """Its kind."""
    records: int
    """Distinct call records of the target naming it."""
    first_seen_utc: datetime | None
    """Earliest of those records."""
    last_seen_utc: datetime | None
    """Latest of those records."""


@dataclass(frozen=True)
class TargetSummary:
    """One target of the case: activity window and top contacts."""

    target: str
    """Canonical value of the target."""
    kind: str
    """Its kind."""
    records: int
    """Distinct call records of the target in the case."""
    first_activity_utc: datetime | None
    """Earliest record."""
    last_activity_utc: datetime | None
    """Latest record."""
    top_contacts: tuple[ContactCount, ...]
    """Most frequent contacts first (ties by identifier), at most ``top``."""


@dataclass(frozen=True)
class CommonContact:
    """A contact shared by two or more targets of the case."""

    identifier: str
    """Canonical value."""
    kind: str
    """Its kind."""
    targets: tuple[str, ...]
    """The targets whose records name it, sorted."""
    records: int
    """Distinct call records naming it, over those targets."""


@dataclass(frozen=True)
class TargetProfile:
    """Per-target analysis of one case."""

    case_number: str
    """The case."""
    targets: tuple[TargetSummary, ...]
    """Its targets, by target value."""
    common_contacts: tuple[CommonContact, ...]
    """Contacts shared by several targets: most targets first, then most records."""
    snapshot_version: int
    """Registry version analysed."""


_TARGET_ACTIVITY: Final = """
SELECT identifier AS target, kind, count(DISTINCT record_id) AS records,
       min(seen_utc) AS first_seen, max(seen_utc) AS last_seen
FROM occurrences
WHERE role = 'target' AND record_type = 'call'
GROUP BY identifier, kind
"""

_CONTACT_COUNTS: Final = """
SELECT target, identifier, kind, count(DISTINCT record_id) AS records,
       min(seen_utc) AS first_seen, max(seen_utc) AS last_seen
FROM occurrences
WHERE role = 'contact' AND record_type = 'call' AND target IS NOT NULL
GROUP BY target, identifier, kind
"""

_TOP_CONTACTS: Final = """
SELECT target, identifier, kind, records, first_seen, last_seen
FROM (
    SELECT c.*, row_number() OVER (
        PARTITION BY target ORDER BY records DESC, identifier, kind) AS rank
    FROM contact_counts c
) ranked
WHERE rank <= ?
ORDER BY target, rank
"""

_COMMON_CONTACTS: Final = """
SELECT c.identifier, c.kind, c.target, c.records
FROM contact_counts c
JOIN (
    SELECT identifier, kind FROM contact_counts GROUP BY identifier, kind HAVING count(*) >= 2
) m ON m.identifier = c.identifier AND m.kind = c.kind
"""


def target_profile(
    repo: Repository,
    case: str,
    *,
    actor: str,
    access: AccessPolicy,
    audit: AuditSink,
    top: int = 10,
) -> TargetProfile:
    """Summarize each target of ``case``: activity window, top contacts, common contacts.

    The actor must be allowed to ``view`` the case; the read is audited (``profile``).

    Raises:
        AccessDenied: the actor may not view the case (audited ``denied``).
        LinkError: a step failed (names the step and its SQL).
    """
    criteria = {"case": case, "top": str(top)}
    try:
        access.check(actor, "view", case)
        snap = repo.snapshot()
        con = snap.connect()
        try:
            rows = _run(con, case, top)
        finally:
            con.close()
    except Exception as err:
        audit.append(AuditEvent(actor, "profile", outcome_of(err), (case,), criteria=criteria))
        raise
    audit.append(AuditEvent(actor, "profile", "ok", (case,), criteria=criteria))
    return TargetProfile(case, _targets(rows), _common(rows["common"]), snap.version)


def _run(con: Any, case: str, top: int) -> dict[str, list[dict[str, Any]]]:
    from tls_core.link import create_occurrences
    from tls_core.link._steps import fetch_arrow, materialize

    sql = "SELECT batch_id, case_id FROM case_links WHERE case_id = ?"
    materialize(con, "case_scope", sql, [case])
    materialize(con, "case_known", "SELECT batch_id, case_id FROM case_links WHERE 1 = 0")
    create_occurrences(con, scope="delta")
    materialize(con, "contact_counts", _CONTACT_COUNTS)
    return {
        "targets": fetch_arrow(con, "target_activity", _TARGET_ACTIVITY).to_pylist(),
        "top": fetch_arrow(con, "top_contacts", _TOP_CONTACTS, [top]).to_pylist(),
        "common": fetch_arrow(con, "common_contacts", _COMMON_CONTACTS).to_pylist(),
    }


def _targets(rows: dict[str, list[dict[str, Any]]]) -> tuple[TargetSummary, ...]:
    top: dict[str, list[ContactCount]] = {}
    for r in rows["top"]:
        count = ContactCount(
            r["identifier"], r["kind"], r["records"], r["first_seen"], r["last_seen"]
        )
        top.setdefault(r["target"], []).append(count)
    out = [
        TargetSummary(
            target=r["target"],
            kind=r["kind"],
            records=r["records"],
            first_activity_utc=r["first_seen"],
            last_activity_utc=r["last_seen"],
            top_contacts=tuple(top.get(r["target"], [])),
        )
        for r in rows["targets"]
    ]
    return tuple(sorted(out, key=lambda t: (t.target, t.kind)))


def _common(rows: list[dict[str, Any]]) -> tuple[CommonContact, ...]:
    # A call record has one target, so the records of a contact over several targets add up.
    groups: dict[tuple[str, str], list[tuple[str, int]]] = {}
    for r in rows:
        groups.setdefault((r["identifier"], r["kind"]), []).append((r["target"], r["records"]))
    out = [
        CommonContact(ident, kind, tuple(sorted(t for t, _ in hits)), sum(n for _, n in hits))
        for (ident, kind), hits in groups.items()
    ]
    return tuple(sorted(out, key=lambda c: (-len(c.targets), -c.records, c.identifier, c.kind)))
