"""``search``: which records and cases hold an identifier, told to the other cases' owners."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

import pyarrow as pa

from tls_core.errors import IdentifierError, TlsError
from tls_core.identifiers import Identifier, KindOption, match_grade, normalize_value
from tls_core.protocols import (
    AccessPolicy,
    AuditEvent,
    AuditSink,
    BatchDirectory,
    CaseDirectory,
    Contact,
    NotificationSink,
    QueryNotice,
    SearchRecorder,
)
from tls_core.schema import MatchGrade
from tls_core.search._audit import outcome_of
from tls_core.search._groups import Group, read_groups
from tls_core.search._hits import HIT_COLUMNS, RecordHit, RecordHits, Slice, datetimes
from tls_core.search._index import ROLE_BITS, IndexState, OccurrenceIndex, with_index
from tls_core.search._keys import match_key
from tls_core.store import Repository

__all__ = ["CaseHit", "RecordHit", "RecordHits", "RestrictedHit", "SearchResult", "search"]

RESTRICTED_MESSAGE = "a restricted case holds this identifier"


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
    records: RecordHits
    """Occurrences in visible cases (at most ``limit``), in index order (identifier, case);
    a sequence of :class:`RecordHit` built as they are read."""
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
        query = Identifier(found_kind, canonical, value)
        key = match_key(found_kind, canonical)
        found, state, version = with_index(
            repo, lambda index: _find(index, key, query, actor, access, limit)
        )
        hidden = [c for c in found.cases if c not in found.visible]
        pointers = _pointers(directory, actor, hidden)
        cases = tuple(found.cases)
        done = AuditEvent(actor, "search", "ok", cases, criteria=criteria)
        notified, audited = _notify(notifier, audit, QueryNotice(actor, criteria, cases), done)
    except Exception as err:
        audit.append(AuditEvent(actor, "search", outcome_of(err), criteria=criteria))
        raise
    if not audited:
        audit.append(done)
    return SearchResult(
        query=value,
        kind=found_kind,
        canonical=canonical,
        cases=_case_hits(found.summary, found.visible),
        records=found.records,
        truncated=found.total > limit,
        restricted=pointers,
        notified=notified,
        snapshot_version=version,
        index=state,
    )


def _notify(
    notifier: NotificationSink, audit: AuditSink, notice: QueryNotice, done: AuditEvent
) -> tuple[int, bool]:
    """Tell the owners of the matched cases; return how many and whether ``done`` is audited.

    When one store is both sinks and a :class:`SearchRecorder`, the notices and the audit
    event go in one transaction (one round trip to the case store instead of two).
    """
    if not notice.case_numbers:
        return 0, False
    if id(notifier) == id(audit) and isinstance(notifier, SearchRecorder):
        return notifier.record_search(notice, done), True
    return notifier.notify_query(notice), False


@dataclass(frozen=True)
class _Found:
    summary: list[dict[str, Any]]
    cases: list[str]
    visible: frozenset[str]
    records: RecordHits
    total: int


def _find(
    index: OccurrenceIndex,
    key: str,
    query: Identifier,
    actor: str,
    access: AccessPolicy,
    limit: int,
) -> _Found:
    """Read the summary rows of ``key``, then occurrences of visible cases up to ``limit``."""
    groups = read_groups(index, key)
    grades = _grades((g.row for g in groups), query)
    groups = [g for g in groups if grades[_ident(g.row)] is not None]
    if any(index.links.refs.get(r) for r in _referenced(index, groups)):
        return _find_exact(index, groups, grades, actor, access, limit)
    summary = []
    for g in groups:
        for case in index.links.cases_of(g.batch):
            summary.append({**g.row, "case_id": case, "grade": grades[_ident(g.row)]})
    cases = sorted({row["case_id"] for row in summary})
    visible = access.visible_cases(actor, cases)  # also refuses unknown/untrained actors
    total = sum(row["occurrences"] for row in summary if row["case_id"] in visible)
    order = sorted(
        ((g, case) for g in groups for case in index.links.cases_of(g.batch) if case in visible),
        key=lambda item: (item[0].row["identifier"], item[1], *item[0].order),
    )
    slices: list[Slice] = []
    room = limit
    for g, case in order:
        if room <= 0:
            break
        table = g.read(room, HIT_COLUMNS)
        grade = grades[_ident(g.row)]
        assert grade is not None  # groups without a grade were dropped above
        slices.append(Slice(table, case, g.row["kind"], g.row["identifier"], grade))
        room -= table.num_rows
    return _Found(summary, cases, visible, RecordHits(slices), total)


def _referenced(index: OccurrenceIndex, groups: list[Group]) -> Iterable[str]:
    """Record ids of the groups' occurrences, when any record is referenced (else none)."""
    if not index.links.refs:
        return ()
    return (r for g in groups for r in g.read().column("record_id").to_pylist())


def _find_exact(
    index: OccurrenceIndex,
    groups: list[Group],
    grades: Mapping[tuple[str, str, str], MatchGrade | None],
    actor: str,
    access: AccessPolicy,
    limit: int,
) -> _Found:
    """Every occurrence of the groups, each record in its owner's and its referrers' cases."""
    rows: list[tuple[tuple[Any, ...], str, RecordHit, Group]] = []
    for g in groups:
        for hit in _records(g.read(), grades, "", -1):
            held = set(index.links.cases_of(g.batch))
            for batch in index.links.refs.get(hit.record_id, ()):
                held.update(index.links.cases_of(batch))
            for case in held:
                order = (hit.canonical, case, *g.order, hit.record_id, hit.role)
                rows.append((order, case, replace(hit, case_number=case), g))
    rows.sort(key=lambda item: item[0])
    cases = sorted({case for _, case, _, _ in rows})
    visible = access.visible_cases(actor, cases)
    summary = _summarize([(case, hit, g) for _, case, hit, g in rows])
    seen = [hit for _, case, hit, _ in rows if case in visible]
    return _Found(summary, cases, visible, RecordHits(hits=seen[:limit]), len(seen))


