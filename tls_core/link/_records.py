"""Alerts as rows of :data:`tls_core.schema.LINK_ALERTS` (one row per evidence item) and back."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any, Final, overload

import pyarrow as pa
import pyarrow.compute as pc

from tls_core.link._alerts import Alert, Evidence, datetimes, to_micros
from tls_core.schema import LINK_ALERTS, check_table

__all__ = ["AlertRows", "alerts_from_table", "alerts_to_table"]


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


class AlertRows(Sequence[Alert]):
    """Alerts kept as their ``LINK_ALERTS`` rows, built as :class:`Alert` objects on first use.

    A run's alerts may be many, and most callers only count them.
    """

    __hash__ = None  # type: ignore[assignment]  # mutable cache; compared by content

    def __init__(self, table: pa.Table) -> None:
        self._table = table
        self._count: int | None = None
        self._built: list[Alert] | None = None

    @property
    def table(self) -> pa.Table:
        """The ``LINK_ALERTS`` rows, in alert order."""
        return self._table

    def case_ids(self) -> set[str]:
        """Every case of these alerts (from the columns: no objects built)."""
        return {
            *self._table.column("case_a").to_pylist(),
            *self._table.column("case_b").to_pylist(),
        }

    def _alerts(self) -> list[Alert]:
        if self._built is None:
            self._built = alerts_from_table(self._table)
        return self._built

    def __len__(self) -> int:
        if self._count is None:
            self._count = int(pc.count_distinct(self._table.column("alert_id")).as_py())
        return self._count

    @overload
    def __getitem__(self, index: int) -> Alert: ...

    @overload
    def __getitem__(self, index: slice) -> list[Alert]: ...

    def __getitem__(self, index: int | slice) -> Alert | list[Alert]:
        return self._alerts()[index]

    def __iter__(self) -> Iterator[Alert]:
        return iter(self._alerts())

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Sequence) and not isinstance(other, str):
            return len(self) == len(other) and self._alerts() == list(other)
        return NotImplemented

    def __repr__(self) -> str:
        return f"AlertRows({len(self)} alerts)"
