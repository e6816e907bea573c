"""Step ``identifier_cases``: occurrences aggregated per identifier, kind, case, role, variant.

The linker never needs single occurrences, only their counts and time ranges, so it does not
build ``occurrences`` at all. One scan groups the call records in scope by everything that
decides their occurrences (``call_groups``: case, target, parties, raw devices; a return
repeats the same few parties, so the groups are few), and the occurrence branches of
:mod:`tls_core.link._occurrences` are then applied to the groups, summing their record counts:
each record falls in exactly one group, and each branch takes an identifier from a record at
most once, so the sums are counts of distinct records. ``device_ids`` is computed from the
groups too (their raw IMEIs and IMSIs). Party records are few and aggregated directly.
"""

from __future__ import annotations

from typing import Any, Final

from tls_core.link._occurrences import (
    CALLS,
    CALLS_NONE_KNOWN,
    PARTY_BRANCH,
    PRELUDE,
    OccurrenceScope,
    prepare_scope,
    register_device_ids,
)
from tls_core.link._steps import materialize, run_sql

__all__ = ["call_groups_sql", "create_identifier_cases", "identifier_cases_sql"]

_GROUP_KEYS: Final = (
    "scope_case, target_canonical, target_kind, orig_canonical, orig_kind, term_canonical, "
    "term_kind, dialed_canonical, dialed_kind, target_imei, target_imsi"
)


def create_identifier_cases(con: Any, name: str, *, scope: OccurrenceScope = "all") -> None:
    """Materialize ``call_groups``, ``device_ids`` and ``name`` (the identifier_cases table).

    Args:
        con: A connection from :meth:`tls_core.store.Snapshot.connect`.
        name: Name of the table to produce (``identifier_cases`` or a delta of it).
        scope: As for :func:`tls_core.link.create_occurrences`.

    Raises:
        LinkError: a step failed (names the step and its SQL).
    """
    prepare_scope(con, scope=scope)
    (known,) = run_sql(con, "case_known", "SELECT COUNT(*) FROM case_known").fetchone()
    materialize(con, "call_groups", call_groups_sql(none_known=known == 0))
    register_device_ids(con, _RAW_DEVICES)
    materialize(con, name, identifier_cases_sql())


def call_groups_sql(*, none_known: bool = False) -> str:
    """SQL of step ``call_groups``: call records in scope grouped by what makes occurrences.

    Args:
        none_known: ``case_known`` is empty (a full run): leave out the filter on
            ``known_ref_cases``, which keeps every row then (see ``CALLS_NONE_KNOWN``).
    """
    calls = CALLS_NONE_KNOWN if none_known else CALLS
    return f"""
SELECT {_GROUP_KEYS}, COUNT(*) AS records,
       MIN(start_utc) AS first_seen, MAX(start_utc) AS last_seen
FROM {calls} c
GROUP BY {_GROUP_KEYS}
"""


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

_IDENTIFIER_CASES: Final = PRELUDE + _AGGREGATE.format(
    parts="UNION ALL".join(
        [
            *(_party_part(c, r, u) for c, r, u in _PARTIES),
            _device_part("target_imei", "imei"),
            _device_part("target_imsi", "imsi"),
            _PARTY_RECORDS,
        ]
    )
)

_RAW_DEVICES: Final = (
    PRELUDE
    + """
SELECT DISTINCT raw, kind FROM (
    SELECT target_imei AS raw, 'imei' AS kind FROM call_groups
    UNION ALL SELECT target_imsi, 'imsi' FROM call_groups
    UNION ALL SELECT imei, 'imei' FROM party_rows
    UNION ALL SELECT imsi, 'imsi' FROM party_rows
) d
WHERE raw IS NOT NULL
"""
)
