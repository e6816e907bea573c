"""The steps of an incremental run before the pair steps: only what the new records change.

An incremental run only adds (record, case) pairs, so an identifier's weight (its case count)
only grows, a hub stays a hub, and only the identifiers of ``delta_identifier_cases`` can
change. With the kept ``prior_identifier_cases`` (un-merged rows: each run appends its delta),
``prior_identifier_weights`` and ``prior_hubs``, these steps cost what the delta costs, not
the corpus:

1. ``changed_identifiers``, ``changed_cases``: the identifiers, and (identifier, case) pairs,
   of the delta;
2. ``prior_changed_cases``: the only kept rows the next steps need, in one scan of the kept
   state: rows of a changed identifier in a case the delta touches (to learn which pairs were
   held before) or of a changed identifier that was not a hub (it may be live: its rows in
   every case). A hub's other rows are never read again: a hub stays a hub while records are
   only added, and ``prior_hubs`` are most of the kept rows;
3. ``known_cases``: the delta's pairs already held before;
4. ``identifier_weights``: for the changed identifiers, the kept weight (the largest of its
   un-merged kept rows: a weight only grows) plus the cases new to them: exactly what a count
   over the whole corpus gives;
5. ``hubs``: the changed identifiers now suppressed (:func:`tls_core.link._pairs.hubs_sql`);
6. ``live_identifiers``: the changed identifiers in two or more cases that are not hubs (only
   they can form pairs; an identifier held by many cases is a hub, so they have few rows);
7. ``identifier_cases``: their kept rows plus their delta rows, merged.

The pair steps then run from ``shared_identifiers`` on (``weights_ready``).
"""

from __future__ import annotations

from typing import Any, Final

from tls_core.link._pairs import changed_cases_sql, changed_identifiers_sql, hubs_sql
from tls_core.link._steps import materialize

__all__ = ["changed_steps_sql", "run_changed_steps"]

_SAME = "{a}.identifier = {b}.identifier AND {a}.kind IS NOT DISTINCT FROM {b}.kind"

_PRIOR_CHANGED_CASES: Final = f"""
SELECT p.* FROM prior_identifier_cases p
WHERE EXISTS (SELECT 1 FROM changed_identifiers c WHERE {_SAME.format(a="c", b="p")})
  AND (
    p.case_id IN (SELECT x.case_id FROM changed_cases x)
    OR NOT EXISTS (SELECT 1 FROM prior_hubs h WHERE {_SAME.format(a="h", b="p")})
  )
"""

_KNOWN_CASES: Final = f"""
SELECT DISTINCT p.identifier, p.kind, p.case_id
FROM prior_changed_cases p
JOIN changed_cases c ON {_SAME.format(a="c", b="p")} AND c.case_id = p.case_id
"""

_IDENTIFIER_WEIGHTS: Final = f"""
SELECT c.identifier, c.kind,
       CAST(COALESCE(w.cases, 0) + COALESCE(n.added, 0) AS BIGINT) AS cases
FROM changed_identifiers c
LEFT JOIN (
    SELECT p.identifier, p.kind, MAX(p.cases) AS cases
    FROM prior_identifier_weights p
    GROUP BY p.identifier, p.kind
) w ON {_SAME.format(a="w", b="c")}
LEFT JOIN (
    SELECT x.identifier, x.kind, COUNT(*) AS added
    FROM changed_cases x
    WHERE NOT EXISTS (
        SELECT 1 FROM known_cases k WHERE {_SAME.format(a="k", b="x")} AND k.case_id = x.case_id
    )
    GROUP BY x.identifier, x.kind
) n ON {_SAME.format(a="n", b="c")}
"""

_LIVE_IDENTIFIERS: Final = f"""
SELECT w.identifier, w.kind
FROM identifier_weights w
WHERE w.cases >= 2
  AND NOT EXISTS (SELECT 1 FROM hubs h WHERE {_SAME.format(a="h", b="w")})
"""

_IDENTIFIER_CASES: Final = f"""
SELECT identifier, kind, case_id, role, variant,
       CAST(SUM(records) AS BIGINT) AS records,
       MIN(first_seen) AS first_seen, MAX(last_seen) AS last_seen,
       MIN(target_min) AS target_min, MAX(target_max) AS target_max
FROM (
    SELECT p.* FROM prior_changed_cases p
    JOIN live_identifiers l ON {_SAME.format(a="l", b="p")}
    UNION ALL
    SELECT d.* FROM delta_identifier_cases d
    JOIN live_identifiers l ON {_SAME.format(a="l", b="d")}
) u
GROUP BY identifier, kind, case_id, role, variant
"""


def changed_steps_sql() -> tuple[tuple[str, str], ...]:
    """The steps, ``(name, SQL)`` in order (``hubs`` takes the threshold as its parameter)."""
    return (
        ("changed_identifiers", changed_identifiers_sql()),
        ("changed_cases", changed_cases_sql()),
        ("prior_changed_cases", _PRIOR_CHANGED_CASES),
        ("known_cases", _KNOWN_CASES),
        ("identifier_weights", _IDENTIFIER_WEIGHTS),
        ("hubs", hubs_sql()),
        ("live_identifiers", _LIVE_IDENTIFIERS),
        ("identifier_cases", _IDENTIFIER_CASES),
    )


def run_changed_steps(con: Any, *, hub_cases: int) -> None:
    """Materialize the steps; the caller registered the delta and the kept tables.

    Raises:
        LinkError: a step failed (names the step and its SQL).
    """
    for name, sql in changed_steps_sql():
        materialize(con, name, sql, [hub_cases] if name == "hubs" else [])
