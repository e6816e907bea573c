"""Alerts: one per linked case pair, listing every identifier the two cases share.

Built from the rows of step ``case_pair_links``. The strength formula (``docs/linking.md``):
each evidence item weighs ``TYPE_WEIGHT[link_type] * GRADE_STRENGTH[grade] *
(1 - 0.5 ** min(records_a, records_b))``, and an alert combines its items as a noisy-or,
``1 - prod(1 - item)``: more and stronger evidence raises it, never above 1.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

import pyarrow as pa

from tls_core.identifiers import GRADE_STRENGTH
from tls_core.schema import LINK_TYPES, LinkType, MatchGrade

__all__ = ["TYPE_WEIGHT", "Alert", "Evidence", "build_alerts", "evidence_strength"]

TYPE_WEIGHT: Final[dict[str, float]] = {
    "common_target": 1.0,
    "device_continuity": 0.9,
    "direct_contact": 0.8,
    "subscriber_match": 0.7,
    "common_contact": 0.5,
    "misc_match": 0.3,
}
"""How much one shared identifier of each link type says about two cases being related.
Misc records are unverified, so they weigh least."""


@dataclass(frozen=True)
class Evidence:
    """One identifier two cases share, under one link type."""

    identifier: str
    """Canonical value."""
    kind: str
    """Identifier kind."""
    link_type: LinkType
    """Why it links the cases (from the roles it plays)."""
    grade: MatchGrade
    """How it matches (``exact`` or ``imei_tac_snr``)."""
    roles: Mapping[str, tuple[str, ...]]
    """Per case: the roles it plays there (sorted)."""
    records: Mapping[str, int]
    """Per case: its records there (the largest count over its roles)."""
    first_seen: Mapping[str, datetime | None]
    """Per case: first time seen."""
    last_seen: Mapping[str, datetime | None]
    """Per case: last time seen."""
    overlap_days: float | None
    """Overlap of the two cases' activity windows for it, in days (0 if disjoint, None if
    a window is unknown)."""
    strength: float
    """This item's weight (see the module docstring)."""


@dataclass(frozen=True)
class Alert:
    """Two cases are likely related: everything they share, typed, graded and scored."""

    alert_id: str
    """Stable id of the case pair (32 hex digits)."""
    case_a: str
    """The case whose id sorts first."""
    case_b: str
    """The other case."""
    link_types: tuple[LinkType, ...]
    """The types of its evidence, in :data:`tls_core.schema.LINK_TYPES` order."""
    strength: float
    """Noisy-or of the evidence strengths, in [0, 1)."""
    evidence: tuple[Evidence, ...]
    """Strongest first."""

    @property
    def weight(self) -> int:
        """Records behind the evidence: sum over items of the smaller per-case count."""
        return sum(min(e.records.values()) for e in self.evidence)

    @property
    def signature(self) -> frozenset[tuple[str, str, str]]:
        """``(kind, identifier, link_type)`` of every item: what an update must add to."""
        return frozenset((e.kind, e.identifier, e.link_type) for e in self.evidence)


def alert_id(case_a: str, case_b: str) -> str:
    """Return the stable id of a case pair."""
    return hashlib.sha256(f"{case_a}\x1f{case_b}".encode()).hexdigest()[:32]


def evidence_strength(link_type: str, grade: str, records_a: int, records_b: int) -> float:
    """Return one evidence item's weight.

    >>> evidence_strength("common_target", "exact", 1, 5)
    0.5
    """
    fraction = 1.0 - 0.5 ** min(records_a, records_b)
    return TYPE_WEIGHT[link_type] * GRADE_STRENGTH[grade] * fraction


def build_alerts(case_pair_links: pa.Table) -> list[Alert]:
    """Fold the rows of step ``case_pair_links`` into alerts, sorted by case pair."""
    items: dict[tuple[str, str], dict[tuple[str, str, str], list[dict[str, Any]]]] = {}
    for row in case_pair_links.to_pylist():
        key = (row["kind"], row["identifier"], row["link_type"])
        items.setdefault((row["case_a"], row["case_b"]), {}).setdefault(key, []).append(row)
    alerts = []
    for (a, b), by_item in sorted(items.items()):
        evidence = sorted(
            (_evidence(a, b, rows) for rows in by_item.values()),
            key=lambda e: (-e.strength, e.kind, e.identifier, e.link_type),
        )
        alerts.append(_alert(a, b, evidence))
    return alerts


def _alert(a: str, b: str, evidence: list[Evidence]) -> Alert:
    remaining = 1.0
    for item in evidence:
        remaining *= 1.0 - item.strength
    types = {e.link_type for e in evidence}
    ordered = tuple(t for t in LINK_TYPES if t in types)
    return Alert(alert_id(a, b), a, b, ordered, round(1.0 - remaining, 6), tuple(evidence))


def _evidence(a: str, b: str, rows: list[dict[str, Any]]) -> Evidence:
    first = rows[0]
    roles = {a: _sorted(r["role_a"] for r in rows), b: _sorted(r["role_b"] for r in rows)}
    records = {a: max(r["records_a"] for r in rows), b: max(r["records_b"] for r in rows)}
    first_seen = {a: _min(r["first_a"] for r in rows), b: _min(r["first_b"] for r in rows)}
    last_seen = {a: _max(r["last_a"] for r in rows), b: _max(r["last_b"] for r in rows)}
    return Evidence(
        identifier=first["identifier"],
        kind=first["kind"],
        link_type=first["link_type"],
        grade=first["grade"],
        roles=roles,
        records=records,
        first_seen=first_seen,
        last_seen=last_seen,
        overlap_days=_overlap(first_seen[a], last_seen[a], first_seen[b], last_seen[b]),
        strength=evidence_strength(first["link_type"], first["grade"], records[a], records[b]),
    )


def _sorted(values: Iterable[str]) -> tuple[str, ...]:
    return tuple(sorted(set(values)))


def _min(values: Iterable[datetime | None]) -> datetime | None:
    known = [v for v in values if v is not None]
    return min(known) if known else None


def _max(values: Iterable[datetime | None]) -> datetime | None:
    known = [v for v in values if v is not None]
    return max(known) if known else None


def _overlap(
    first_a: datetime | None,
    last_a: datetime | None,
    first_b: datetime | None,
    last_b: datetime | None,
) -> float | None:
    if first_a is None or last_a is None or first_b is None or last_b is None:
        return None
    seconds = (min(last_a, last_b) - max(first_a, first_b)).total_seconds()
    return round(max(0.0, seconds) / 86400.0, 6)
