"""The row-at-a-time alert builder the columnar :func:`fold_alerts` replaced (issue 6).

Kept as the reference the fast path is tested against: it folds the rows of step
``case_pair_links`` directly, one Python dict per row, as ``docs/linking.md`` reads.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pyarrow as pa

from tls_core.link._alerts import Alert, Evidence, _alert, evidence_strength
from tls_core.schema import LINK_ALERTS, check_table


def reference_alerts(case_pair_links: pa.Table) -> list[Alert]:
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


def reference_table(alerts: list[Alert], version: int, created: datetime) -> pa.Table:
    """Return the ``LINK_ALERTS`` rows of ``alerts``, one dict per row."""
    rows = [_row(alert, item, version, created) for alert in alerts for item in alert.evidence]
    return check_table(pa.Table.from_pylist(rows, schema=LINK_ALERTS), LINK_ALERTS)


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


def _row(alert: Alert, e: Evidence, version: int, created: datetime) -> dict[str, Any]:
    a, b = alert.case_a, alert.case_b
    return {
        "alert_id": alert.alert_id,
        "case_a": a,
        "case_b": b,
        "link_types": list(alert.link_types),
        "strength": alert.strength,
        "identifier_kind": e.kind,
        "identifier_canonical": e.identifier,
        "link_type": e.link_type,
        "match_grade": e.grade,
        "evidence_strength": e.strength,
        "roles_a": list(e.roles[a]),
        "roles_b": list(e.roles[b]),
        "records_a": e.records[a],
        "records_b": e.records[b],
        "first_seen_a": e.first_seen[a],
        "last_seen_a": e.last_seen[a],
        "first_seen_b": e.first_seen[b],
        "last_seen_b": e.last_seen[b],
        "overlap_days": e.overlap_days,
        "snapshot_version": version,
        "created_utc": created,
    }


def _sorted(values: Any) -> tuple[str, ...]:
    return tuple(sorted(set(values)))


def _min(values: Any) -> datetime | None:
    known = [v for v in values if v is not None]
    return min(known) if known else None


def _max(values: Any) -> datetime | None:
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
