"""``search``: which records and cases hold an identifier, told to the other cases' owners."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

import pyarrow as pa

from tls_core.errors import IdentifierError, TlsError
from tls_core.identifiers import Identifier, KindOption, match_grade, normalize_value
from tls_core.protocols import (
    AccessPolicy,
    AuditEvent,
    AuditSink,
    CaseDirectory,
    Contact,
    NotificationSink,
    QueryNotice,
)
from tls_core.schema import MatchGrade
from tls_core.search._audit import outcome_of
from tls_core.search._index import IndexState, lookup_checked
from tls_core.search._keys import match_key
from tls_core.store import Repository

__all__ = ["CaseHit", "RecordHit", "RestrictedHit", "SearchResult", "search"]

RESTRICTED_MESSAGE = "a restricted case holds this identifier"


@dataclass(frozen=True)
class RecordHit:
    """One record of a visible case that holds the identifier (or a graded spelling of it)."""

    case_number: str
    """The case the record belongs to."""
    record_id: str
    """The record's id in its table."""
    kind: str
    """Kind of the identifier as stored."""
    canonical: str
    """Canonical value as stored."""
    grade: MatchGrade
    """How it matches what was searched for."""
    role: str
    """The role it plays in the record (``target``, ``contact``, ``device``, ``subscriber``,
    ``misc``; see ``tls_core.link``)."""
    record_type: str
    """``call``, ``subscriber`` or ``misc``."""
    seen_utc: datetime | None
    """When (call start, or the record's time)."""
    target: str | None
    """The record's target identifier, when it has one."""


@dataclass(frozen=True)
class CaseHit:
    """A visible case that holds the identifier: counts over all its matching records."""

    case_number: str
    """The case number."""
    records: int
    """Matching occurrences (records x roles) in this case."""
    grade: MatchGrade
    """Strongest grade among them."""
    roles: tuple[str, ...]
    """Roles the identifier plays in this case, sorted."""
    first_seen_utc: datetime | None
    """Earliest occurrence."""
    last_seen_utc: datetime | None
    """Latest occurrence."""


@dataclass(frozen=True)
class RestrictedHit:
    """A pointer: a case the searcher may not see holds the identifier. No number, no records."""

    message: str
    """``a restricted case holds this identifier``."""
    contact: Contact | None
    """Whom to ask (the owner's supervisor); None when the case store names no one."""


@dataclass(frozen=True)
class SearchResult:
    """What a search found, after visibility filtering."""

    query: str
    """The value as given."""
    kind: str
    """Kind the value was normalized as."""
    canonical: str
    """Its canonical value."""
    cases: tuple[CaseHit, ...]
    """Visible cases holding it, by case number."""
    records: tuple[RecordHit, ...]
    """Occurrences in visible cases (at most ``limit``), by case, time and record id."""
    truncated: bool
    """True when more occurrences matched than ``limit``."""
    restricted: tuple[RestrictedHit, ...]
    """One pointer per distinct contact for hits in cases the searcher may not see."""
    notified: int
    """Notifications queued for other cases' owners."""
    snapshot_version: int
    """Registry version searched."""
    index: IndexState
    """How the occurrence index was found (``current`` or rebuilt)."""


