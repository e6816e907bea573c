"""The first link step, ``occurrences``: one row per identifier, role, case and record.

Over a snapshot's DuckDB views (``call_records``, ``subscriber_records``, ``misc_records``,
``record_refs``, ``case_links``) these steps run in order:

1. ``case_scope`` / ``case_known``: the batch-case links to process now and those processed
   by an earlier run (a full run: every current link, and none).
2. ``ref_owners``, ``known_ref_cases``, ``ref_cases``: a record is stored once, in the batch
   that first brought it (its owner); a later batch holding it gets a ``record_refs`` row. A
   record belongs to every case linked to its owner or to any referencing batch; these steps
   find the (record, case) pairs that come through references and that no known link or
   owner already produced, so each (record, case) pair is produced exactly once.
3. ``device_ids`` (the one step that is not SQL): the raw ``target_imei`` / ``target_imsi`` of
   call records and ``imei`` / ``imsi`` of subscriber and misc records are canonicalized with
   :func:`tls_core.identifiers.normalize` on their DISTINCT values in Python and registered as
   a small mapping table ``(raw, kind, canonical, variant)``. ``variant`` keeps the IMEI check
   digit and software version as written, so that two spellings of one handset grade
   ``imei_tac_snr`` rather than ``exact``.
4. ``occurrences``: the portable SQL of :func:`occurrences_sql`.

Roles: ``target`` (the call record's target), ``contact`` (originating, terminating and dialed
parties that are not the target), ``device`` (the target's IMEI and IMSI), ``subscriber`` and
``misc`` (the identifier, IMEI and IMSI of subscriber and misc records). Rejected identifiers
(null canonical) are left out; service codes are kept (they are suppressed later, as hubs).

The search helper builds its occurrence index from :func:`create_occurrences` (scope ``all``).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Final, Literal

import pyarrow as pa
import pyarrow.compute as pc

from tls_core.link._steps import fetch_arrow, materialize, register

__all__ = [
    "CALLS",
    "OCCURRENCE_COLUMNS",
    "PARTY_BRANCH",
    "PRELUDE",
    "ROLES",
    "OccurrenceScope",
    "Role",
    "create_occurrences",
    "device_ids_table",
    "occurrences_sql",
    "prepare_scope",
    "register_device_ids",
]

Role = Literal["target", "contact", "device", "subscriber", "misc"]
"""The part an identifier plays in a record (see the module docstring)."""

ROLES: Final[tuple[Role, ...]] = ("target", "contact", "device", "subscriber", "misc")

OCCURRENCE_COLUMNS: Final[tuple[str, ...]] = (
    "identifier",
    "kind",
    "role",
    "case_id",
    "record_id",
    "record_type",
    "seen_utc",
    "target",
    "variant",
)
"""Columns of the ``occurrences`` table: canonical identifier, its kind, the role, the case,
the record (``record_type`` ``call``, ``subscriber`` or ``misc``), when it was seen (call start
or subscriber activation, UTC), the call record's target canonical (null for party records)
and the IMEI ``variant`` (check digit and software version as written; ``''`` otherwise)."""

OccurrenceScope = Literal["all", "delta"]
"""``all``: every current (record, case) pair; ``delta``: only the pairs that the batch-case
links of table ``case_scope`` add to those of table ``case_known`` (both provided by the
caller, as ``(batch_id, case_id)``)."""


def create_occurrences(con: Any, *, scope: OccurrenceScope = "all", as_view: bool = False) -> None:
    """Materialize the ``occurrences`` table (and the steps before it) on a connection.

    Each (identifier, kind, role, case, record) appears once.

    Args:
        con: A connection from :meth:`tls_core.store.Snapshot.connect`.
        scope: ``all`` for every record; ``delta`` for the new (record, case) pairs only,
            the caller having created ``case_scope`` and ``case_known``.
        as_view: Create ``occurrences`` as a view (the linker aggregates it at once, so
            it is never stored whole) instead of a table.

    Raises:
        LinkError: a step failed (names the step and its SQL).

    Examples:
        >>> import tempfile
        >>> from tls_core.store import Repository
        >>> con = Repository.open(tempfile.mkdtemp()).snapshot().connect()
        >>> create_occurrences(con)
        >>> con.execute("SELECT count(*) FROM occurrences").fetchone()
        (0,)
    """
    prepare_scope(con, scope=scope)
    register_device_ids(con, _RAW_DEVICES)
    materialize(con, "occurrences", occurrences_sql(), view=as_view)


def prepare_scope(con: Any, *, scope: OccurrenceScope = "all") -> None:
    """Materialize ``case_scope`` and ``case_known`` (scope ``all``) and the reference steps."""
    if scope == "all":
        materialize(con, "case_scope", "SELECT batch_id, case_id FROM case_links")
        materialize(con, "case_known", "SELECT batch_id, case_id FROM case_links WHERE 1 = 0")
    materialize(con, "ref_owners", _REF_OWNERS)
    materialize(con, "known_ref_cases", _KNOWN_REF_CASES)
    materialize(con, "ref_cases", _REF_CASES)


def register_device_ids(con: Any, raw_sql: str) -> None:
    """Step ``device_ids``: canonicalize the distinct raw device ids ``raw_sql`` selects."""
    register(con, "device_ids", device_ids_table(_raw_devices(con, raw_sql)))


def occurrences_sql() -> str:
    """SQL of step ``occurrences`` (reads ``case_scope``, ``ref_cases``, ``device_ids`` ...)."""
    return _OCCURRENCES


def device_ids_table(raw: Iterable[tuple[str, str]]) -> pa.Table:
    """Canonicalize distinct raw device ids: ``(raw, kind)`` pairs -> the ``device_ids`` table.

    ``kind`` is ``imei`` or ``imsi`` (the column the value came from). Values that normalize to
    nothing (empty, rejected) are left out.

    >>> device_ids_table([("490154203237510", "imei"), ("junk", "imsi")]).to_pylist()
    [{'raw': '490154203237510', 'kind': 'imei', 'canonical': '490154203237518', 'variant': '0'}]
    """
    columns: dict[str, list[str]] = {"raw": [], "kind": [], "canonical": [], "variant": []}
    by_kind: dict[str, list[str]] = {}
    for value, kind in raw:
        by_kind.setdefault(kind, []).append(value)
    for kind in sorted(by_kind):
        values = sorted(set(by_kind[kind]))
        canon = _canonical(values, kind)
        for value, canonical in zip(values, canon, strict=True):
            if canonical is None:
                continue
            columns["raw"].append(value)
            columns["kind"].append(kind)
            columns["canonical"].append(canonical)
            columns["variant"].append(_variant(value) if kind == "imei" else "")
    return pa.table(columns, schema=_DEVICE_IDS)


_DEVICE_IDS: Final = pa.schema(
    [
        ("raw", pa.string()),
        ("kind", pa.string()),
        ("canonical", pa.string()),
        ("variant", pa.string()),
    ]
)


_SMALL: Final = 2000
"""Below this many distinct values the per-value reference is faster than loading the kernels
(``normalize`` and ``normalize_value`` agree: tested in ``tests/tls_core/identifiers``)."""


def _canonical(values: list[str], kind: str) -> list[str | None]:
    from tls_core.identifiers import normalize, normalize_value

    if len(values) < _SMALL:
        return [normalize_value(v, kind)[1] for v in values]  # type: ignore[arg-type]
    result = normalize(values, kind)  # type: ignore[arg-type]
    canon: list[str | None] = pc.cast(result.column("canonical"), pa.string()).to_pylist()
    return canon


def _variant(raw: str) -> str:
    # Same rule as tls_core.identifiers.match_grade: digits after TAC+SNR as written.
    return "".join(c for c in raw if c.isdigit())[14:]


def _raw_devices(con: Any, raw_sql: str) -> list[tuple[str, str]]:
    table = fetch_arrow(con, "device_ids", raw_sql)
    return list(zip(table.column("raw").to_pylist(), table.column("kind").to_pylist(), strict=True))


# The store keeps each record once, in the batch that first brought it (its owner, the
# ``batch_id`` column of the record tables); a later batch holding the same record gets a
# ``record_refs`` row instead. A record belongs to the cases of its owner and of every
# referencing batch. ``case_scope`` holds the batch-case links to process now and
# ``case_known`` those processed before (empty for a full run): a (record, case) pair already
# produced through a known link, or through the owner, is not produced again.
_REF_OWNERS: Final = """
SELECT o.record_id, o.batch_id
FROM (
    SELECT record_id, batch_id FROM call_records
    UNION ALL SELECT record_id, batch_id FROM subscriber_records
    UNION ALL SELECT record_id, batch_id FROM misc_records
) o
WHERE o.record_id IN (SELECT record_id FROM record_refs)
"""

_KNOWN_REF_CASES: Final = """
SELECT DISTINCT r.record_id, k.case_id
FROM record_refs r
JOIN case_known k ON r.batch_id = k.batch_id
"""

_REF_CASES: Final = """
SELECT DISTINCT r.record_id, s.case_id
FROM record_refs r
JOIN case_scope s ON r.batch_id = s.batch_id
WHERE NOT EXISTS (
    SELECT 1 FROM ref_owners o
    JOIN (SELECT batch_id, case_id FROM case_known
          UNION ALL SELECT batch_id, case_id FROM case_scope) a ON o.batch_id = a.batch_id
    WHERE o.record_id = r.record_id AND a.case_id = s.case_id
)
AND NOT EXISTS (
    SELECT 1 FROM known_ref_cases x
    WHERE x.record_id = r.record_id AND x.case_id = s.case_id
)
"""

# The (record, case) pairs in scope, for one record table (its name is a constant).
_SCOPED: Final = """
SELECT t.*, s.case_id AS scope_case
FROM {table} t
JOIN case_scope s ON t.batch_id = s.batch_id
WHERE NOT EXISTS (
    SELECT 1 FROM known_ref_cases x WHERE x.record_id = t.record_id AND x.case_id = s.case_id
)
UNION ALL
SELECT t.*, x.case_id AS scope_case
FROM {table} t
JOIN ref_cases x ON t.record_id = x.record_id
"""

# Distinct raw device ids of the records in scope (normalized in Python, then joined back).
_RAW_DEVICES: Final = """
WITH calls AS ({calls}),
subs AS ({subs}),
miscs AS ({miscs})
SELECT DISTINCT raw, kind FROM (
    SELECT target_imei AS raw, 'imei' AS kind FROM calls
    UNION ALL SELECT target_imsi, 'imsi' FROM calls
    UNION ALL SELECT imei, 'imei' FROM subs
    UNION ALL SELECT imsi, 'imsi' FROM subs
    UNION ALL SELECT imei, 'imei' FROM miscs
    UNION ALL SELECT imsi, 'imsi' FROM miscs
) d
WHERE raw IS NOT NULL
""".format(
    calls=_SCOPED.format(table="call_records"),
    subs=_SCOPED.format(table="subscriber_records"),
    miscs=_SCOPED.format(table="misc_records"),
)

# Each role column is one SELECT branch (portable: no UNPIVOT), glued with UNION ALL. A contact
# repeating an earlier party of the same record is skipped, and so is a party equal to the
# target: each (identifier, kind, role, case, record) appears once.
PRELUDE: Final = """
WITH subs AS ({subs}),
miscs AS ({miscs}),
party_rows AS (
    SELECT p.record_id, p.identifier_canonical, p.identifier_kind, p.imei, p.imsi,
           p.activated_utc, 'subscriber' AS role, 'subscriber' AS record_type,
           p.scope_case AS case_id
    FROM subs p
    UNION ALL
    SELECT p.record_id, p.identifier_canonical, p.identifier_kind, p.imei, p.imsi,
           p.activated_utc, 'misc' AS role, 'misc' AS record_type, p.scope_case AS case_id
    FROM miscs p
)
""".format(
    subs=_SCOPED.format(table="subscriber_records"),
    miscs=_SCOPED.format(table="misc_records"),
)

# Call records are inlined in each branch rather than named once in a CTE: an engine may
# materialize a CTE used six times (DuckDB does), which costs more than six column scans.
CALLS: Final = "(" + _SCOPED.format(table="call_records") + ")"


_CALL_BRANCHES: Final[tuple[str, ...]] = (
    """
