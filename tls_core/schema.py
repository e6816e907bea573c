"""Canonical, versioned Arrow schemas of the TLS record types, rejects and link alerts.

The schemas are constants, never inferred from data. Each carries its name and version in the
schema metadata (``tls.schema``, ``tls.schema_version``) so that a Parquet file says what it holds.
A change that is not backwards compatible bumps :data:`SCHEMA_VERSION`; ``docs/schema.md``
documents every column.

No schema has a column for the content of a communication, and none may get one: the seed
system "does not contain the content of any communications" (PIA section 2.1).
"""

from __future__ import annotations

from typing import Final, Literal, get_args

import pyarrow as pa

from tls_core.errors import SchemaError

__all__ = [
    "CALL_NATURAL_KEY",
    "CALL_RECORDS",
    "DIRECTIONS",
    "EVENT_TYPES",
    "IDENTIFIER_KINDS",
    "LINK_ALERTS",
    "LINK_ALERTS_VERSION",
    "LINK_TYPES",
    "MATCH_GRADES",
    "MISC_RECORDS",
    "REJECTS",
    "SCHEMAS",
    "SCHEMA_VERSION",
    "SUBSCRIBER_RECORDS",
    "TZ_SOURCES",
    "Direction",
    "EventType",
    "IdentifierKind",
    "LinkType",
    "MatchGrade",
    "TzSource",
    "check_table",
    "empty_table",
]

SCHEMA_VERSION: Final = "1"

IdentifierKind = Literal[
    "phone", "service", "imsi", "imei", "esn", "meid", "ufmi", "email", "url", "ip"
]
"""Kinds of device identifier: ``phone`` is E.164; ``service`` is an N11, star or short code."""

EventType = Literal["voice", "sms", "mms", "data", "forwarded", "voicemail"]
"""What a call record describes; null when the carrier does not say."""

Direction = Literal["outgoing", "incoming", "routed", "unknown"]
"""Direction relative to the target device of the legal process."""

TzSource = Literal["carrier_utc", "declared_zone", "data_offset"]
"""Where the UTC start time came from: the carrier's legend says UTC, the user declared the
zone of local times (``--tz``), or each value carried its own UTC offset."""

MatchGrade = Literal["exact", "national_number", "imei_tac_snr", "meid_pesn"]
"""How strongly two identifiers match; see :func:`tls_core.identifiers.match_grade`."""

LinkType = Literal[
    "common_target",
    "direct_contact",
    "common_contact",
    "device_continuity",
    "subscriber_match",
    "misc_match",
]
"""Why two cases are linked; defined in ``docs/linking.md``."""

IDENTIFIER_KINDS: Final[tuple[str, ...]] = get_args(IdentifierKind)
EVENT_TYPES: Final[tuple[str, ...]] = get_args(EventType)
DIRECTIONS: Final[tuple[str, ...]] = get_args(Direction)
TZ_SOURCES: Final[tuple[str, ...]] = get_args(TzSource)
MATCH_GRADES: Final[tuple[str, ...]] = get_args(MatchGrade)
LINK_TYPES: Final[tuple[str, ...]] = get_args(LinkType)

_UTC = pa.timestamp("us", tz="UTC")


def _identifier(prefix: str, *, nullable: bool = True) -> list[pa.Field]:
    return [
        pa.field(f"{prefix}_raw", pa.string(), nullable=nullable),
        pa.field(f"{prefix}_kind", pa.string()),
        pa.field(f"{prefix}_canonical", pa.string()),
    ]


def _provenance() -> list[pa.Field]:
    return [
        pa.field("source_sha256", pa.string(), nullable=False),
        pa.field("source_row", pa.int64(), nullable=False),
        pa.field("layout_name", pa.string(), nullable=False),
        pa.field("layout_version", pa.string(), nullable=False),
    ]


def _schema(name: str, fields: list[pa.Field]) -> pa.Schema:
    return pa.schema(fields, metadata={"tls.schema": name, "tls.schema_version": SCHEMA_VERSION})


