"""An incremental run's alerts: kept rows carried over, only the touched case pairs re-folded.

An incremental run only adds (record, case) pairs, and the suppression settings are those of
the last run (else every alert is folded again). An evidence item (case pair A-B, identifier X,
link type) depends only on X's rows of ``identifier_cases`` for cases A and B and on whether X
is a hub. So an item changes only when the run changed X's rows for A or B
(``changed_cases``), or X became a hub (a hub never stops being one when records are only
added). The case pairs with such an item, now or in the kept alerts, are **touched**: they are
folded again from their items of the changed identifiers (step ``alert_evidence`` over
``changed_identifiers`` only) plus their kept items of other identifiers. The kept
``LINK_ALERTS`` rows of every other case pair are carried over as Arrow columns, never as
Python objects. The result is the table a full relink writes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Final

import pyarrow as pa
import pyarrow.compute as pc

from tls_core.link._alerts import fold_table
from tls_core.link._pairs import ROLE_BITS
from tls_core.link._records import alerts_to_table
from tls_core.schema import LINK_ALERTS

__all__ = ["Carried", "Changes", "carry_alerts"]


@dataclass(frozen=True)
class Changes:
    """What an incremental run changed, as fetched from its steps."""

    identifiers: pa.Table
    """``changed_identifiers``: ``(identifier, kind)`` with new rows."""
    cases: pa.Table
    """``changed_cases``: ``(identifier, kind, case_id)`` with new or grown rows."""
    hubs: pa.Table
    """``(identifier, kind)`` of every hub now."""


@dataclass(frozen=True)
class Carried:
    """The alerts after an incremental run."""

    changed: pa.Table
    """``LINK_ALERTS`` rows of the alerts new or different from the kept ones."""
    table: pa.Table
    """Every current alert's ``LINK_ALERTS`` rows, in a full relink's order."""


def carry_alerts(
    prior: pa.Table,
    changes: Changes,
    evidence: pa.Table,
    snapshot_version: int,
    created: datetime,
) -> Carried:
    """Merge the kept alerts with the evidence items of the changed identifiers.

    Args:
        prior: The kept ``LINK_ALERTS`` rows (last run).
        changes: What this run changed.
        evidence: Step ``alert_evidence`` over the changed identifiers only.
        snapshot_version: Registry version of this run's snapshot.
        created: When this run made its alerts.
    """
    prior = prior.cast(LINK_ALERTS)
    kind, ident = prior.column("identifier_kind"), prior.column("identifier_canonical")
    changed_cases = _keys(*(changes.cases.column(n) for n in ("kind", "identifier", "case_id")))
    touched = pc.unique(
        pa.concat_arrays(
            [
                _touched(prior, kind, ident, changed_cases, changes.hubs),
                _touched(evidence, evidence.column("kind"), evidence.column("identifier"),
                         changed_cases, None),
            ]
        )
    )  # fmt: skip
    in_prior = pc.is_in(_pairs(prior), value_set=touched)
    replaced = pc.is_in(
        _keys(kind, ident),
        value_set=_keys(*(changes.identifiers.column(n) for n in ("kind", "identifier"))),
    )
    kept_items = _as_evidence(prior.filter(pc.and_(in_prior, pc.invert(replaced))), evidence)
    items = evidence.filter(pc.is_in(_pairs(evidence), value_set=touched))
    folded = fold_table(pa.concat_tables([items, kept_items]))
    refolded = alerts_to_table(folded, snapshot_version, created)
    untouched = _restamp(prior.filter(pc.invert(in_prior)), snapshot_version, created)
    table = _sorted(pa.concat_tables([untouched, refolded]))
    changed = _changed_pairs(prior.filter(in_prior), refolded)
    return Carried(refolded.filter(pc.is_in(_pairs(refolded), value_set=changed)), table)


def _sorted(table: pa.Table) -> pa.Table:
    return table.take(pc.sort_indices(table, sort_keys=_ORDER))


def _changed_pairs(before: pa.Table, after: pa.Table) -> pa.Array:
    """Case pairs (keys) whose rows differ: an item or an alert value was added, lost, changed.

    Both tables are in :data:`_ORDER` (the kept table was written so, ``fold_table`` sorts so),
    a total order of a pair's items: the pairs with as
    many rows on both sides are compared row by row, column by column.
    """
    old, new = _pairs(before), _pairs(after)
    counts_old, counts_new = pc.value_counts(old), pc.value_counts(new)
    same = pc.is_in(
        _keys(counts_old.field("values"), counts_old.field("counts").cast(pa.string())),
        value_set=_keys(counts_new.field("values"), counts_new.field("counts").cast(pa.string())),
    )
    aligned = counts_old.field("values").filter(same)
    recounted = pa.concat_arrays(
        [
            old.filter(pc.invert(pc.is_in(old, value_set=aligned))),
            new.filter(pc.invert(pc.is_in(new, value_set=aligned))),
        ]
    )
    rows_old = before.filter(pc.is_in(old, value_set=aligned))
    rows_new = after.filter(pc.is_in(new, value_set=aligned))
    differ = pa.array([False] * rows_old.num_rows, pa.bool_())
    for name in _COMPARED:
        differ = pc.or_(differ, _differ(rows_old.column(name), rows_new.column(name)))
    edited = _pairs(rows_old).filter(differ)
    return pc.unique(pa.concat_arrays([recounted, edited]))


_COMPARED: Final = tuple(
    name for name in LINK_ALERTS.names if name not in ("snapshot_version", "created_utc")
)


def _differ(a: pa.ChunkedArray, b: pa.ChunkedArray) -> pa.Array:
    """Row-wise: the values differ (two nulls are equal)."""
    left, right = a.combine_chunks(), b.combine_chunks()
    if pa.types.is_list(left.type):
        left, right = (pc.binary_join(x, "\x1e") for x in (left, right))
    unequal = pc.fill_null(pc.not_equal(left, right), True)
    both_null = pc.and_(pc.is_null(left), pc.is_null(right))
    result: pa.Array = pc.and_(unequal, pc.invert(both_null))
    return result


_ORDER: Final = [
    ("case_a", "ascending"),
    ("case_b", "ascending"),
    ("evidence_strength", "descending"),
    ("identifier_kind", "ascending"),
    ("identifier_canonical", "ascending"),
    ("link_type", "ascending"),
]
"""The order of :func:`tls_core.link._alerts.fold_alerts`, in ``LINK_ALERTS`` names."""

_MASKS: Final = {
    tuple(role for bit, role in enumerate(ROLE_BITS) if mask >> bit & 1): mask
    for mask in range(1 << len(ROLE_BITS))
}
"""Sorted roles -> the bit mask step ``alert_evidence`` gives them."""

_EVIDENCE_FROM_ALERTS: Final = {
    "case_a": "case_a",
    "case_b": "case_b",
    "kind": "identifier_kind",
    "identifier": "identifier_canonical",
    "link_type": "link_type",
    "grade": "match_grade",
    "records_a": "records_a",
    "records_b": "records_b",
    "first_a": "first_seen_a",
    "last_a": "last_seen_a",
    "first_b": "first_seen_b",
    "last_b": "last_seen_b",
}
"""``alert_evidence`` column -> ``LINK_ALERTS`` column (the role masks are rebuilt)."""


def _keys(*columns: pa.ChunkedArray | pa.Array) -> pa.Array:
    """One string per row joining the columns (a composite key for ``is_in``)."""
    arrays = [c.combine_chunks() if isinstance(c, pa.ChunkedArray) else c for c in columns]
    joined: pa.Array = pc.binary_join_element_wise(*arrays, "\x1f")
    return joined


def _pairs(table: pa.Table) -> pa.Array:
    return _keys(table.column("case_a"), table.column("case_b"))


def _touched(
    rows: pa.Table,
    kind: pa.ChunkedArray,
    ident: pa.ChunkedArray,
    changed_cases: pa.Array,
    hubs: pa.Table | None,
) -> pa.Array:
    """Case pairs (keys) of the rows whose item changed: new rows on a side, or now a hub."""
    hit = pc.or_(
        pc.is_in(_keys(kind, ident, rows.column("case_a")), value_set=changed_cases),
        pc.is_in(_keys(kind, ident, rows.column("case_b")), value_set=changed_cases),
    )
    if hubs is not None:
        hub_keys = _keys(hubs.column("kind"), hubs.column("identifier"))
        hit = pc.or_(hit, pc.is_in(_keys(kind, ident), value_set=hub_keys))
    return pc.unique(_pairs(rows).filter(hit))


def _as_evidence(rows: pa.Table, like: pa.Table) -> pa.Table:
    """Kept ``LINK_ALERTS`` rows as rows of step ``alert_evidence`` (few: touched pairs only)."""
    columns = {name: rows.column(source) for name, source in _EVIDENCE_FROM_ALERTS.items()}
    for side in ("a", "b"):
        masks = [_MASKS[tuple(r)] for r in rows.column(f"roles_{side}").to_pylist()]
        columns[f"roles_{side}"] = pa.chunked_array([pa.array(masks, pa.int64())])
    schema = like.schema
    return pa.table([columns[f.name].cast(f.type) for f in schema], schema=schema)


def _restamp(rows: pa.Table, snapshot_version: int, created: datetime) -> pa.Table:
    """Carried rows stamped with this run's snapshot version and time, as a relink writes."""
    n = rows.num_rows
    for name, value in (("snapshot_version", snapshot_version), ("created_utc", created)):
        field = LINK_ALERTS.field(name)
        column = pa.nulls(n, field.type).fill_null(pa.scalar(value, field.type))
        rows = rows.set_column(rows.schema.get_field_index(name), field, column)
    return rows
