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
from typing import Any, Final

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from tls_core.link._kept_cases import CASES_SCHEMA
from tls_core.link._steps import fetch_arrow, register

__all__ = ["cached_identifier_cases", "split_entry"]

_CALL_ROLES: Final = pa.array(["target", "contact"])
"""Roles of the cached rows: the only rows a cache entry and another source can share."""

_MERGED: Final = """
SELECT identifier, kind, case_id, role, variant, CAST(SUM(records) AS BIGINT) AS records,
       MIN(first_seen) AS first_seen, MAX(last_seen) AS last_seen,
       MIN(target_min) AS target_min, MAX(target_max) AS target_max
FROM merged_identifier_rows
GROUP BY identifier, kind, case_id, role, variant
"""


def split_entry(entry: pa.Table) -> tuple[pa.Table, pa.Table]:
    """A cache entry's ``target`` / ``contact`` rows and its ``raw_device`` rows (slices).

    An entry is sorted by role, so its ``raw_device`` rows are one contiguous slice (checked,
    since the order is relied on).
    """
    role = entry.column("role")
    mask = pc.equal(role, "raw_device")
    count = int(pc.sum(mask).as_py() or 0)
    if count == 0:
        return entry, entry.slice(0, 0)
    start = int(pc.index(role, "raw_device").as_py())
    if int(pc.sum(mask.slice(start, count)).as_py() or 0) != count:
        raise ValueError("a link_batches entry is not sorted by role")  # built sorted: a bug
    devices = entry.slice(start, count)
    return pa.concat_tables([entry.slice(0, start), entry.slice(start + count)]), devices


def cached_identifier_cases(
    con: Any, entries: Mapping[str, pa.Table], clean: pa.Table, parts: pa.Table
) -> pa.Table:
    """Rows of ``identifier_cases``: the cached rows of ``clean`` links, plus ``parts``.

    Args:
        con: The run's connection (for step ``merged_identifier_cases``).
        entries: Per batch, its cache entry's ``target`` / ``contact`` rows
            (:func:`split_entry`).
        clean: The ``clean_scope`` links (``batch_id``, ``case_id``).
        parts: Every other row of ``identifier_cases`` (aggregated per key: devices, records
            read one by one, party records), as step ``identifier_case_parts`` made them.

    Returns:
        The rows (:data:`tls_core.link._kept_cases.CASES_SCHEMA`), unique per key, any order.
    """
    links = [
        (b, c)
        for b, c in zip(clean["batch_id"].to_pylist(), clean["case_id"].to_pylist(), strict=True)
        if b in entries and entries[b].num_rows
    ]
    calls = pc.is_in(parts.column("role"), value_set=_CALL_ROLES)
    sources = Counter(c for _, c in links)
    sources.update(pc.unique(parts.filter(calls).column("case_id")).to_pylist())
    shared = pa.array([c for c, n in sources.items() if n > 1], pa.string())
    parts = parts.cast(CASES_SCHEMA)
    merge = pc.and_(calls, pc.is_in(parts.column("case_id"), value_set=shared))
    kept = [parts.filter(pc.invert(merge))]
    to_merge = [parts.filter(merge)]
    for batch, case in links:
        rows = _labelled(entries[batch], case)
        (to_merge if sources[case] > 1 else kept).append(rows)
    merging = pa.concat_tables(to_merge)
    if merging.num_rows:
        register(con, "merged_identifier_rows", merging, copy=False)
        merged = fetch_arrow(con, "merged_identifier_cases", _MERGED)
        con.unregister("merged_identifier_rows")
        kept.append(merged.cast(CASES_SCHEMA))
    return pa.concat_tables(kept)


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
    offsets = np.arange(n + 1, dtype=np.int32) * np.int32(len(data))
    return pa.StringArray.from_buffers(n, pa.py_buffer(offsets), pa.py_buffer(data * n))
