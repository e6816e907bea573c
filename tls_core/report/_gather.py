"""Gather a :class:`ReportData` from a repository, as one user may see it.

A report is an export (audited as one), so it holds what the actor may ``export``: the
linker's last alerts that touch one of those cases, their target profiles, the hubs, and the
case owners from the :class:`~tls_core.protocols.CaseDirectory`. The other case of such a link
is named with its owner, as the alert itself names it, but its records are not profiled. A case
the actor may not ``search-hit`` never appears by number; an alert reaching into one becomes a
:class:`RestrictedPointer` naming whom to ask. Links between two cases that are not the actor's
are left out, and an actor who may export no case (OPR, OPLA, an administrator) gets an empty
report.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, cast

from tls_core.errors import AccessDenied
from tls_core.report._model import (
    CommonContact,
    Contact,
    Evidence,
    ReportCase,
    ReportData,
    ReportIdentifier,
    ReportLink,
    RestrictedPointer,
    TimelineEvent,
    TopContacts,
)
from tls_core.schema import IDENTIFIER_KINDS, IdentifierKind

if TYPE_CHECKING:
    from tls_core.link import Alert, Hub
    from tls_core.protocols import AccessPolicy, AuditSink, CaseDirectory
    from tls_core.search import TargetProfile
    from tls_core.store import Repository

__all__ = ["ReportSeams", "gather_report"]


@dataclass(frozen=True)
class ReportSeams:
    """Who asks, and the case-store seams that decide what they see."""

    actor: str
    """The user the report is for."""
    access: AccessPolicy
    """Visibility of cases."""
    directory: CaseDirectory
    """Case owners and whom to ask about a restricted case."""
    audit: AuditSink
    """Where the profile reads are audited."""


def gather_report(
    repo: Repository,
    seams: ReportSeams,
    *,
    case: str | None = None,
    title: str = "TLS link chart",
    synthetic: bool = False,
    top: int = 5,
) -> ReportData:
    """Return what ``seams.actor`` may see of the last link run (all cases, or one case's links).

    Raises:
        AccessDenied: ``case`` is given and the actor may not export it.
    """
    from tls_core.link import alerts, hubs

    if case is not None:
        seams.access.check(seams.actor, "export", case)
    found = alerts(repo, case=case)
    named = {c for a in found for c in (a.case_a, a.case_b)} | ({case} if case else set())
    visible = seams.access.visible_cases(seams.actor, sorted(named))
    mine = seams.access.visible_cases(seams.actor, sorted(visible), action="export")
    ours = [a for a in found if a.case_a in mine or a.case_b in mine]
    shown = [a for a in ours if a.case_a in visible and a.case_b in visible]
    pointers = _pointers(seams, [a for a in ours if a not in shown], mine)
    listed = mine | {c for a in shown for c in (a.case_a, a.case_b)}
    profiles = [_profile(repo, seams, c, top) for c in sorted(mine)]
    return ReportData(
        title=title,
        generated_utc=datetime.now(UTC).replace(microsecond=0),
        cases=tuple(_case(seams, c) for c in sorted(listed)),
        # Hubs are corpus-wide; a user who may export no case sees none.
        identifiers=_identifiers(shown, hubs(repo) if mine else []),
        links=tuple(_link(a) for a in shown),
        restricted=pointers,
        timeline=tuple(_timeline(shown)),
        top_contacts=tuple(t for p in profiles if p for t in _top(p)),
        common_contacts=tuple(c for p in profiles if p for c in _common(p)),
        synthetic=synthetic,
    )


def _case(seams: ReportSeams, number: str) -> ReportCase:
    try:
        owner = seams.directory.owner_contact(seams.actor, number)
    except AccessDenied:
        return ReportCase(number=number, title="", owner_name="", owner_office="")
    return ReportCase(
        number=number, title="", owner_name=owner.name, owner_office=owner.office or ""
    )


def _link(alert: Alert) -> ReportLink:
    evidence = tuple(
        Evidence(
            identifier=e.identifier,
            kind=_kind(e.kind),
            link_type=e.link_type,
            grade=e.grade,
            records_a=e.records.get(alert.case_a, 0),
            records_b=e.records.get(alert.case_b, 0),
            first_seen_utc=_earliest(e.first_seen.values()),
            last_seen_utc=_latest(e.last_seen.values()),
        )
        for e in alert.evidence
    )
    return ReportLink(
        case_a=alert.case_a,
        case_b=alert.case_b,
        link_types=tuple(alert.link_types),
        strength=alert.strength,
        evidence=evidence,
        alert_id=alert.alert_id,
    )


def _pointers(
    seams: ReportSeams, hidden: Iterable[Alert], mine: frozenset[str]
) -> tuple[RestrictedPointer, ...]:
    out: dict[tuple[str, str], RestrictedPointer] = {}
    for alert in hidden:
        other = alert.case_b if alert.case_a in mine else alert.case_a
        try:
            contact = seams.directory.restricted_contact(seams.actor, other)
        except AccessDenied:
            continue
        for e in alert.evidence:
            out.setdefault(
                (e.kind, e.identifier),
                RestrictedPointer(
                    identifier=e.identifier,
                    kind=_kind(e.kind),
                    contact_name=contact.name,
                    contact_office=contact.office or "",
                ),
            )
    return tuple(out[k] for k in sorted(out))


def _identifiers(shown: list[Alert], hub_list: list[Hub]) -> tuple[ReportIdentifier, ...]:
    cases: dict[tuple[str, str], set[str]] = {}
    for alert in shown:
        for e in alert.evidence:
            cases.setdefault((e.kind, e.identifier), set()).update((alert.case_a, alert.case_b))
    found = [
        ReportIdentifier(canonical=i, kind=_kind(k), cases=tuple(sorted(c)))
        for (k, i), c in sorted(cases.items())
    ]
    for hub in hub_list:
        if (hub.kind, hub.identifier) not in cases:
            found.append(
                ReportIdentifier(
                    canonical=hub.identifier,
                    kind=_kind(hub.kind),
                    suppressed=True,
                    suppressed_reason=f"{hub.reason}: {hub.detail} ({hub.cases} cases)",
                )
            )
    return tuple(found)


def _timeline(shown: list[Alert]) -> list[TimelineEvent]:
    # First and last contact with each shared identifier in each case, with its record count.
    events: dict[tuple[str, str, datetime], int] = {}
    for alert in shown:
        for e in alert.evidence:
            for c in (alert.case_a, alert.case_b):
                for moment in {e.first_seen.get(c), e.last_seen.get(c)} - {None}:
                    assert moment is not None
                    events[(c, e.identifier, moment)] = e.records.get(c, 0)
    return [
        TimelineEvent(case=c, identifier=i, time_utc=t, count=n)
        for (c, i, t), n in sorted(events.items(), key=lambda kv: (kv[0][2], kv[0][0]))
    ]


def _profile(repo: Repository, seams: ReportSeams, case: str, top: int) -> TargetProfile | None:
    from tls_core.search import target_profile

    try:
        return target_profile(
            repo, case, actor=seams.actor, access=seams.access, audit=seams.audit, top=top
        )
    except AccessDenied:
        return None  # exportable but not viewable (a policy that allows it): no profile


def _top(profile: TargetProfile) -> list[TopContacts]:
    return [
        TopContacts(
            case=profile.case_number,
            target=t.target,
            contacts=tuple(Contact(c.identifier, _kind(c.kind), c.records) for c in t.top_contacts),
        )
        for t in profile.targets
    ]


def _common(profile: TargetProfile) -> list[CommonContact]:
    return [
        CommonContact(
            identifier=c.identifier,
            kind=_kind(c.kind),
            targets=c.targets,
            cases=(profile.case_number,),
            count=c.records,
        )
        for c in profile.common_contacts
    ]


def _kind(kind: str) -> IdentifierKind:
    if kind not in IDENTIFIER_KINDS:
        raise ValueError(f"unknown identifier kind {kind!r}")
    return cast("IdentifierKind", kind)


def _earliest(values: Iterable[datetime | None]) -> datetime | None:
    found = [v for v in values if v is not None]
    return min(found) if found else None


def _latest(values: Iterable[datetime | None]) -> datetime | None:
    found = [v for v in values if v is not None]
    return max(found) if found else None