CALL_RECORDS: Final = _schema(
    "call_records",
    [
        pa.field("record_id", pa.string(), nullable=False),
        *_identifier("orig"),
        *_identifier("term"),
        *_identifier("dialed"),
        *_identifier("target"),
        pa.field("start_utc", _UTC),
        pa.field("start_raw", pa.string()),
        pa.field("tz_source", pa.string()),
        pa.field("tz_name", pa.string()),
        pa.field("duration_s", pa.int64()),
        pa.field("event_type", pa.string()),
        pa.field("direction", pa.string()),
        pa.field("leg", pa.int32()),
        pa.field("call_group", pa.string()),
        pa.field("target_imei", pa.string()),
        pa.field("target_imsi", pa.string()),
        pa.field("first_cell", pa.string()),
        pa.field("first_sector", pa.string()),
        pa.field("first_lat", pa.float64()),
        pa.field("first_lon", pa.float64()),
        pa.field("last_cell", pa.string()),
        pa.field("last_sector", pa.string()),
        pa.field("last_lat", pa.float64()),
        pa.field("last_lon", pa.float64()),
        *_provenance(),
    ],
)
"""One row per call, message or data event (per leg where the carrier reports legs)."""

CALL_NATURAL_KEY: Final[tuple[str, ...]] = (
    "orig_canonical",
    "term_canonical",
    "dialed_canonical",
    "target_canonical",
    "start_utc",
    "duration_s",
    "event_type",
    "direction",
    "leg",
    "call_group",
)
"""Columns whose values identify a call record whatever the file's formatting.

``record_id`` is the 32 hex digits of the MurmurHash3 x64 128 (seed 0; ``h1`` then ``h2``,
little-endian, as ``mmh3.hash_bytes``) of these values as UTF-8 text joined by U+001F (null as
U+0000, ``start_utc`` as integer microseconds since the epoch). A re-export of the same return
with other formatting yields the same ids, and distinct legs of one call keep distinct ids.
The id names a record; it is not an integrity proof (``source_sha256`` is): a fast,
non-cryptographic 128-bit hash lets the readers hash millions of rows per second.
"""


def _party_record_fields() -> list[pa.Field]:
    return [
        pa.field("record_id", pa.string(), nullable=False),
        *_identifier("identifier", nullable=False),
        pa.field("subscriber_name", pa.string()),
        pa.field("aliases", pa.list_(pa.string())),
        pa.field("address", pa.string()),
        pa.field("birth_date", pa.date32()),
        pa.field("account_id", pa.string()),
        pa.field("service_type", pa.string()),
        pa.field("imei", pa.string()),
        pa.field("imsi", pa.string()),
        pa.field("activated_utc", _UTC),
        pa.field("deactivated_utc", _UTC),
        pa.field("legal_process_ref", pa.string()),
        pa.field("relationship", pa.string()),
        pa.field("source_description", pa.string()),
        pa.field("created_utc", _UTC),
        pa.field("updated_utc", _UTC),
        *_provenance(),
    ]


SUBSCRIBER_RECORDS: Final = _schema("subscriber_records", _party_record_fields())
"""Who is behind an identifier, from an identified and authoritative source (a provider's
subscriber return, a registered informant). Time-bound: numbers are reassigned."""

MISC_RECORDS: Final = _schema("misc_records", _party_record_fields())
"""The same fields as subscriber records from a source unknown or unverified (a seized phone
book). Kept in their own table so the link type says which kind of evidence matched."""

REJECTS: Final = _schema(
    "rejects",
    [
        pa.field("source_path", pa.string(), nullable=False),
        pa.field("source_sha256", pa.string(), nullable=False),
        pa.field("source_row", pa.int64(), nullable=False),
        pa.field("column", pa.string()),
        pa.field("reason", pa.string(), nullable=False),
        pa.field("detail", pa.string()),
        pa.field("raw_line", pa.string()),
        pa.field("layout_name", pa.string()),
        pa.field("layout_version", pa.string()),
    ],
)
"""Rows that could not become records: every input line is either a record or a reject."""