def search(
    repo: Repository,
    value: str,
    *,
    actor: str,
    access: AccessPolicy,
    directory: CaseDirectory,
    notifier: NotificationSink,
    audit: AuditSink,
    kind: KindOption = "auto",
    limit: int = 1000,
) -> SearchResult:
    """Find the records and cases that hold an identifier written in any accepted spelling.

    The value is normalized (``normalize_value``); the occurrence index is looked up by its
    match key, so graded spellings are found too (a national number under another country
    code, an IMEI without or with another check digit, an MEID's pseudo-ESN). The owners of
    every matched case other than the searcher are notified through ``notifier`` (which
    notifies nobody for OPR searches), and the search is audited (``search``, ``ok`` or
    ``denied``/``failed``) before anything is returned. Hits in cases the actor may not see
    become :class:`RestrictedHit` pointers.

    Raises:
        IdentifierError: the value is not an identifier of the kind asked for.
        AccessDenied: the actor is unknown or untrained (audited ``denied``).
        AuditUnavailable: the audit cannot be written; nothing is returned.
    """
    criteria = {"value": value, "kind": kind}
    try:
        found_kind, canonical = _normalize(value, kind)
        criteria["canonical"] = canonical
        rows, state, version = lookup_checked(repo, match_key(found_kind, canonical))
        hits = _graded(rows, Identifier(found_kind, canonical, value))
        cases = sorted({h.case_number for h in hits})
        visible = access.visible_cases(actor, cases)  # also refuses unknown/untrained actors
        pointers = _pointers(directory, actor, [c for c in cases if c not in visible])
        notified = notifier.notify_query(QueryNotice(actor, criteria, tuple(cases))) if cases else 0
    except Exception as err:
        audit.append(AuditEvent(actor, "search", outcome_of(err), criteria=criteria))
        raise
    audit.append(AuditEvent(actor, "search", "ok", tuple(cases), criteria=criteria))
    shown = [h for h in hits if h.case_number in visible]
    return SearchResult(
        query=value,
        kind=found_kind,
        canonical=canonical,
        cases=_case_hits(shown),
        records=tuple(shown[:limit]),
        truncated=len(shown) > limit,
        restricted=pointers,
        notified=notified,
        snapshot_version=version,
        index=state,
    )


def _normalize(value: str, kind: KindOption) -> tuple[str, str]:
    found_kind, canonical, status, reason = normalize_value(value, kind)
    if found_kind is None or canonical is None:
        raise IdentifierError(
            f"cannot search for this value: {status}",
            value=value,
            reason=reason or status,
            hint="give a phone number, IMEI, IMSI, ESN, MEID, e-mail, URL or IP (--kind K)",
        )
    return found_kind, canonical


def _graded(rows: pa.Table, query: Identifier) -> list[RecordHit]:
    grades: dict[tuple[str, str, str], MatchGrade | None] = {}
    hits: list[RecordHit] = []
    for row in rows.to_pylist():
        pair = (row["kind"], row["identifier"], row["variant"] or "")
        if pair not in grades:
            # The linker's variant: IMEI digits after TAC+SNR as written; '' when not known
            # (identifier columns), in which case the canonical spelling stands for it.
            raw = pair[1][:14] + pair[2] if pair[0] == "imei" and pair[2] else None
            grades[pair] = match_grade(query, Identifier(pair[0], pair[1], raw))
        grade = grades[pair]
        if grade is None:
            continue
        hits.append(
            RecordHit(
                case_number=row["case_id"],
                record_id=row["record_id"],
                kind=row["kind"],
                canonical=row["identifier"],
                grade=grade,
                role=row["role"],
                seen_utc=row["seen_utc"],
                record_type=row["record_type"],
                target=row["target"],
            )
        )
    hits.sort(key=lambda h: (h.case_number, h.seen_utc is None, h.seen_utc or 0, h.record_id))
    return hits


_ORDER = ("exact", "imei_tac_snr", "national_number", "meid_pesn")


def _case_hits(hits: Iterable[RecordHit]) -> tuple[CaseHit, ...]:
    by_case: dict[str, list[RecordHit]] = {}
    for hit in hits:
        by_case.setdefault(hit.case_number, []).append(hit)
    out = []
    for number, group in sorted(by_case.items()):
        seen = [h.seen_utc for h in group if h.seen_utc is not None]
        out.append(
            CaseHit(
                case_number=number,
                records=len(group),
                grade=min((h.grade for h in group), key=_ORDER.index),
                roles=tuple(sorted({h.role for h in group})),
                first_seen_utc=min(seen, default=None),
                last_seen_utc=max(seen, default=None),
            )
        )
    return tuple(out)


def _pointers(
    directory: CaseDirectory, actor: str, hidden: Iterable[str]
) -> tuple[RestrictedHit, ...]:
    contacts: dict[str | None, Contact | None] = {}
    for number in hidden:
        try:
            contact: Contact | None = directory.restricted_contact(actor, number)
        except TlsError as err:
            if err.reason != "access_denied":
                raise
            contact = None
        contacts.setdefault(None if contact is None else contact.user_id, contact)
    return tuple(
        RestrictedHit(RESTRICTED_MESSAGE, c) for _, c in sorted(contacts.items(), key=_key)
    )


def _key(item: tuple[str | None, Contact | None]) -> str:
    return item[0] or ""
