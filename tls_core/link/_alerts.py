"""Alerts: one per linked case pair, listing every identifier the two cases share.

Built from the rows of step ``alert_evidence`` (one per evidence item), column-wise. The
strength formula (``docs/linking.md``): each evidence item weighs
``TYPE_WEIGHT[link_type] * GRADE_STRENGTH[grade] * (1 - 0.5 ** min(records_a, records_b))``,
and an alert combines its items as a noisy-or, ``1 - prod(1 - item)``: more and stronger
evidence raises it, never above 1.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final
from zoneinfo import ZoneInfo

import pyarrow as pa
import pyarrow.compute as pc

from tls_core.identifiers import GRADE_STRENGTH
from tls_core.link._pairs import ROLE_BITS
from tls_core.schema import LINK_TYPES, LinkType, MatchGrade

__all__ = [
    "TYPE_WEIGHT",
    "Alert",
    "Evidence",
    "datetimes",
    "evidence_strength",
    "fold_alerts",
    "fold_table",
    "to_micros",
]

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


def fold_alerts(alert_evidence: pa.Table) -> tuple[list[Alert], pa.Table]:
    """Fold the rows of step ``alert_evidence`` into alerts, sorted by case pair.

    Returns the alerts and their evidence rows in the same order (case pair, then strongest
    first), with the columns :func:`tls_core.link._records.alerts_to_table` writes added:
    ``alert_id``, ``link_types``, ``strength``, ``evidence_strength``, ``role_list_a``,
    ``role_list_b`` and ``overlap_days``. Column-wise: a run folds every item at once.
    """
    args = (alert_evidence.column(n).to_pylist() for n in _STRENGTH_ARGS)
    weights = pa.array(list(map(evidence_strength, *args)), pa.float64())
    table = alert_evidence.append_column("evidence_strength", weights)
    # Case pair, then strongest first; byte order of UTF-8 is Python's str order.
    table = table.take(pc.sort_indices(table, sort_keys=_ORDER))
    c = {name: table.column(name).to_pylist() for name in _PLAIN}
    micros = {name: to_micros(table.column(name)) for name in _TIMES}
    items = _items(c, micros, table.column("evidence_strength").to_pylist())
    pairs = list(zip(c["case_a"], c["case_b"], strict=True))
    alerts, per_row = _group(items, pairs)
    columns = {
        "alert_id": pa.array([a.alert_id for a in per_row], pa.string()),
        "link_types": pa.array([list(a.link_types) for a in per_row], _STRINGS),
        "strength": pa.array([a.strength for a in per_row], pa.float64()),
        "role_list_a": pa.array([_ROLE_SETS[m] for m in c["roles_a"]], _STRINGS),
        "role_list_b": pa.array([_ROLE_SETS[m] for m in c["roles_b"]], _STRINGS),
        "overlap_days": pa.array([e.overlap_days for e in items], pa.float64()),
    }
    for name, column in columns.items():
        table = table.append_column(name, column)
    return alerts, table


def fold_table(alert_evidence: pa.Table) -> pa.Table:
    """The evidence table of :func:`fold_alerts`, without building any Python object.

    The same columns, rows and values: each alert's strength is the same noisy-or over its
    items in the same order, computed on plain floats.
    """
    args = (alert_evidence.column(n).to_pylist() for n in _STRENGTH_ARGS)
    weights = pa.array(list(map(evidence_strength, *args)), pa.float64())
    table = alert_evidence.append_column("evidence_strength", weights)
    table = table.take(pc.sort_indices(table, sort_keys=_ORDER))
    pairs = list(zip(*(table.column(n).to_pylist() for n in ("case_a", "case_b")), strict=True))
    strengths = table.column("evidence_strength").to_pylist()
    per_row = _fold_rows(pairs, strengths, table.column("link_type").to_pylist())
    micros = [to_micros(table.column(name)) for name in _TIMES]
    columns = {
        "alert_id": pa.array([r[0] for r in per_row], pa.string()),
        "link_types": pa.array([list(r[1]) for r in per_row], _STRINGS),
        "strength": pa.array([r[2] for r in per_row], pa.float64()),
        "role_list_a": pa.array(
            [_ROLE_SETS[m] for m in table.column("roles_a").to_pylist()], _STRINGS
        ),
        "role_list_b": pa.array(
            [_ROLE_SETS[m] for m in table.column("roles_b").to_pylist()], _STRINGS
        ),
        "overlap_days": pa.array(list(map(_overlap, *micros)), pa.float64()),
    }
    for name, column in columns.items():
        table = table.append_column(name, column)
    return table


def _fold_rows(
    pairs: list[tuple[str, str]], strengths: list[float], types: list[str]
) -> list[tuple[str, tuple[str, ...], float]]:
    """Per row (sorted by case pair): its alert's id, link types and strength."""
    per_row: list[tuple[str, tuple[str, ...], float]] = []
    start = 0
    for end in range(1, len(pairs) + 1):
        if end < len(pairs) and pairs[end] == pairs[start]:
            continue
        remaining = 1.0
        for weight in strengths[start:end]:
            remaining *= 1.0 - weight
        present = set(types[start:end])
        ordered = tuple(t for t in LINK_TYPES if t in present)
        folded = (alert_id(*pairs[start]), ordered, round(1.0 - remaining, 6))
        per_row.extend([folded] * (end - start))
        start = end
    return per_row


