from __future__ import annotations

import pyarrow as pa
import pytest

from tls_core.errors import SchemaError
from tls_core.schema import (
    CALL_NATURAL_KEY,
    CALL_RECORDS,
    LINK_ALERTS_VERSION,
    SCHEMA_VERSION,
    SCHEMAS,
    check_table,
    empty_table,
)

CONTENT_WORDS = ("content", "body", "text", "message", "payload", "transcript")


@pytest.mark.parametrize("name", sorted(SCHEMAS))
def test_schemas_are_named_and_versioned(name):
    meta = SCHEMAS[name].metadata
    assert meta[b"tls.schema"].decode() == name
    expected = LINK_ALERTS_VERSION if name == "link_alerts" else SCHEMA_VERSION
    assert meta[b"tls.schema_version"].decode() == expected


@pytest.mark.parametrize("name", sorted(SCHEMAS))
def test_no_column_can_hold_communication_content(name):
    for field in SCHEMAS[name]:
        assert not any(word in field.name for word in CONTENT_WORDS), field.name


def test_call_records_carry_provenance_and_utc_times():
    names = set(CALL_RECORDS.names)
    assert {"source_sha256", "source_row", "layout_name", "layout_version"} <= names
    assert CALL_RECORDS.field("start_utc").type == pa.timestamp("us", tz="UTC")
    for prefix in ("orig", "term", "target"):
        assert {f"{prefix}_raw", f"{prefix}_kind", f"{prefix}_canonical"} <= names
    assert set(CALL_NATURAL_KEY) <= names


def test_check_table_accepts_a_conforming_table_and_reorders_columns():
    table = empty_table(CALL_RECORDS)
    shuffled = table.select(list(reversed(table.column_names)))
    assert check_table(shuffled, CALL_RECORDS).schema == CALL_RECORDS


def test_check_table_names_missing_and_mistyped_columns():
    table = empty_table(CALL_RECORDS)
    with pytest.raises(SchemaError, match="missing \\['record_id'\\]"):
        check_table(table.drop_columns(["record_id"]), CALL_RECORDS, file="x.parquet")
    bad = table.set_column(
        table.schema.get_field_index("duration_s"), "duration_s", pa.array([], pa.string())
    )
    with pytest.raises(SchemaError) as info:
        check_table(bad, CALL_RECORDS)
    assert info.value.column == "duration_s"


def test_check_table_refuses_nulls_in_required_columns():
    nullable = pa.schema([f.with_nullable(True) for f in CALL_RECORDS])
    table = pa.Table.from_pydict({name: [None] for name in CALL_RECORDS.names}, schema=nullable)
    with pytest.raises(SchemaError) as info:
        check_table(table, CALL_RECORDS)
    assert (info.value.reason, info.value.column) == ("schema_null", "record_id")