SELECT c.target_canonical AS identifier, c.target_kind AS kind, 'target' AS role,
       c.scope_case AS case_id, c.record_id, 'call' AS record_type, c.start_utc AS seen_utc,
       c.target_canonical AS target, '' AS variant
FROM calls c
WHERE c.target_canonical IS NOT NULL
""",
    """
SELECT c.orig_canonical AS identifier, c.orig_kind AS kind, 'contact' AS role,
       c.scope_case AS case_id, c.record_id, 'call' AS record_type, c.start_utc AS seen_utc,
       c.target_canonical AS target, '' AS variant
FROM calls c
WHERE c.orig_canonical IS NOT NULL
  AND (c.target_canonical IS NULL OR c.orig_canonical <> c.target_canonical)
""",
    """
SELECT c.term_canonical AS identifier, c.term_kind AS kind, 'contact' AS role,
       c.scope_case AS case_id, c.record_id, 'call' AS record_type, c.start_utc AS seen_utc,
       c.target_canonical AS target, '' AS variant
FROM calls c
WHERE c.term_canonical IS NOT NULL
  AND (c.target_canonical IS NULL OR c.term_canonical <> c.target_canonical)
  AND (c.orig_canonical IS NULL OR c.term_canonical <> c.orig_canonical)
""",
    """
