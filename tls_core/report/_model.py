"""What a report shows: a small, explicit input model, checked once before rendering.

The report renders only what these dataclasses hold: whoever builds them (the link job, a
demo, a test) decides what the reader may see, so access control happens before this module.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal, TypeAlias

from tls_core.errors import ConfigError
from tls_core.schema import (
    IDENTIFIER_KINDS,
    LINK_TYPES,
    MATCH_GRADES,
    IdentifierKind,
    LinkType,
    MatchGrade,
)

__all__ = [
    "ChartLinkType",
    "CommonContact",
    "Contact",
    "Evidence",
    "ReportCase",
    "ReportData",
    "ReportIdentifier",
    "ReportLink",
    "RestrictedPointer",
    "TimelineEvent",
    "TopContacts",
    "check_report_data",
]

ChartLinkType: TypeAlias = Literal[
    "common_target",
    "direct_contact",
    "common_contact",
    "device_continuity",
    "subscriber_match",
    "misc_match",
    "suppressed",
]
"""Edge types of the chart: the six link types of ``tls_core.schema.LinkType``, plus
``suppressed`` for the edges between a case and a suppressed hub (never a link)."""


@dataclass(frozen=True)
class ReportCase:
    """A case shown in the report."""

    number: str
    """Case number, the node's label."""
    title: str
    """Short case title."""
    owner_name: str
    """Case agent who owns the case."""
    owner_office: str
    """Office of the owner."""
    restricted: bool = False
    """The case is restricted to its team (shown with a badge)."""


@dataclass(frozen=True)
class ReportIdentifier:
    """A shared identifier, or a suppressed hub, drawn as a node."""

    canonical: str
    """Canonical value (E.164, IMEI, ...)."""
    kind: IdentifierKind
    """Identifier kind, one of ``tls_core.schema.IDENTIFIER_KINDS``."""
    suppressed: bool = False
    """A hub (voicemail, 911, a pizza shop) that links no cases: drawn apart, greyed."""
    suppressed_reason: str | None = None
    """Why it is suppressed (curated list entry, learned weight)."""
    cases: tuple[str, ...] = ()
    """For a suppressed hub: the cases that hold it (drawn as grey dashed edges)."""


@dataclass(frozen=True)
class Evidence:
    """One row of a link's evidence: one identifier, one link type, seen in both cases."""

    identifier: str
    """Canonical value of the shared identifier (in ``ReportData.identifiers``)."""
    kind: IdentifierKind
    """Its kind."""
    link_type: LinkType
    """Why it links the two cases (``tls_core.schema.LINK_TYPES``)."""
    grade: MatchGrade
    """How the two sides matched (``exact``, ``national_number``, ...)."""
    records_a: int
    """Records in case A that hold the identifier."""
    records_b: int
    """Records in case B that hold the identifier."""
    first_seen_utc: datetime | None = None
    """First time it was seen in either case (UTC)."""
    last_seen_utc: datetime | None = None
    """Last time it was seen in either case (UTC)."""


@dataclass(frozen=True)
class ReportLink:
    """A link (an alert) between two cases with its evidence."""

    case_a: str
    """One case number."""
    case_b: str
    """The other case number."""
    link_types: tuple[LinkType, ...]
    """Types of the link, strongest first; each one also appears in the evidence."""
    strength: float
    """Strength in [0, 1]: edge width in the chart."""
    evidence: tuple[Evidence, ...]
    """The identifiers behind the link, one row each per link type."""
    alert_id: str | None = None
    """Alert id when the link was alerted."""


@dataclass(frozen=True)
class RestrictedPointer:
    """A restricted case holds an identifier: the reader sees only whom to contact."""

    identifier: str
    """Canonical value held by a restricted case."""
    kind: IdentifierKind
    """Its kind."""
    contact_name: str
    """Whom to contact (the case's supervisor or owner)."""
    contact_office: str
    """Their office."""


@dataclass(frozen=True)
class TimelineEvent:
    """Linked activity: records of one case holding one shared identifier in one time bucket."""

    case: str
    """Case number."""
    identifier: str
    """Canonical value of the shared identifier."""
    time_utc: datetime
    """Start of the bucket (UTC)."""
    count: int
    """Records in the bucket."""


@dataclass(frozen=True)
class Contact:
    """A contact of a target and how often they were in touch."""

    identifier: str
    """Canonical value of the contact."""
    kind: IdentifierKind
    """Its kind."""
    count: int
    """Calls and messages between target and contact."""


@dataclass(frozen=True)
class TopContacts:
    """The most frequent contacts of one target of one case."""

    case: str
    """Case number."""
    target: str
    """Canonical value of the target identifier."""
    contacts: tuple[Contact, ...]
    """Contacts, most frequent first."""


@dataclass(frozen=True)
class CommonContact:
    """A contact shared by two or more targets (possibly of different cases)."""

    identifier: str
    """Canonical value of the contact."""
    kind: IdentifierKind
    """Its kind."""
    targets: tuple[str, ...]
    """Targets in touch with it."""
    cases: tuple[str, ...]
    """Cases of those targets."""
    count: int
    """Calls and messages with all those targets."""


