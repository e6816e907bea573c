"""Step ``identifier_cases``: occurrences aggregated per identifier, kind, case, role, variant.

The linker never needs single occurrences, only their counts and time ranges, so it does not
build ``occurrences`` at all. Call records are grouped by everything that decides their
occurrences (target, parties, raw devices; a return repeats the same few parties, so the
groups are few), and the occurrence branches of :mod:`tls_core.link._occurrences` are applied
to the groups, summing their record counts: each record falls in exactly one group, and each
branch takes an identifier from a record at most once, so the sums are counts of distinct
records. The groups of each batch are reduced once to per-batch identifier rows and cached
(:mod:`tls_core.link._batches`); a run joins them with the links in scope (``clean_scope``)
and reads records one by one only for ``dirty_scope`` links and ``ref_cases``
(``call_groups``). ``device_ids`` is computed from the raw IMEIs and IMSIs of both. Party
records are few and aggregated directly.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

import pyarrow as pa

from tls_core.link._batches import BATCH_IDENTIFIERS
from tls_core.link._cached_cases import CachedCases, cached_identifier_cases, split_entry
from tls_core.link._occurrences import (
    CALLS,
    PARTY_BRANCH,
    PRELUDE,
    OccurrenceScope,
    prepare_scope,
    register_device_ids,
)
from tls_core.link._steps import fetch_arrow, materialize, register

__all__ = ["create_identifier_cases", "identifier_cases_sql"]

_GROUP_KEYS: Final = (
    "scope_case, target_canonical, target_kind, orig_canonical, orig_kind, term_canonical, "
    "term_kind, dialed_canonical, dialed_kind, target_imei, target_imsi"
)


def create_identifier_cases(
    con: Any, name: str, entries: Mapping[str, pa.Table], *, scope: OccurrenceScope = "all"
) -> CachedCases:
    """Create the steps up to ``name`` (the identifier_cases table, or a delta of it).

    The cached ``target`` / ``contact`` rows are given to their cases as Arrow columns
    (:mod:`tls_core.link._cached_cases`); step ``identifier_case_parts`` aggregates every
    other row. ``name`` is registered in place: the caller keeps the returned table alive
    while the connection reads it.

    Args:
        con: A connection from :meth:`tls_core.store.Snapshot.connect`.
        name: Name of the table to produce (``identifier_cases`` or a delta of it).
        entries: The per-batch call-record aggregates of (at least) the batches of
            ``case_scope`` (:func:`tls_core.link._batches.batch_identifiers`).
        scope: As for :func:`tls_core.link.create_occurrences`.

    Returns:
        The rows of ``name`` (:data:`tls_core.link._kept_cases.CASES_SCHEMA`) and their keys.

    Raises:
        LinkError: a step failed (names the step and its SQL).
    """
    prepare_scope(con, scope=scope)
    split = {batch: split_entry(t) for batch, t in entries.items()}
    devices = pa.concat_tables(
        [BATCH_IDENTIFIERS.empty_table(), *(d for _, _, d in split.values())]
    )
    # The steps read only the entries' raw_device rows (the others are handed over below);
    # registered in place: the caller's entries stay alive while the connection reads them.
    register(con, "batch_identifiers", devices, copy=False)
    materialize(con, "dirty_scope", _DIRTY_SCOPE)
    materialize(con, "clean_scope", _CLEAN_SCOPE)
    materialize(con, "call_groups", _RECORD_CALL_GROUPS)
    register_device_ids(con, _RAW_DEVICES)
    parts = fetch_arrow(con, "identifier_case_parts", _IDENTIFIER_CASE_PARTS)
    clean = fetch_arrow(con, "clean_scope", "SELECT batch_id, case_id FROM clean_scope")
    parties = {batch: (p, t) for batch, (p, t, _) in split.items()}
    cached = cached_identifier_cases(con, parties, clean, parts)
    register(con, name, cached.rows, copy=False)
    return cached


def identifier_cases_sql() -> str:
    """SQL of step ``identifier_cases`` (reads ``call_groups``, ``device_ids`` and parties)."""
    return _IDENTIFIER_CASES


# (column, role, earlier columns an occurrence must differ from)
_PARTIES: Final = (
    ("target", "target", ()),
    ("orig", "contact", ("target",)),
    ("term", "contact", ("target", "orig")),
    ("dialed", "contact", ("target", "orig", "term")),
)

_AGGREGATE: Final = """
SELECT identifier, kind, case_id, role, variant, CAST(SUM(records) AS BIGINT) AS records,
       MIN(first_seen) AS first_seen, MAX(last_seen) AS last_seen,
       MIN(target_min) AS target_min, MAX(target_max) AS target_max
FROM ({parts}) parts
GROUP BY identifier, kind, case_id, role, variant
"""


def _party_part(column: str, role: str, unlike: tuple[str, ...]) -> str:
    differs = "".join(
        f"\n  AND (g.{o}_canonical IS NULL OR g.{column}_canonical <> g.{o}_canonical)"
        for o in unlike
    )
    return f"""