def _summarize(rows: Iterable[tuple[str, RecordHit, Group]]) -> list[dict[str, Any]]:
    """Summary rows (per identifier, variant and case) of expanded occurrences."""
    out: dict[tuple[str, str, str, str], dict[str, Any]] = {}
    for case, hit, g in rows:
        key = (*_ident(g.row), case)
        row = out.get(key)
        if row is None:
            row = out[key] = {
                **{c: g.row[c] for c in ("kind", "identifier", "variant")},
                "case_id": case,
                "grade": hit.grade,
                "occurrences": 0,
                "roles": 0,
                "first_seen": None,
                "last_seen": None,
            }
        row["occurrences"] += 1
        row["roles"] |= ROLE_BITS[hit.role]
        if hit.seen_utc is not None:
            first, last = row["first_seen"], row["last_seen"]
            row["first_seen"] = hit.seen_utc if first is None else min(first, hit.seen_utc)
            row["last_seen"] = hit.seen_utc if last is None else max(last, hit.seen_utc)
    return list(out.values())


def _ident(row: Mapping[str, Any]) -> tuple[str, str, str]:
    return (row["kind"], row["identifier"], row["variant"] or "")


def _grades(
    rows: Iterable[Mapping[str, Any]], query: Identifier
) -> dict[tuple[str, str, str], MatchGrade | None]:
    grades: dict[tuple[str, str, str], MatchGrade | None] = {}
    for row in rows:
        kind, ident, variant = pair = _ident(row)
        if pair not in grades:
            # The linker's variant: IMEI digits after TAC+SNR as written; '' when not known
            # (identifier columns), in which case the canonical spelling stands for it.
            raw = ident[:14] + variant if kind == "imei" and variant else None
            grades[pair] = match_grade(query, Identifier(kind, ident, raw))
    return grades


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


def _records(
    table: pa.Table,
    grades: Mapping[tuple[str, str, str], MatchGrade | None],
    case: str,
    room: int,
) -> list[RecordHit]:
    """Hits of one case with a grade, at most ``room`` (-1: all; converted column by column)."""
    if room >= 0:
        table = table.slice(0, room)
    col = {name: table.column(name).to_pylist() for name in _HIT_COLUMNS}
    col["seen_utc"] = datetimes(table.column("seen_utc"))
    hits: list[RecordHit] = []
    for i in range(table.num_rows):
        grade = grades.get((col["kind"][i], col["identifier"][i], col["variant"][i] or ""))
        if grade is None:
            continue
        hits.append(
            RecordHit(
                case_number=case,
                record_id=col["record_id"][i],
                kind=col["kind"][i],
                canonical=col["identifier"][i],
                grade=grade,
                role=col["role"][i],
                record_type=col["record_type"][i],
                seen_utc=col["seen_utc"][i],
                target=col["target"][i],
            )
        )
    return hits


_HIT_COLUMNS = ("record_id", "kind", "identifier", "variant", "role", "record_type", "target")
_ORDER = ("exact", "imei_tac_snr", "national_number", "meid_pesn")


def _case_hits(
    summary: Iterable[Mapping[str, Any]], visible: frozenset[str]
) -> tuple[CaseHit, ...]:
    by_case: dict[str, list[Mapping[str, Any]]] = {}
    for row in summary:
        if row["case_id"] in visible:
            by_case.setdefault(row["case_id"], []).append(row)
    out = []
    for number, group in sorted(by_case.items()):
        first = [r["first_seen"] for r in group if r["first_seen"] is not None]
        last = [r["last_seen"] for r in group if r["last_seen"] is not None]
        out.append(
            CaseHit(
                case_number=number,
                records=sum(r["occurrences"] for r in group),
                grade=min((r["grade"] for r in group), key=_ORDER.index),
                roles=tuple(sorted({role for r in group for role in _roles(r["roles"])})),
                first_seen_utc=min(first, default=None),
                last_seen_utc=max(last, default=None),
            )
        )
    return tuple(out)


def _roles(bits: int) -> list[str]:
    return [role for role, bit in ROLE_BITS.items() if bits & bit]


def _pointers(
    directory: CaseDirectory, actor: str, hidden: Iterable[str]
) -> tuple[RestrictedHit, ...]:
    contacts: dict[str | None, Contact | None] = {}
    for contact in _contacts(directory, actor, list(hidden)):
        contacts.setdefault(None if contact is None else contact.user_id, contact)
    return tuple(
        RestrictedHit(RESTRICTED_MESSAGE, c) for _, c in sorted(contacts.items(), key=_key)
    )


def _contacts(directory: CaseDirectory, actor: str, hidden: list[str]) -> list[Contact | None]:
    """Whom to contact about each hidden case (None: no one may be named); audited each."""
    if not hidden:
        return []
    if isinstance(directory, BatchDirectory):  # one round trip for all of them
        try:
            found = directory.restricted_contacts(actor, hidden)
        except TlsError as err:
            if err.reason != "access_denied":
                raise
            return [None] * len(hidden)
        return [found.get(number) for number in hidden]
    out: list[Contact | None] = []
    for number in hidden:
        try:
            out.append(directory.restricted_contact(actor, number))
        except TlsError as err:
            if err.reason != "access_denied":
                raise
            out.append(None)
    return out


def _key(item: tuple[str | None, Contact | None]) -> str:
    return item[0] or ""
