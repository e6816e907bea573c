"""Commit, idempotency, natural-key dedup, streaming, case association, snapshots."""

from __future__ import annotations

import subprocess
import sys

import pyarrow as pa
import pytest
import storekit as k
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import tls_core.store
from tls_core.errors import ConfigError, SchemaError, StoreError
from tls_core.store import Repository


def test_exports():
    assert sorted(tls_core.store.__all__) == sorted(
        [
            "CaseFacts",
            "CommitReport",
            "CommitStep",
            "DataFile",
            "GcReport",
            "IngestPhase",
            "IngestProgress",
            "IngestReport",
            "IntoCaseFacts",
            "IntoPaths",
            "IntoRecords",
            "LinkReport",
            "ProgressCallback",
            "PurgeReport",
            "PurgeStep",
            "RecordType",
            "Repository",
            "Snapshot",
            "StepHook",
            "TableName",
            "VerifyReport",
            "retention_end",
        ]
    )
    for name in tls_core.store.__all__:
        assert hasattr(tls_core.store, name)


def test_import_is_cheap():
    code = (
        "import sys, tls_core.store;"
        "print([m for m in ('duckdb', 'deltalake', 'pyarrow.parquet') if m in sys.modules])"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_commit_then_read(repo):
    report = k.commit(repo, "a.csv", 30)
    assert (report.loaded, report.duplicates, report.rejected, report.noop) == (30, 0, 2, False)
    snap = repo.snapshot()
    assert snap.version == report.version
    assert snap.batch_ids == {report.batch_id}
    assert snap.row_count("call_records") == 30
    con = snap.connect()
    rows = con.execute(
        "SELECT count(*), min(batch_id) FROM call_records WHERE source_sha256 = ?",
        [k.sha_of("a.csv")],
    ).fetchone()
    assert rows == (30, report.batch_id)
    assert con.execute("SELECT case_id FROM case_links").fetchall() == [("C1",)]
    stored = snap.read("call_records").drop_columns(["batch_id"])
    assert stored.to_pylist() == k.calls("a.csv", 30).to_pylist()
    via_duckdb = con.sql("SELECT * EXCLUDE (batch_id) FROM call_records ORDER BY source_row")
    assert via_duckdb.to_arrow_table().to_pylist() == stored.to_pylist()


def test_record_files_keep_statistics_where_queries_filter(repo):
    import pyarrow.parquet as pq

    k.commit(repo, "a.csv", 30)
    (path,) = repo.snapshot().paths("call_records")
    meta = pq.ParquetFile(path).metadata
    group = meta.row_group(0)
    columns = {group.column(i).path_in_schema: group.column(i) for i in range(group.num_columns)}
    for name in ("orig_canonical", "term_canonical", "start_utc", "batch_id", "duration_s"):
        assert columns[name].is_stats_set, name
    for name in ("record_id", "orig_raw", "source_sha256", "layout_name"):
        assert not columns[name].is_stats_set, name
    assert "RLE_DICTIONARY" in columns["orig_canonical"].encodings
    assert "RLE_DICTIONARY" not in columns["orig_raw"].encodings
    for name in ("start_utc", "source_row", "duration_s"):
        assert "DELTA_BINARY_PACKED" in columns[name].encodings, name
    assert "DELTA_LENGTH_BYTE_ARRAY" in columns["record_id"].encodings
    assert repo.snapshot().read("call_records").num_rows == 30
    con = repo.snapshot().connect()  # DuckDB reads the v2 encodings as pyarrow does
    sql = (
        "SELECT record_id, start_utc, source_row, duration_s FROM call_records ORDER BY source_row"
    )
    via_duckdb = con.sql(sql).to_arrow_table()
    stored = repo.snapshot().read("call_records").select(via_duckdb.column_names)
    assert via_duckdb.to_pylist() == stored.sort_by("source_row").to_pylist()


def test_same_file_same_case_is_a_noop(repo):
    first = k.commit(repo, "a.csv", 10)
    again = k.commit(repo, "a.csv", 10)
    assert again.noop
    assert again.batch_id == first.batch_id
    assert again.loaded == 0
    assert again.version == first.version
    assert k.count(repo) == 10


def test_same_file_other_case_adds_the_association(repo):
    first = k.commit(repo, "a.csv", 10)
    other = k.commit(repo, "a.csv", 10, case="C2")
    assert not other.noop
    assert other.linked_cases == ("C2",)
    assert other.batch_id == first.batch_id
    assert k.count(repo) == 10
    con = repo.snapshot().connect()
    assert con.execute("SELECT case_id FROM case_links ORDER BY 1").fetchall() == [("C1",), ("C2",)]


def test_unlink(repo):
    first = k.commit(repo, "a.csv", 10)
    k.commit(repo, "a.csv", 10, case="C2")
    assert repo.unlink(first.batch_id, "C1", actor="t").changed
    assert not repo.unlink(first.batch_id, "C1", actor="t").changed
    con = repo.snapshot().connect()
    assert con.execute("SELECT case_id FROM case_links").fetchall() == [("C2",)]
    relinked = k.commit(repo, "a.csv", 10)
    assert relinked.linked_cases == ("C1",)
    with pytest.raises(ConfigError):
        repo.unlink("0" * 32, "C1", actor="t")


def test_natural_key_dedup_across_files(repo):
    k.commit(repo, "a.csv", 10)
    # A re-export with other formatting: another file (SHA-256), the same records.
    reexport = k.calls("a.csv", 10).set_column(
        k.calls("a.csv", 10).schema.get_field_index("source_sha256"),
        "source_sha256",
        pa.array([k.sha_of("a2.csv")] * 10),
    )
    report = repo.commit_batch(
        reexport,
        source_sha256=k.sha_of("a2.csv"),
        source_name="a2.csv",
        case_ids=["C2"],
        actor="t",
    )
    assert (report.loaded, report.duplicates) == (0, 10)
    assert k.count(repo) == 10
    assert k.count(repo, "record_refs") == 10


def test_duplicates_within_a_batch_and_legs(repo):
    table = k.calls("a.csv", 5)
    legs = table.set_column(
        table.schema.get_field_index("leg"), "leg", pa.array([1] * 5, pa.int32())
    )
    ids = [k.record_id(r) for r in legs.to_pylist()]
    legs = legs.set_column(0, "record_id", pa.array(ids)).cast(table.schema)
    data = pa.concat_tables([table, table, legs])
    report = repo.commit_batch(
        data, source_sha256=k.sha_of("a.csv"), source_name="a.csv", case_ids=["C1"], actor="t"
    )
    assert (report.received, report.loaded, report.duplicates) == (15, 10, 5)


def test_streaming_input(repo):
    table = k.calls("big.csv", 3000)
    report = repo.commit_batch(
        iter(table.to_batches(max_chunksize=128)),
        source_sha256=k.sha_of("big.csv"),
        source_name="big.csv",
        case_ids=["C1"],
        actor="t",
    )
    assert report.loaded == 3000
    assert k.count(repo) == 3000


def test_subscriber_records(repo):
    report = repo.commit_batch(
        k.subscribers("subs.csv", 4),
        source_sha256=k.sha_of("subs.csv"),
        source_name="subs.csv",
        case_ids=["C1", "C2"],
        record_type="subscriber",
        actor="t",
    )
    assert report.loaded == 4
    assert k.count(repo, "subscriber_records") == 4


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"source_sha256": "../etc"}, ConfigError),
        ({"case_ids": []}, ConfigError),
        ({"case_ids": ["../x"]}, ConfigError),
        ({"case_ids": ["C 1"]}, ConfigError),
        ({"record_type": "content"}, ConfigError),
        ({"actor": ""}, ConfigError),
        ({"source_sha256": k.sha_of("other")}, SchemaError),
    ],
)
def test_bad_arguments_are_refused(repo, kwargs, error):
    args = {
        "source_sha256": k.sha_of("a.csv"),
        "source_name": "a.csv",
        "case_ids": ["C1"],
        "record_type": "call",
        "actor": "t",
    }
    args.update(kwargs)
    with pytest.raises(error):
        repo.commit_batch(k.calls("a.csv", 3), **args)
    assert repo.snapshot().batch_ids == frozenset()


