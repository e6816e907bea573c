"""Alerts as rows of :data:`tls_core.schema.LINK_ALERTS` (one row per evidence item) and back."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Final

import pyarrow as pa

from tls_core.link._alerts import Alert, Evidence, datetimes, to_micros
from tls_core.schema import LINK_ALERTS, check_table

__all__ = ["alerts_from_table", "alerts_to_table"]


def alerts_to_table(folded: pa.Table, snapshot_version: int, created: datetime) -> pa.Table:
    """Return the ``LINK_ALERTS`` rows of the evidence table of :func:`fold_alerts`."""
    n = folded.num_rows
    columns = {target: folded.column(source) for target, source in _FROM_FOLDED.items()}
    columns["snapshot_version"] = pa.chunked_array([pa.array([snapshot_version] * n, pa.int64())])
    created_utc = pa.array([created] * n, LINK_ALERTS.field("created_utc").type)
    columns["created_utc"] = pa.chunked_array([created_utc])
    table = pa.table([columns[f.name].cast(f.type) for f in LINK_ALERTS], schema=LINK_ALERTS)
    return check_table(table, LINK_ALERTS)


_FROM_FOLDED: Final = {
    "alert_id": "alert_id",
    "case_a": "case_a",
    "case_b": "case_b",
    "link_types": "link_types",
    "strength": "strength",
    "identifier_kind": "kind",
    "identifier_canonical": "identifier",
    "link_type": "link_type",
    "match_grade": "grade",
    "evidence_strength": "evidence_strength",
    "roles_a": "role_list_a",
    "roles_b": "role_list_b",
    "records_a": "records_a",
    "records_b": "records_b",
    "first_seen_a": "first_a",
    "last_seen_a": "last_a",
    "first_seen_b": "first_b",
    "last_seen_b": "last_b",
    "overlap_days": "overlap_days",
}
"""``LINK_ALERTS`` column -> column of the folded evidence table."""


def alerts_from_table(table: pa.Table) -> list[Alert]:
    """Rebuild alerts from ``LINK_ALERTS`` rows (in row order), column by column."""
    c: dict[str, list[Any]] = {}
    for name in table.column_names:
        column = table.column(name)
        is_time = pa.types.is_timestamp(column.type)
        c[name] = datetimes(to_micros(column)) if is_time else column.to_pylist()
    rows: dict[str, list[int]] = {}
    for i, key in enumerate(c["alert_id"]):
        rows.setdefault(key, []).append(i)
    return [_alert(c, indices) for indices in rows.values()]


def _alert(c: dict[str, list[Any]], rows: list[int]) -> Alert:
    first = rows[0]
    a, b = c["case_a"][first], c["case_b"][first]
    return Alert(
        alert_id=c["alert_id"][first],
        case_a=a,
        case_b=b,
        link_types=tuple(c["link_types"][first]),
        strength=c["strength"][first],
        evidence=tuple(_evidence(c, a, b, i) for i in rows),
    )


def _evidence(c: dict[str, list[Any]], a: str, b: str, i: int) -> Evidence:
    return Evidence(
        identifier=c["identifier_canonical"][i],
        kind=c["identifier_kind"][i],
        link_type=c["link_type"][i],
        grade=c["match_grade"][i],
        roles={a: tuple(c["roles_a"][i]), b: tuple(c["roles_b"][i])},
        records={a: c["records_a"][i], b: c["records_b"][i]},
        first_seen={a: c["first_seen_a"][i], b: c["first_seen_b"][i]},
        last_seen={a: c["last_seen_a"][i], b: c["last_seen_b"][i]},
        overlap_days=c["overlap_days"][i],
        strength=c["evidence_strength"][i],
    )