def to_micros(column: pa.ChunkedArray) -> list[int | None]:
    """Microseconds since the epoch of a UTC timestamp column (fast, unlike ``to_pylist``)."""
    values: list[int | None] = (
        column.cast(pa.timestamp("us", tz="UTC")).cast(pa.int64()).to_pylist()
    )
    return values


def datetimes(micros: list[int | None]) -> list[datetime | None]:
    """UTC datetimes of microsecond counts, equal to what ``to_pylist`` of the column gives."""
    # A case's first and last times repeat on every pair it is in: convert each value once.
    known: dict[int | None, datetime | None] = {
        m: _EPOCH + timedelta(microseconds=m) for m in set(micros) if m is not None
    }
    known[None] = None
    return [known[m] for m in micros]


_PLAIN: Final = (
    "case_a",
    "case_b",
    "kind",
    "identifier",
    "link_type",
    "grade",
    "roles_a",
    "roles_b",
    "records_a",
    "records_b",
)
_TIMES: Final = ("first_a", "last_a", "first_b", "last_b")
_ORDER: Final = [
    ("case_a", "ascending"),
    ("case_b", "ascending"),
    ("evidence_strength", "descending"),
    ("kind", "ascending"),
    ("identifier", "ascending"),
    ("link_type", "ascending"),
]
_STRENGTH_ARGS: Final = ("link_type", "grade", "records_a", "records_b")
_UTC: Final = ZoneInfo("UTC")  # the tzinfo pyarrow gives UTC timestamps
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=_UTC)
_ROLE_SETS: Final = tuple(
    tuple(role for bit, role in enumerate(ROLE_BITS) if mask >> bit & 1) for mask in range(32)
)
_STRINGS: Final = pa.list_(pa.string())


def _items(
    c: dict[str, list[Any]], micros: dict[str, list[int | None]], strength: list[float]
) -> list[Evidence]:
    """One :class:`Evidence` per row (columns already in alert order)."""
    first_a, last_a, first_b, last_b = (micros[n] for n in _TIMES)
    overlap = list(map(_overlap, first_a, last_a, first_b, last_b))
    rows = zip(
        *(c[n] for n in _PLAIN),
        *(datetimes(micros[n]) for n in _TIMES),
        overlap,
        strength,
        strict=True,
    )
    return [
        Evidence(
            identifier=ident,
            kind=kind,
            link_type=link_type,
            grade=grade,
            roles={a: _ROLE_SETS[roles_a], b: _ROLE_SETS[roles_b]},
            records={a: records_a, b: records_b},
            first_seen={a: fa, b: fb},
            last_seen={a: la, b: lb},
            overlap_days=days,
            strength=weight,
        )
        for (a, b, kind, ident, link_type, grade, roles_a, roles_b, records_a, records_b,
             fa, la, fb, lb, days, weight) in rows
    ]  # fmt: skip


def _group(items: list[Evidence], pairs: list[tuple[str, str]]) -> tuple[list[Alert], list[Alert]]:
    """Alerts of consecutive items of one case pair, and the alert of each item."""
    alerts: list[Alert] = []
    per_row: list[Alert] = []
    start = 0
    for end in range(1, len(items) + 1):
        if end < len(items) and pairs[end] == pairs[start]:
            continue
        a, b = pairs[start]
        alerts.append(_alert(a, b, items[start:end]))
        per_row.extend([alerts[-1]] * (end - start))
        start = end
    return alerts, per_row


def _alert(a: str, b: str, evidence: list[Evidence]) -> Alert:
    remaining = 1.0
    for item in evidence:
        remaining *= 1.0 - item.strength
    types = {e.link_type for e in evidence}
    ordered = tuple(t for t in LINK_TYPES if t in types)
    return Alert(alert_id(a, b), a, b, ordered, round(1.0 - remaining, 6), tuple(evidence))


def _overlap(
    first_a: int | None, last_a: int | None, first_b: int | None, last_b: int | None
) -> float | None:
    if first_a is None or last_a is None or first_b is None or last_b is None:
        return None
    # timedelta.total_seconds() is this same division of the microseconds.
    seconds = (min(last_a, last_b) - max(first_a, first_b)) / 10**6
    return round(max(0.0, seconds) / 86400.0, 6)