LINK_ALERTS_VERSION: Final = "2"
"""Version of :data:`LINK_ALERTS` (v1 was one row per identifier link, without evidence)."""

LINK_ALERTS: Final = pa.schema(
    [
        pa.field("alert_id", pa.string(), nullable=False),
        pa.field("case_a", pa.string(), nullable=False),
        pa.field("case_b", pa.string(), nullable=False),
        pa.field("link_types", pa.list_(pa.string()), nullable=False),
        pa.field("strength", pa.float64(), nullable=False),
        pa.field("identifier_kind", pa.string(), nullable=False),
        pa.field("identifier_canonical", pa.string(), nullable=False),
        pa.field("link_type", pa.string(), nullable=False),
        pa.field("match_grade", pa.string(), nullable=False),
        pa.field("evidence_strength", pa.float64(), nullable=False),
        pa.field("roles_a", pa.list_(pa.string()), nullable=False),
        pa.field("roles_b", pa.list_(pa.string()), nullable=False),
        pa.field("records_a", pa.int64(), nullable=False),
        pa.field("records_b", pa.int64(), nullable=False),
        pa.field("first_seen_a", _UTC),
        pa.field("last_seen_a", _UTC),
        pa.field("first_seen_b", _UTC),
        pa.field("last_seen_b", _UTC),
        pa.field("overlap_days", pa.float64()),
        pa.field("snapshot_version", pa.int64(), nullable=False),
        pa.field("created_utc", _UTC, nullable=False),
    ],
    metadata={"tls.schema": "link_alerts", "tls.schema_version": LINK_ALERTS_VERSION},
)
"""One row per evidence item of an alert: an alert (one per linked case pair) is the rows
sharing its ``alert_id``; ``link_types`` and ``strength`` repeat the alert's values."""

SCHEMAS: Final[dict[str, pa.Schema]] = {
    s.metadata[b"tls.schema"].decode(): s
    for s in (CALL_RECORDS, SUBSCRIBER_RECORDS, MISC_RECORDS, REJECTS, LINK_ALERTS)
}


def empty_table(schema: pa.Schema) -> pa.Table:
    """Return an empty table of ``schema`` (with its metadata)."""
    return schema.empty_table()


def check_table(table: pa.Table, schema: pa.Schema, *, file: str | None = None) -> pa.Table:
    """Check that ``table`` has exactly the columns and types of ``schema``.

    Columns must appear in schema order with identical types; non-nullable columns must hold no
    nulls. The table is returned with the schema's metadata attached.

    Raises:
        SchemaError: naming the first missing, extra or mistyped column.
    """
    name = schema.metadata[b"tls.schema"].decode()
    have, want = table.column_names, schema.names  # each a new list per access: once
    have_set, want_set = set(have), set(want)
    missing = [c for c in want if c not in have_set]
    extra = [c for c in have if c not in want_set]
    if missing or extra:
        raise SchemaError(
            f"table does not match the {name} schema v{SCHEMA_VERSION}: "
            f"missing {missing}, unexpected {extra}",
            file=file,
            reason="schema_mismatch",
        )
    if have != want:
        table = table.select(want)
    columns = table.columns
    for field, actual_field, column in zip(schema, table.schema, columns, strict=True):
        actual = actual_field.type
        if actual != field.type:
            raise SchemaError(
                f"column has type {actual}, the {name} schema says {field.type}",
                file=file,
                column=field.name,
                reason="schema_type",
            )
        if not field.nullable and column.null_count:
            raise SchemaError(
                f"column holds nulls but the {name} schema forbids them",
                file=file,
                column=field.name,
                reason="schema_null",
            )
    return pa.Table.from_arrays(columns, schema=schema)
