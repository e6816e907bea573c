"""Alerts as rows of :data:`tls_core.schema.LINK_ALERTS` (one row per evidence item) and back."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pyarrow as pa

from tls_core.link._alerts import Alert, Evidence
from tls_core.schema import LINK_ALERTS, check_table

__all__ = ["alerts_from_table", "alerts_to_table"]


def alerts_to_table(alerts: list[Alert], snapshot_version: int, created: datetime) -> pa.Table:
    """Return the ``LINK_ALERTS`` rows of ``alerts``."""
    rows = [
        _row(alert, item, snapshot_version, created) for alert in alerts for item in alert.evidence
    ]
    table = pa.Table.from_pylist(rows, schema=LINK_ALERTS)
    return check_table(table, LINK_ALERTS)


def alerts_from_table(table: pa.Table) -> list[Alert]:
    """Rebuild alerts from ``LINK_ALERTS`` rows (in row order)."""
    grouped: dict[str, list[dict[str, Any]]] = {}
    for row in table.to_pylist():
        grouped.setdefault(row["alert_id"], []).append(row)
    return [_alert(rows) for rows in grouped.values()]


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


def _alert(rows: list[dict[str, Any]]) -> Alert:
    first = rows[0]
    a, b = first["case_a"], first["case_b"]
    evidence = tuple(
        Evidence(
            identifier=r["identifier_canonical"],
            kind=r["identifier_kind"],
            link_type=r["link_type"],
            grade=r["match_grade"],
            roles={a: tuple(r["roles_a"]), b: tuple(r["roles_b"])},
            records={a: r["records_a"], b: r["records_b"]},
            first_seen={a: r["first_seen_a"], b: r["first_seen_b"]},
            last_seen={a: r["last_seen_a"], b: r["last_seen_b"]},
            overlap_days=r["overlap_days"],
            strength=r["evidence_strength"],
        )
        for r in rows
    )
    return Alert(
        alert_id=first["alert_id"],
        case_a=a,
        case_b=b,
        link_types=tuple(first["link_types"]),
        strength=first["strength"],
        evidence=evidence,
    )