SELECT c.dialed_canonical AS identifier, c.dialed_kind AS kind, 'contact' AS role,
       c.scope_case AS case_id, c.record_id, 'call' AS record_type, c.start_utc AS seen_utc,
       c.target_canonical AS target, '' AS variant
FROM calls c
WHERE c.dialed_canonical IS NOT NULL
  AND (c.target_canonical IS NULL OR c.dialed_canonical <> c.target_canonical)
  AND (c.orig_canonical IS NULL OR c.dialed_canonical <> c.orig_canonical)
  AND (c.term_canonical IS NULL OR c.dialed_canonical <> c.term_canonical)
""",
    """
SELECT d.canonical AS identifier, d.kind, 'device' AS role, c.scope_case AS case_id,
       c.record_id, 'call' AS record_type, c.start_utc AS seen_utc,
       c.target_canonical AS target, d.variant
FROM calls c
JOIN device_ids d ON d.raw = c.target_imei AND d.kind = 'imei'
""",
    """
SELECT d.canonical AS identifier, d.kind, 'device' AS role, c.scope_case AS case_id,
       c.record_id, 'call' AS record_type, c.start_utc AS seen_utc,
       c.target_canonical AS target, d.variant
FROM calls c
JOIN device_ids d ON d.raw = c.target_imsi AND d.kind = 'imsi'
""",
)

# A party record may name one identifier twice (its identifier and its IMEI column): once.
PARTY_BRANCH: Final = """
SELECT identifier, kind, role, case_id, record_id, MIN(record_type) AS record_type,
       MIN(seen_utc) AS seen_utc, CAST(NULL AS VARCHAR) AS target, MIN(variant) AS variant
FROM (
    SELECT p.identifier_canonical AS identifier, p.identifier_kind AS kind, p.role, p.case_id,
           p.record_id, p.record_type, p.activated_utc AS seen_utc, '' AS variant
    FROM party_rows p
    WHERE p.identifier_canonical IS NOT NULL
    UNION ALL
    SELECT d.canonical, d.kind, p.role, p.case_id, p.record_id, p.record_type,
           p.activated_utc, d.variant
    FROM party_rows p
    JOIN device_ids d ON d.raw = p.imei AND d.kind = 'imei'
    UNION ALL
    SELECT d.canonical, d.kind, p.role, p.case_id, p.record_id, p.record_type,
           p.activated_utc, d.variant
    FROM party_rows p
    JOIN device_ids d ON d.raw = p.imsi AND d.kind = 'imsi'
) party_ids
GROUP BY identifier, kind, role, case_id, record_id
"""

_BRANCHES: Final[tuple[str, ...]] = (
    *(b.replace("FROM calls c", f"FROM {CALLS} c") for b in _CALL_BRANCHES),
    PARTY_BRANCH,
)

_OCCURRENCES: Final = PRELUDE + "UNION ALL".join(_BRANCHES)
