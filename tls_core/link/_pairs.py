"""The link steps after ``occurrences``, each a portable SQL string named after its table.

``identifier_cases`` -> ``identifier_weights`` -> ``hubs`` -> ``shared_identifiers`` ->
``case_pair_links`` -> ``alert_evidence`` and ``alerts``. Only standard SQL is used (CTEs,
joins, CASE, aggregates, ``||``); values are bound parameters. ``docs/linking.md`` explains
each step.
"""

from __future__ import annotations

from typing import Any, Final

import pyarrow as pa
import pyarrow.compute as pc

from tls_core.link._steps import fetch_arrow, materialize, register

__all__ = [
    "ROLE_BITS",
    "alert_evidence_sql",
    "alerts_sql",
    "case_pair_links_sql",
    "changed_cases_sql",
    "changed_identifiers_sql",
    "hubs_sql",
    "identifier_weights_sql",
    "kept_rows_sql",
    "merge_identifier_cases_sql",
    "run_pair_steps",
    "shared_identifiers_sql",
]

IDENTIFIER_CASE_COLUMNS: Final[tuple[str, ...]] = (
    "identifier",
    "kind",
    "case_id",
    "role",
    "variant",
    "records",
    "first_seen",
    "last_seen",
    "target_min",
    "target_max",
)
"""Columns of ``identifier_cases``, the state an incremental run keeps between runs."""

ROLE_BITS: Final[tuple[str, ...]] = ("contact", "device", "misc", "subscriber", "target")
"""Roles in sorted order: bit ``i`` of a ``roles_a`` / ``roles_b`` mask of step
``alert_evidence`` stands for ``ROLE_BITS[i]``."""


def run_pair_steps(
    con: Any,
    *,
    hub_cases: int,
    changed_only: bool = False,
    weights_ready: bool = False,
    rows: pa.Table | None = None,
) -> tuple[pa.Table, ...]:
    """Materialize ``identifier_weights`` .. ``alerts`` from ``identifier_cases``.

    The caller has created ``identifier_cases`` and the suppression tables
    ``common_numbers``, ``common_patterns`` and ``common_kinds``. With ``changed_only`` (an
    incremental run), it has also created ``changed_identifiers``, and the steps from
    ``shared_identifiers`` on keep only those identifiers: an evidence item depends only on its
    identifier's rows, so the others' items are those the last run kept. With
    ``weights_ready`` the caller made ``identifier_weights`` and ``hubs`` too
    (:mod:`tls_core.link._changed`, or a full run's
    :func:`tls_core.link._cached_cases.create_identifier_weights`).

    ``rows``: ``identifier_cases`` is these Arrow rows, registered in place. Past ``hubs``,
    the steps read only the rows of identifiers in two or more cases that are not hubs (their
    own conditions drop every other row), so only those are handed over again, as
    ``identifier_cases``: at 50 M records 118 of 1.14 M rows, which the join of
    ``shared_identifiers`` then no longer scans.

    Returns:
        The Arrow tables registered in place, which the caller keeps alive while the
        connection reads them.
    """
    if not weights_ready:
        materialize(con, "identifier_weights", identifier_weights_sql())
        materialize(con, "hubs", hubs_sql(), [hub_cases])
    kept: tuple[pa.Table, ...] = ()
    if rows is not None:
        linked = fetch_arrow(con, "linked_identifiers", _LINKED_IDENTIFIERS).column(0)
        kept = (rows.filter(pc.is_in(rows.column("identifier"), value_set=linked)),)
        register(con, "identifier_cases", kept[0], copy=False)
    materialize(con, "shared_identifiers", shared_identifiers_sql(changed_only=changed_only))
    materialize(con, "case_pair_links", case_pair_links_sql())
    materialize(con, "alert_evidence", alert_evidence_sql())
    materialize(con, "alerts", alerts_sql())
    return kept


# A superset of the identifiers ``shared_identifiers`` keeps (kinds are not told apart).
_LINKED_IDENTIFIERS: Final = """
SELECT DISTINCT w.identifier
FROM identifier_weights w
WHERE w.cases >= 2
  AND NOT EXISTS (SELECT 1 FROM hubs h WHERE h.identifier = w.identifier AND h.kind = w.kind)
"""


