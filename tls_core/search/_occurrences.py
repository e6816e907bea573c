"""The occurrence step the search index is built from (PROVISIONAL until the linker's lands)."""

from __future__ import annotations

from typing import Final

__all__ = ["OCCURRENCE_STEP", "occurrences_sql"]

OCCURRENCE_STEP: Final = "occurrences"

_PARTY = """
SELECT record_id, batch_id, identifier_kind AS kind, identifier_canonical AS canonical,
       '{role}' AS role, coalesce(updated_utc, created_utc, activated_utc) AS seen_utc,
       CAST(NULL AS VARCHAR) AS target_canonical
FROM {table} WHERE identifier_canonical IS NOT NULL
"""

_CALL = """
SELECT record_id, batch_id, {p}_kind AS kind, {p}_canonical AS canonical,
       CASE WHEN {p}_canonical = target_canonical THEN 'target' ELSE 'contact' END AS role,
       start_utc AS seen_utc, target_canonical
FROM call_records WHERE {p}_canonical IS NOT NULL
"""


def occurrences_sql() -> str:
    """One row per identifier, role, case and record over a snapshot's views."""
    parts = [_CALL.format(p=p) for p in ("orig", "term", "dialed", "target")]
    parts += [_PARTY.format(role="subscriber", table="subscriber_records")]
    parts += [_PARTY.format(role="misc", table="misc_records")]
    rows = "\nUNION ALL\n".join(parts)
    return f"""
SELECT DISTINCT o.kind, o.canonical, o.role, l.case_id, o.record_id, o.seen_utc,
       o.target_canonical
FROM ({rows}) AS o
JOIN (
    SELECT record_id, batch_id FROM record_refs
    UNION ALL
    SELECT record_id, batch_id FROM ({rows}) AS own
) AS holders ON holders.record_id = o.record_id
JOIN case_links AS l ON l.batch_id = holders.batch_id
"""
