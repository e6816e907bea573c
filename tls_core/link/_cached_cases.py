"""The cached rows of step ``identifier_cases``, given to their cases without re-grouping.

A batch's cache entry (:mod:`tls_core.link._batches`) holds one row per (identifier, kind,
role) of its call records, for the ``target`` and ``contact`` roles (plus its raw devices).
Given to a case through one clean link (``clean_scope``), those rows are exactly that case's
``target`` / ``contact`` rows of step ``identifier_cases`` (variant ``''``): unique per key,
counts and ranges already aggregated. Only a case that gets ``target`` / ``contact`` rows from
two or more sources (several clean batches, or a clean batch and records read one by one in
``call_groups``) needs them summed: those rows alone go through the aggregate of step
``identifier_cases`` (step ``merged_identifier_cases``). The result equals the SQL of
:func:`tls_core.link.identifier_cases_sql` (tested), without a hash aggregate of every cached
row: the rows are sliced and labelled with their case as Arrow columns, never copied one by one.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from tls_core.link._kept_cases import CASES_SCHEMA
from tls_core.link._steps import fetch_arrow, materialize, register

__all__ = ["CachedCases", "cached_identifier_cases", "create_identifier_weights", "split_entry"]

_CALL_ROLES: Final = pa.array(["target", "contact"])
"""Roles of the cached rows: the only rows a cache entry and another source can share."""

_MERGED: Final = """
SELECT identifier, kind, case_id, role, variant, CAST(SUM(records) AS BIGINT) AS records,
       MIN(first_seen) AS first_seen, MAX(last_seen) AS last_seen,
       MIN(target_min) AS target_min, MAX(target_max) AS target_max
FROM merged_identifier_rows
GROUP BY identifier, kind, case_id, role, variant
"""


def split_entry(entry: pa.Table) -> tuple[pa.Table, pa.Table, pa.Table]:
    """A cache entry's ``target`` / ``contact`` rows, ``target`` rows and ``raw_device`` rows.

    Slices, found by binary search: an entry is built sorted by role (``contact``,
    ``raw_device``, ``target``), and its bytes are checked against their hash when read.
    """
    role = entry.column("role").combine_chunks()
    devices = _first(role, "raw_device")
    targets = _first(role, "target")
    for start, end, name in ((devices, targets, "raw_device"), (targets, len(role), "target")):
        if start < end and (role[start].as_py(), role[end - 1].as_py()) != (name, name):
            raise ValueError("a link_batches entry is not sorted by role")  # built sorted: a bug
    parties = pa.concat_tables([entry.slice(0, devices), entry.slice(targets)])
    return parties, entry.slice(targets), entry.slice(devices, targets - devices)


def _first(role: pa.Array, value: str) -> int:
    """Index of the first row whose role is not before ``value`` (``role`` is sorted)."""
    lo, hi = 0, len(role)
    while lo < hi:
        mid = (lo + hi) // 2
        if role[mid].as_py() < value:
            lo = mid + 1
        else:
            hi = mid
    return lo


@dataclass(frozen=True)
class CachedCases:
    """The rows of ``identifier_cases``, and their (identifier, kind, case) keys in two parts.

    :attr:`alone` holds the (identifier, kind) of rows whose (identifier, kind, case) no other
    row has, so that step ``identifier_weights`` counts them instead of counting distinct cases
    (three times cheaper in DuckDB): the cached rows of a case fed by one batch, but those whose
    identifier the batch also holds as a target (a target and a contact row of one identifier)
    or the case holds through another row (a device, a subscriber record). :attr:`other` holds
    (identifier, kind, case_id) of every other row.
    """

    rows: pa.Table
    """Every row (:data:`tls_core.link._kept_cases.CASES_SCHEMA`), unique per key."""
    alone: pa.Table
    other: pa.Table


def cached_identifier_cases(
    con: Any,
    entries: Mapping[str, tuple[pa.Table, pa.Table]],
    clean: pa.Table,
    parts: pa.Table,
) -> CachedCases:
    """Rows of ``identifier_cases``: the cached rows of ``clean`` links, plus ``parts``.

    Args:
        con: The run's connection (for step ``merged_identifier_cases``).
        entries: Per batch, its cache entry's ``target`` / ``contact`` rows and its
            ``target`` rows (:func:`split_entry`).
        clean: The ``clean_scope`` links (``batch_id``, ``case_id``).
        parts: Every other row of ``identifier_cases`` (aggregated per key: devices, records
            read one by one, party records), as step ``identifier_case_parts`` made them.

    Returns:
        The rows (:data:`tls_core.link._kept_cases.CASES_SCHEMA`), unique per key, any order.
    """
    links = [
        (b, c)
        for b, c in zip(clean["batch_id"].to_pylist(), clean["case_id"].to_pylist(), strict=True)
        if b in entries and entries[b][0].num_rows
    ]
    calls = pc.is_in(parts.column("role"), value_set=_CALL_ROLES)
    sources = Counter(c for _, c in links)
    sources.update(pc.unique(parts.filter(calls).column("case_id")).to_pylist())
    shared = pa.array([c for c, n in sources.items() if n > 1], pa.string())
    parts = parts.cast(CASES_SCHEMA)
    merge = pc.and_(calls, pc.is_in(parts.column("case_id"), value_set=shared))
    kept = [parts.filter(pc.invert(merge))]
    to_merge = [parts.filter(merge)]
    alone = [_ALONE.empty_table()]
    other = [kept[0].select(_OTHER.names)]
    held = _identifiers_by_case(parts)
    for batch, case in links:
        rows = _labelled(entries[batch][0], case)
        if sources[case] > 1:
            to_merge.append(rows)
            continue
        kept.append(rows)
        targets = entries[batch][1].column("identifier")
        twice = pc.is_in(
            rows.column("identifier"),
            value_set=pa.concat_arrays([*targets.chunks, held.get(case, _NONE)]),
        )
        if pc.any(twice).as_py():
            alone.append(rows.select(_ALONE.names).filter(pc.invert(twice)))
            other.append(rows.select(_OTHER.names).filter(twice))
        else:
            alone.append(rows.select(_ALONE.names))
    merging = pa.concat_tables(to_merge)
    if merging.num_rows:
        register(con, "merged_identifier_rows", merging, copy=False)
        merged = fetch_arrow(con, "merged_identifier_cases", _MERGED).cast(CASES_SCHEMA)
        con.unregister("merged_identifier_rows")
        kept.append(merged)
        other.append(merged.select(_OTHER.names))
    return CachedCases(pa.concat_tables(kept), pa.concat_tables(alone), pa.concat_tables(other))


_NONE: Final = pa.array([], pa.string())
_ALONE: Final = pa.schema([CASES_SCHEMA.field("identifier"), CASES_SCHEMA.field("kind")])
_OTHER: Final = pa.schema([*_ALONE, CASES_SCHEMA.field("case_id")])


def _identifiers_by_case(parts: pa.Table) -> dict[str, pa.Array]:
    """The distinct identifiers of ``parts`` per case."""
    grouped = parts.group_by("case_id").aggregate([("identifier", "distinct")])
    return {
        str(case): pa.array(values, pa.string())
        for case, values in zip(
            grouped.column("case_id").to_pylist(),
            grouped.column("identifier_distinct").to_pylist(),
            strict=True,
        )
    }


def _labelled(rows: pa.Table, case: str) -> pa.Table:
    """A batch's cached rows as ``identifier_cases`` rows of ``case`` (no row copied)."""
    n = rows.num_rows
    columns = {
        "identifier": rows.column("identifier"),
        "kind": rows.column("kind"),
        "case_id": _repeat(case, n),
        "role": rows.column("role"),
        "variant": _repeat("", n),
        **{name: rows.column(name) for name in CASES_SCHEMA.names[5:]},
    }
    return pa.table(columns, schema=CASES_SCHEMA)