def merge_identifier_cases_sql() -> str:
    """Step ``identifier_cases`` of an incremental run that re-folds every alert.

    The kept state plus the new pairs: the new (record, case) pairs are disjoint from those
    already counted, so counts add up.
    """
    return """
SELECT identifier, kind, case_id, role, variant,
       CAST(SUM(records) AS BIGINT) AS records,
       MIN(first_seen) AS first_seen, MAX(last_seen) AS last_seen,
       MIN(target_min) AS target_min, MAX(target_max) AS target_max
FROM (
    SELECT * FROM prior_identifier_cases
    UNION ALL
    SELECT * FROM delta_identifier_cases
) u
GROUP BY identifier, kind, case_id, role, variant
"""


def kept_rows_sql(table: str) -> str:
    """The new state of a kept table: unchanged identifiers' kept rows plus the run's rows.

    ``prior_<table>`` is the kept table, ``<table>`` the run's (changed identifiers only).

    Args:
        table: ``identifier_cases`` or ``hubs`` (a constant, never user input).
    """
    return f"""
SELECT p.* FROM prior_{table} p
WHERE NOT EXISTS (
    SELECT 1 FROM changed_identifiers c
    WHERE c.identifier = p.identifier AND c.kind IS NOT DISTINCT FROM p.kind
)
UNION ALL
SELECT * FROM {table}
"""


def changed_identifiers_sql() -> str:
    """Step ``changed_identifiers``: identifiers whose rows an incremental run changed."""
    return "SELECT DISTINCT identifier, kind FROM delta_identifier_cases"


def changed_cases_sql() -> str:
    """Step ``changed_cases``: (identifier, case) whose rows an incremental run changed."""
    return "SELECT DISTINCT identifier, kind, case_id FROM delta_identifier_cases"


def identifier_weights_sql() -> str:
    """Step ``identifier_weights``: how many cases each identifier touches (the learned weight)."""
    return """
SELECT identifier, kind, COUNT(DISTINCT case_id) AS cases
FROM identifier_cases
GROUP BY identifier, kind
"""


def hubs_sql() -> str:
    """Step ``hubs``: identifiers in two or more cases that are suppressed, and why.

    Bound parameter: the learned threshold (``hub_cases``).
    """
    return """
SELECT w.identifier, w.kind, w.cases,
       CASE WHEN n.reason IS NOT NULL OR p.reason IS NOT NULL THEN 'curated'
            WHEN k.reason IS NOT NULL THEN 'kind'
            ELSE 'learned' END AS reason,
       COALESCE(n.reason, p.reason, k.reason) AS detail
FROM identifier_weights w
LEFT JOIN common_numbers n ON n.identifier = w.identifier AND n.kind = w.kind
LEFT JOIN (
    SELECT q.identifier, q.kind, MIN(c.reason) AS reason
    FROM identifier_weights q
    JOIN common_patterns c ON q.kind = c.kind AND q.identifier LIKE c.pattern
    GROUP BY q.identifier, q.kind
) p ON p.identifier = w.identifier AND p.kind = w.kind
LEFT JOIN common_kinds k ON k.kind = w.kind
WHERE w.cases >= 2
  AND (n.reason IS NOT NULL OR p.reason IS NOT NULL OR k.reason IS NOT NULL OR w.cases >= ?)
"""


def shared_identifiers_sql(*, changed_only: bool = False) -> str:
    """Step ``shared_identifiers``: per identifier, case and role, those that link cases.

    Only identifiers in two or more cases and not suppressed; variants are folded (their
    spellings are graded in ``case_pair_links``). Hubs are removed here, before any pair forms.

    Args:
        changed_only: Keep only the identifiers listed in ``changed_identifiers``.
    """
    restrict = _CHANGED_ONLY if changed_only else ""
    return _SHARED_IDENTIFIERS.format(restrict=restrict) + _SHARED_GROUP


_CHANGED_ONLY: Final = """JOIN changed_identifiers c
  ON c.identifier = ic.identifier AND c.kind = ic.kind
"""

_SHARED_IDENTIFIERS: Final = """
SELECT ic.identifier, ic.kind, ic.case_id, ic.role,
       CAST(SUM(ic.records) AS BIGINT) AS records,
       MIN(ic.first_seen) AS first_seen, MAX(ic.last_seen) AS last_seen,
       MIN(ic.target_min) AS target_min, MAX(ic.target_max) AS target_max
FROM identifier_cases ic
{restrict}JOIN identifier_weights w ON w.identifier = ic.identifier AND w.kind = ic.kind
WHERE w.cases >= 2
  AND NOT EXISTS (
      SELECT 1 FROM hubs h WHERE h.identifier = ic.identifier AND h.kind = ic.kind
  )
"""

_SHARED_GROUP: Final = """GROUP BY ic.identifier, ic.kind, ic.case_id, ic.role
"""