@dataclass(frozen=True)
class ReportData:
    """Everything a report shows; nothing else reaches the page."""

    title: str
    """Page title."""
    generated_utc: datetime
    """When the data was produced (timezone-aware); shown, and makes output reproducible."""
    cases: tuple[ReportCase, ...]
    """Cases drawn as nodes."""
    identifiers: tuple[ReportIdentifier, ...] = ()
    """Shared identifiers and suppressed hubs drawn as nodes."""
    links: tuple[ReportLink, ...] = ()
    """Links between cases (alerts) with their evidence."""
    restricted: tuple[RestrictedPointer, ...] = ()
    """Identifiers also held by restricted cases the reader may not see."""
    timeline: tuple[TimelineEvent, ...] = ()
    """Linked activity over time."""
    top_contacts: tuple[TopContacts, ...] = ()
    """Top contacts per target."""
    common_contacts: tuple[CommonContact, ...] = ()
    """Contacts common to several targets."""
    synthetic: bool = False
    """The data is synthetic: the page carries a banner saying so."""


def check_report_data(data: ReportData) -> None:
    """Raise :class:`~tls_core.errors.ConfigError` unless ``data`` is consistent.

    Every case and identifier a link, hub or event names must be listed; link types, grades
    and kinds must be known; counts non-negative; strengths in [0, 1]; times timezone-aware.
    """
    _check_time("generated_utc", data.generated_utc)
    case_numbers = _unique("case", [c.number for c in data.cases])
    identifiers = _unique("identifier", [i.canonical for i in data.identifiers])
    for ident in data.identifiers:
        _check_kind(ident.kind, ident.canonical)
        for case in ident.cases:
            _check_member("case", case, case_numbers, where=f"hub {ident.canonical}")
    for link in data.links:
        _check_link(link, case_numbers, identifiers)
    for event in data.timeline:
        _check_member("case", event.case, case_numbers, where="timeline")
        _check_member("identifier", event.identifier, identifiers, where="timeline")
        _check_time("timeline time_utc", event.time_utc)
        _check_count(event.count, "timeline count")
    for top in data.top_contacts:
        _check_member("case", top.case, case_numbers, where="top contacts")
        for contact in top.contacts:
            _check_count(contact.count, "contact count")
    for common in data.common_contacts:
        for case in common.cases:
            _check_member("case", case, case_numbers, where="common contacts")
        _check_count(common.count, "common contact count")


def _check_link(link: ReportLink, cases: frozenset[str], identifiers: frozenset[str]) -> None:
    where = f"link {link.case_a} - {link.case_b}"
    _check_member("case", link.case_a, cases, where=where)
    _check_member("case", link.case_b, cases, where=where)
    if link.case_a == link.case_b:
        raise _error(f"{where} links a case to itself", link.case_a, "self_link")
    if not (math.isfinite(link.strength) and 0.0 <= link.strength <= 1.0):
        raise _error(f"{where}: strength must be in [0, 1]", str(link.strength), "bad_strength")
    for link_type in link.link_types:
        _check_link_type(link_type)
    for row in link.evidence:
        _check_member("identifier", row.identifier, identifiers, where=where)
        _check_link_type(row.link_type)
        _check_kind(row.kind, row.identifier)
        if row.grade not in MATCH_GRADES:
            raise _error(f"{where}: unknown match grade", row.grade, "unknown_grade")
        _check_count(row.records_a, "records_a")
        _check_count(row.records_b, "records_b")
        for name, value in (("first_seen_utc", row.first_seen_utc), ("last", row.last_seen_utc)):
            if value is not None:
                _check_time(name, value)


def _unique(what: str, values: list[str]) -> frozenset[str]:
    seen: set[str] = set()
    for value in values:
        if value in seen:
            raise _error(f"{what} listed twice", value, f"duplicate_{what}")
        seen.add(value)
    return frozenset(seen)


def _check_member(what: str, value: str, known: frozenset[str], *, where: str) -> None:
    if value not in known:
        raise ConfigError(
            f"{where} names a {what} that the report does not list",
            value=value,
            reason=f"unknown_{what}",
            hint=f"add it to ReportData.{what}s or drop the reference",
        )


def _check_kind(kind: str, value: str) -> None:
    if kind not in IDENTIFIER_KINDS:
        raise _error(f"identifier {value!r} has an unknown kind", kind, "unknown_kind")


def _check_link_type(link_type: str) -> None:
    if link_type not in LINK_TYPES:
        raise _error("unknown link type", link_type, "unknown_link_type")


def _check_count(count: int, name: str) -> None:
    if count < 0:
        raise _error(f"{name} is negative", str(count), "negative_count")


def _check_time(name: str, value: datetime) -> None:
    if value.utcoffset() != timedelta(0):
        raise ConfigError(
            f"{name} must be a UTC datetime",
            value=value.isoformat(),
            reason="naive_or_local_time",
            hint="pass datetime(..., tzinfo=timezone.utc)",
        )


def _error(message: str, value: str, reason: str) -> ConfigError:
    return ConfigError(message, value=value, reason=reason)