def _repeat(value: str, n: int) -> pa.Array:
    """``value`` ``n`` times, as a string array built from its buffers (no per-row work)."""
    data = value.encode()
    if n * len(data) >= 2**31 - 1:  # past 32-bit offsets
        return pa.repeat(pa.scalar(value, pa.string()), n)
    offsets = np.arange(n + 1, dtype=np.int32) * np.int32(len(data))
    return pa.StringArray.from_buffers(n, pa.py_buffer(offsets), pa.py_buffer(data * n))


def create_identifier_weights(con: Any, cached: CachedCases) -> None:
    """Step ``identifier_weights`` over the keys of ``cached`` (equal to its SQL, cheaper).

    Raises:
        LinkError: the step failed (names it and its SQL).
    """
    register(con, "alone_case_keys", cached.alone, copy=False)
    register(con, "other_case_keys", cached.other, copy=False)
    try:
        materialize(con, "identifier_weights", _WEIGHTS)
    finally:
        con.unregister("alone_case_keys")
        con.unregister("other_case_keys")


# Each key of ``alone_case_keys`` is one (identifier, kind, case) no other row has; those of
# ``other_case_keys`` are counted once each. COUNT(*) rather than COUNT(DISTINCT case_id) over
# every row, which DuckDB computes three times slower.
_WEIGHTS: Final = """
SELECT identifier, kind, CAST(COUNT(*) AS BIGINT) AS cases
FROM (
    SELECT identifier, kind FROM alone_case_keys
    UNION ALL
    SELECT identifier, kind FROM (
        SELECT DISTINCT identifier, kind, case_id FROM other_case_keys
    ) o
) k
GROUP BY identifier, kind
"""