def case_pair_links_sql() -> str:
    """Step ``case_pair_links``: one row per case pair, identifier and role pair, typed, graded.

    ``case_a < case_b``. The link type follows the roles (``docs/linking.md``); the grade is
    ``exact`` unless the identifier is an IMEI that the two cases only ever wrote with
    different check digits or software versions (``imei_tac_snr``).
    """
    return _CASE_PAIR_LINKS


_CASE_PAIR_LINKS: Final = """
WITH pairs AS (
    SELECT a.case_id AS case_a, b.case_id AS case_b, a.identifier, a.kind,
           a.role AS role_a, b.role AS role_b,
           a.records AS records_a, b.records AS records_b,
           a.first_seen AS first_a, a.last_seen AS last_a,
           b.first_seen AS first_b, b.last_seen AS last_b,
           CASE
               WHEN a.role = 'misc' OR b.role = 'misc' THEN 'misc_match'
               WHEN a.role = 'subscriber' OR b.role = 'subscriber' THEN 'subscriber_match'
               WHEN a.role = 'contact' AND b.role = 'contact' THEN 'common_contact'
               WHEN a.role = 'contact' OR b.role = 'contact' THEN 'direct_contact'
               WHEN a.role = 'device' AND b.role = 'device' THEN
                   CASE WHEN a.target_min = a.target_max AND b.target_min = b.target_max
                             AND a.target_min = b.target_min
                        THEN 'common_target' ELSE 'device_continuity' END
               ELSE 'common_target'
           END AS link_type
    FROM shared_identifiers a
    JOIN shared_identifiers b
      ON a.identifier = b.identifier AND a.kind = b.kind AND a.case_id < b.case_id
),
imei_variants AS (
    SELECT DISTINCT ic.identifier, ic.kind, ic.case_id, ic.variant
    FROM identifier_cases ic
    WHERE ic.kind = 'imei'
      AND ic.identifier IN (SELECT identifier FROM shared_identifiers WHERE kind = 'imei')
),
spelled_alike AS (
    SELECT DISTINCT a.case_id AS case_a, b.case_id AS case_b, a.identifier, a.kind
    FROM imei_variants a
    JOIN imei_variants b
      ON a.identifier = b.identifier AND a.case_id < b.case_id
    WHERE a.variant = b.variant OR a.variant = '' OR b.variant = ''
)
SELECT p.case_a, p.case_b, p.identifier, p.kind, p.link_type, p.role_a, p.role_b,
       CASE WHEN p.kind <> 'imei' OR s.identifier IS NOT NULL THEN 'exact'
            ELSE 'imei_tac_snr' END AS grade,
       p.records_a, p.records_b, p.first_a, p.last_a, p.first_b, p.last_b
FROM pairs p
LEFT JOIN spelled_alike s
  ON s.case_a = p.case_a AND s.case_b = p.case_b
 AND s.identifier = p.identifier AND s.kind = p.kind
"""


def alert_evidence_sql() -> str:
    """Step ``alert_evidence``: one row per case pair, identifier and link type (an evidence item).

    Folds the role pairs of ``case_pair_links``: per case, the roles played (a bit mask over
    :data:`ROLE_BITS`), the largest record count and the first and last time seen. The grade
    depends on the case pair and identifier only, so it is the same on every folded row.
    """
    return _ALERT_EVIDENCE


def _role_mask(side: str) -> str:
    return " + ".join(
        f"MAX(CASE WHEN role_{side} = '{role}' THEN {1 << bit} ELSE 0 END)"
        for bit, role in enumerate(ROLE_BITS)
    )


_ALERT_EVIDENCE: Final = f"""
SELECT case_a, case_b, kind, identifier, link_type, MIN(grade) AS grade,
       {_role_mask("a")} AS roles_a,
       {_role_mask("b")} AS roles_b,
       MAX(records_a) AS records_a, MAX(records_b) AS records_b,
       MIN(first_a) AS first_a, MAX(last_a) AS last_a,
       MIN(first_b) AS first_b, MAX(last_b) AS last_b
FROM case_pair_links
GROUP BY case_a, case_b, kind, identifier, link_type
"""


def alerts_sql() -> str:
    """Step ``alerts``: one row per linked case pair, with what the evidence adds up to."""
    return """
SELECT case_a, case_b,
       COUNT(DISTINCT kind || ':' || identifier) AS identifiers,
       COUNT(DISTINCT link_type) AS link_types,
       MIN(first_a) AS first_a, MAX(last_a) AS last_a,
       MIN(first_b) AS first_b, MAX(last_b) AS last_b
FROM case_pair_links
GROUP BY case_a, case_b
"""