SELECT g.{column}_canonical AS identifier, g.{column}_kind AS kind, g.scope_case AS case_id,
       '{role}' AS role, '' AS variant, g.records, g.first_seen, g.last_seen,
       g.target_canonical AS target_min, g.target_canonical AS target_max
FROM call_groups g
WHERE g.{column}_canonical IS NOT NULL{differs}
"""


def _device_part(column: str, kind: str) -> str:
    return f"""
SELECT d.canonical AS identifier, d.kind, g.scope_case AS case_id, 'device' AS role,
       d.variant, g.records, g.first_seen, g.last_seen,
       g.target_canonical AS target_min, g.target_canonical AS target_max
FROM call_groups g
JOIN device_ids d ON d.raw = g.{column} AND d.kind = '{kind}'
"""


_PARTY_RECORDS: Final = f"""
SELECT identifier, kind, case_id, role, variant, COUNT(*) AS records,
       MIN(seen_utc) AS first_seen, MAX(seen_utc) AS last_seen,
       MIN(target) AS target_min, MAX(target) AS target_max
FROM ({PARTY_BRANCH}) p
GROUP BY identifier, kind, case_id, role, variant
"""

# A (batch, case) link in scope is "dirty" when an earlier run already counted some of the
# batch's records for that case through a referencing batch (``known_ref_cases``): its records
# are then read one by one (``call_groups``); every other link takes the batch's cached rows.
_DIRTY_SCOPE: Final = """
SELECT DISTINCT s.batch_id, s.case_id
FROM case_scope s
JOIN ref_owners o ON o.batch_id = s.batch_id
JOIN known_ref_cases k ON k.record_id = o.record_id AND k.case_id = s.case_id
"""

_CLEAN_SCOPE: Final = """
SELECT s.batch_id, s.case_id
FROM case_scope s
WHERE NOT EXISTS (
    SELECT 1 FROM dirty_scope d WHERE d.batch_id = s.batch_id AND d.case_id = s.case_id
)
"""

_OWNER_SCOPE: Final = "JOIN case_scope s ON t.batch_id = s.batch_id"

# The records read one by one: those of dirty links, and those a case reaches through a
# referencing batch (``ref_cases``). Both are empty unless records arrived twice.
_RECORD_CALL_GROUPS: Final = f"""
SELECT {_GROUP_KEYS}, COUNT(*) AS records,
       MIN(start_utc) AS first_seen, MAX(start_utc) AS last_seen
FROM {CALLS.replace(_OWNER_SCOPE, "JOIN dirty_scope s ON t.batch_id = s.batch_id")} c
GROUP BY {_GROUP_KEYS}
"""

_CACHED_PARTIES: Final = """
SELECT b.identifier, b.kind, s.case_id, b.role, '' AS variant, b.records, b.first_seen,
       b.last_seen, b.target_min, b.target_max
FROM batch_identifiers b
JOIN clean_scope s ON b.batch_id = s.batch_id
WHERE b.role <> 'raw_device'
"""

_CACHED_DEVICES: Final = """
SELECT d.canonical AS identifier, d.kind, s.case_id, 'device' AS role, d.variant, b.records,
       b.first_seen, b.last_seen, b.target_min, b.target_max
FROM batch_identifiers b
JOIN clean_scope s ON b.batch_id = s.batch_id
JOIN device_ids d ON d.raw = b.identifier AND d.kind = b.kind
WHERE b.role = 'raw_device'
"""

_IDENTIFIER_CASES: Final = PRELUDE + _AGGREGATE.format(
    parts="UNION ALL".join(
        [
            _CACHED_PARTIES,
            _CACHED_DEVICES,
            *(_party_part(c, r, u) for c, r, u in _PARTIES),
            _device_part("target_imei", "imei"),
            _device_part("target_imsi", "imsi"),
            _PARTY_RECORDS,
        ]
    )
)

_IDENTIFIER_CASE_PARTS: Final = PRELUDE + _AGGREGATE.format(
    parts="UNION ALL".join(
        [
            _CACHED_DEVICES,
            *(_party_part(c, r, u) for c, r, u in _PARTIES),
            _device_part("target_imei", "imei"),
            _device_part("target_imsi", "imsi"),
            _PARTY_RECORDS,
        ]
    )
)
"""Every row of ``identifier_cases`` but the cached ``target`` / ``contact`` ones."""

_RAW_DEVICES: Final = (
    PRELUDE
    + """
SELECT DISTINCT raw, kind FROM (
    SELECT target_imei AS raw, 'imei' AS kind FROM call_groups
    UNION ALL SELECT target_imsi, 'imsi' FROM call_groups
    UNION ALL SELECT imei, 'imei' FROM party_rows
    UNION ALL SELECT imsi, 'imsi' FROM party_rows
    UNION ALL SELECT identifier, kind FROM batch_identifiers WHERE role = 'raw_device'
) d
WHERE raw IS NOT NULL
"""
)