def test_schema_mismatch_is_refused(repo):
    bad = k.calls("a.csv", 3).drop_columns(["leg"])
    with pytest.raises(SchemaError):
        repo.commit_batch(
            bad, source_sha256=k.sha_of("a.csv"), source_name="a", case_ids=["C"], actor="t"
        )


def test_open_without_create(tmp_path):
    with pytest.raises(StoreError):
        Repository.open(tmp_path / "nothing", create=False)


def test_a_non_empty_directory_is_not_turned_into_a_repository(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(StoreError, match="non-empty"):
        Repository.open(tmp_path)
    assert not (tmp_path / "_tls").exists()


def test_connection_is_locked_down(repo, tmp_path):
    k.commit(repo, "a.csv", 3)
    secret = tmp_path / "secret.csv"
    secret.write_text("a,b\n1,2\n")
    con = repo.snapshot().connect()
    with pytest.raises(Exception, match="disabled by configuration"):
        con.execute("SELECT * FROM read_csv(?)", [str(secret)]).fetchall()
    with pytest.raises(Exception, match="locked"):
        con.execute("SET enable_external_access = true")


@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(st.tuples(st.integers(0, 4), st.integers(1, 8)), min_size=1, max_size=5))
def test_stored_records_are_the_distinct_union(tmp_path_factory, commits):
    # Each commit is (file number, rows); files overlap on their first records.
    repo = Repository.open(tmp_path_factory.mktemp("h") / "repo")
    seen = set()
    for number, rows in commits:
        source = f"f{number}-{rows}.csv"
        table = k.calls(source, rows, first=0)
        repo.commit_batch(
            table, source_sha256=k.sha_of(source), source_name=source, case_ids=["C"], actor="t"
        )
        seen |= set(table.column("record_id").to_pylist())
    assert k.count(repo) == len(seen)
    assert repo.verify().ok


def test_registry_is_compacted(repo):
    from tls_core.store._gc import REGISTRY_COMPACT_AT

    for i in range(REGISTRY_COMPACT_AT + 2):
        k.commit(repo, "a.csv", 2, case=f"C{i}")  # one link operation each
    snap = repo.snapshot()
    assert len(snap.files["registry"]) < REGISTRY_COMPACT_AT
    assert len(snap.registry) == REGISTRY_COMPACT_AT + 2
    con = snap.connect()
    assert con.execute("SELECT count(*) FROM case_links").fetchone()[0] == REGISTRY_COMPACT_AT + 2
    report = repo.verify()
    assert report.ok
    assert report.orphans == ()
