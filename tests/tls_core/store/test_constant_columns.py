"""Constant and few-valued string columns handed to the Parquet writer as dictionaries (issue 5).

A staged file's string columns that are constant in its first batch, or hold a few short values
there, are written from ``DictionaryArray``s (no hashing of their values). The files must read
back exactly as the files written from plain string columns: same Arrow schema (strings,
metadata), same rows, in pyarrow, DuckDB and deltalake, each row group's statistics its own; a
column that stops being constant or few-valued after the first batch still works; the store's
checks pass.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
import storekit as k
from hypothesis import event, given, settings
from hypothesis import strategies as st

from tls_core.schema import CALL_RECORDS
from tls_core.store import Repository
from tls_core.store._constant import ConstantColumns, few_valued, is_constant, within
from tls_core.store._files import ENCODINGS, _writer_options, write_staged
from tls_core.store._layout import STORED_SCHEMAS, Layout

NEVER = 1 << 62
"""``constant_min_rows`` that keeps every file on the plain path (the reference)."""

SCHEMA = pa.schema(
    [
        pa.field("record_id", pa.string(), nullable=False),  # an ENCODINGS column: never
        pa.field("kind", pa.string(), nullable=False, metadata={"doc": "a kind"}),
        pa.field("name", pa.string()),
        pa.field("target_raw", pa.string()),  # without a dictionary on the plain path
        pa.field("n", pa.int64()),
        pa.field("tags", pa.list_(pa.string())),
        pa.field("batch_id", pa.string(), nullable=False),
    ],
    metadata={"tls.schema": "test_constant", "tls.schema_version": "1"},
)

_TEXT = st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=12)
_SHAPES = ("constant", "constant", "few", "varying", "same_width", "nulls", "all_null")


@st.composite
def _column(draw: st.DrawFn, n: int, nullable: bool) -> list[str | None]:
    shapes = [s for s in _SHAPES if nullable or s not in ("nulls", "all_null")]
    shape = draw(st.sampled_from(shapes))
    value = draw(_TEXT)
    if shape == "constant":
        return [value] * n
    if shape == "all_null":
        return [None] * n
    if shape == "few":  # a few values, some longer than the few-values kernel takes
        options = draw(
            st.lists(_TEXT | st.sampled_from(["a" * 16, "b" * 17]), min_size=2, max_size=10)
        )
        return draw(st.lists(st.sampled_from(options), min_size=n, max_size=n))
    if shape == "same_width":  # same length, other bytes on one row: the offsets agree
        other = draw(_TEXT.filter(lambda t: len(t.encode()) == len(value.encode())))
        at = draw(st.integers(0, n - 1))
        return [other if i == at else value for i in range(n)]
    values = draw(st.lists(_TEXT, min_size=n, max_size=n))
    if shape == "nulls":
        return [None if i % 3 == 0 else v for i, v in enumerate(values)]
    return values


@st.composite
def _batch(draw: st.DrawFn) -> pa.RecordBatch:
    n = draw(st.integers(1, 40))
    columns: dict[str, list[object]] = {
        f.name: draw(_column(n, f.nullable))
        for f in SCHEMA
        if f.type == pa.string() and f.name != "record_id"
    }
    columns["record_id"] = [f"{i:032x}" for i in range(n)]
    columns["n"] = [i if i % 4 else None for i in range(n)]
    columns["tags"] = [None if i % 2 else ["x", "y"][: i % 3] for i in range(n)]
    batch = pa.RecordBatch.from_pylist(
        [{name: columns[name][i] for name in SCHEMA.names} for i in range(n)], schema=SCHEMA
    )
    start = draw(st.integers(0, n - 1))  # a slice: arrays with a non-zero offset
    return batch.slice(start, draw(st.integers(1, n - start)))


def _duck(path: Path) -> pa.Table:
    con = duckdb.connect()
    try:
        return con.sql("SELECT * FROM read_parquet(?)", params=[str(path)]).to_arrow_table()
    finally:
        con.close()


@pytest.mark.parametrize(
    "values",
    [
        ["a"],
        [""] * 5,
        ["ab"] * 3,
        ["ab", "ab", "ac"],
        ["ab", "ba"],
        ["ab", None],
        [None, None],
        ["ééé"] * 4,
        ["abab", "abab", "ab"],
        ["a", "b", "a", "a", "a", "a", "a", "a", "a", "a", "a", "a", "a", "a", "a", "a"],
    ],
)
def test_is_constant_examples(values):
    array = pa.array(values, pa.string())
    expected = array.null_count == 0 and len(set(values)) == 1
    assert is_constant(array) is expected
    assert is_constant(array.slice(1)) is (len(set(values[1:])) == 1 and None not in values[1:])


def test_an_empty_or_non_string_array_is_not_constant():
    assert not is_constant(pa.array([], pa.string()))
    assert not is_constant(pa.array([1, 1], pa.int64()))
    assert not is_constant(pa.array(["a", "a"], pa.large_string()))


@given(
    values=st.lists(st.one_of(st.none(), st.sampled_from(["", "a", "ab", "ba", "é"])), min_size=1),
    cut=st.integers(0, 5),
)
def test_is_constant_agrees_with_counting_distinct_values(values, cut):
    array = pa.array(values, pa.string()).slice(min(cut, len(values) - 1))
    listed = array.to_pylist()
    assert is_constant(array) is (None not in listed and len(set(listed)) == 1)


def test_within_takes_rows_of_the_same_memory_only():
    base = pa.array(["ab"] * 6 + ["ac"] * 2, pa.string())
    known = base.slice(1, 5)  # rows 1-5: all "ab"
    assert within(base.slice(2, 3), known)
    assert within(known, known)
    assert not within(base.slice(0, 3), known)  # row 0 is not one of known's
    assert not within(base.slice(4, 3), known)  # nor row 6
    assert not within(base.slice(2, 0), known)  # no row
    assert not within(pa.array(["ab"] * 3, pa.string()), known)  # equal values, other memory
    assert not within(base.slice(2, 3).cast(pa.large_string()), known)


@settings(max_examples=150, deadline=None)
@given(
    values=st.lists(st.sampled_from(["ab", "ab", "ab", "ac", "b"]), min_size=1, max_size=40),
    cuts=st.lists(st.tuples(st.integers(0, 40), st.integers(0, 40)), min_size=1, max_size=8),
)
def test_a_plan_finds_constant_columns_as_is_constant_does(values, cuts):
    """Slices of one array, in any order: the plan's shortcut answers as the full check."""
    base = pa.array(values, pa.string())
    plan = ConstantColumns(pa.schema([pa.field("kind", pa.string())]), frozenset({"kind"}))
    for start, length in cuts:
        column = base.slice(min(start, len(values) - 1), length)
        assert plan._constant("kind", column) is is_constant(column)


@settings(max_examples=60, deadline=None)
@given(
    batches=st.lists(_batch(), min_size=1, max_size=4),
    rows_per_file=st.sampled_from([1, 7, 30, 1_000_000]),
)
def test_files_read_back_as_the_plain_files(tmp_path_factory, batches, rows_per_file):
    layout = Layout(tmp_path_factory.mktemp("constant"))
    new = write_staged(layout, batches, SCHEMA, rows_per_file=rows_per_file, constant_min_rows=1)
    plain = write_staged(
        layout, batches, SCHEMA, rows_per_file=rows_per_file, constant_min_rows=NEVER
    )
    assert [rows for _, rows in new] == [rows for _, rows in plain]
    for (path, _), (reference, _) in zip(new, plain, strict=True):
        got, expected = pq.read_table(path), pq.read_table(reference)
        assert got.schema.metadata == SCHEMA.metadata
        assert got.schema.equals(expected.schema, check_metadata=True)
        assert got.equals(expected)
        assert pq.ParquetFile(path).metadata.metadata == pq.ParquetFile(reference).metadata.metadata
        assert _duck(path).equals(_duck(reference))


@settings(max_examples=60, deadline=None)
@given(batches=st.lists(_batch(), min_size=1, max_size=4))
def test_the_bytes_are_those_of_the_plain_writer_with_the_same_dictionaries(
    tmp_path_factory, batches
):
    """Only the writer's input changes: with the same options, the bytes are the same."""
    layout = Layout(tmp_path_factory.mktemp("bytes"))
    [(path, _)] = write_staged(layout, batches, SCHEMA, constant_min_rows=1)
    chosen = ConstantColumns.plan(
        SCHEMA, batches[0], exclude=frozenset(ENCODINGS), min_rows=1
    ).columns
    reference = layout.root / "reference.parquet"
    with pq.ParquetWriter(
        reference, SCHEMA, **_writer_options(SCHEMA, dictionary=chosen)
    ) as writer:
        for batch in batches:
            writer.write_batch(batch)
    assert path.read_bytes() == reference.read_bytes()
    columns = [b.column(name) for b in batches for name in chosen]
    event(f"dictionary columns: {len(chosen)}")
    event(f"few-valued: {any(few_valued(c) is not None and not is_constant(c) for c in columns)}")
    event(f"hashed: {any(few_valued(c) is None and not is_constant(c) for c in columns)}")


def _batches_of(columns: dict[str, list[str | None]]) -> list[pa.RecordBatch]:
    n = len(next(iter(columns.values())))
    rows = {
        "record_id": [f"{i:032x}" for i in range(n)],
        "n": list(range(n)),
        "tags": [None] * n,
        **columns,
    }
    table = pa.Table.from_pydict({f: rows[f] for f in SCHEMA.names}, schema=SCHEMA)
    return table.to_batches(max_chunksize=n // 3)


def test_a_column_constant_in_the_first_batch_only_and_the_next_file_decides_again(tmp_path):
    n = 3 * 2000
    columns: dict[str, list[str | None]] = {
        "kind": ["phone"] * 4000 + [f"kind-{i}" for i in range(2000)],  # constant, then many
        "name": ["x"] * 2000 + [None] * 4000,  # constant, then all null
        "target_raw": ["2125550142"] * n,  # constant throughout
        "batch_id": ["0" * 32] * n,
    }
    batches = _batches_of(columns)
    layout = Layout(tmp_path)
    first = ConstantColumns.plan(SCHEMA, batches[0], exclude=frozenset(ENCODINGS))
    assert first.columns == {"kind", "name", "target_raw", "batch_id"}
    later = ConstantColumns.plan(SCHEMA, batches[2], exclude=frozenset(ENCODINGS))
    assert later.columns == {"target_raw", "batch_id"}
    new = write_staged(layout, batches, SCHEMA, rows_per_file=4000)
    plain = write_staged(layout, batches, SCHEMA, rows_per_file=4000, constant_min_rows=NEVER)
    assert [r for _, r in new] == [4000, 2000]
    for (path, _), (reference, _) in zip(new, plain, strict=True):
        assert pq.read_table(path).equals(pq.read_table(reference))
        assert pq.read_table(path).schema.metadata == SCHEMA.metadata
    target = SCHEMA.get_field_index("target_raw")
    meta = pq.ParquetFile(new[0][0]).metadata.row_group(0).column(target)
    assert meta.has_dictionary_page  # the plain path writes target_raw without one
    assert not pq.ParquetFile(plain[0][0]).metadata.row_group(0).column(target).has_dictionary_page


def test_few_valued_columns_keep_each_row_groups_values_and_statistics(tmp_path):
    """Each batch a row group with a dictionary of its own: its statistics are its values'."""
    n = 6000
    kinds = ["phone", "imei"] * 1000 + ["imsi", "phone", "email"] * 1000 + ["ip"] * 1000
    batches = _batches_of(
        {
            "kind": kinds,
            "name": ["x", "y"] * (n // 2),
            "target_raw": ["2125550142", "2125550143"] * (n // 2),
            "batch_id": ["0" * 32] * n,
        }
    )
    layout = Layout(tmp_path)
    plan = ConstantColumns.plan(SCHEMA, batches[0], exclude=frozenset(ENCODINGS))
    assert plan.columns == {"kind", "name", "target_raw", "batch_id"}
    [(path, _)] = write_staged(layout, batches, SCHEMA)
    [(reference, _)] = write_staged(layout, batches, SCHEMA, constant_min_rows=NEVER)
    assert pq.read_table(path).equals(pq.read_table(reference))
    meta = pq.ParquetFile(path).metadata
    column = SCHEMA.get_field_index("kind")
    assert meta.num_row_groups == len(batches)
    for group, batch in enumerate(batches):
        chunk = meta.row_group(group).column(column)
        values = batch.column("kind").to_pylist()
        assert chunk.has_dictionary_page
        assert (chunk.statistics.min, chunk.statistics.max) == (min(values), max(values))
    for kind in ("imei", "email", "ip", "phone"):
        con = duckdb.connect()
        try:
            [(count,)] = con.execute(
                "SELECT count(*) FROM read_parquet(?) WHERE kind = ?", [str(path), kind]
            ).fetchall()
        finally:
            con.close()
        assert count == kinds.count(kind)


def test_a_short_first_batch_keeps_the_file_plain(tmp_path):
    batches = _batches_of(
        {
            "kind": ["phone"] * 300,
            "name": ["x"] * 300,
            "target_raw": ["1"] * 300,
            "batch_id": ["0" * 32] * 300,
        }
    )
    layout = Layout(tmp_path)
    [(path, _)] = write_staged(layout, batches, SCHEMA)
    [(reference, _)] = write_staged(layout, batches, SCHEMA, constant_min_rows=NEVER)
    assert path.read_bytes() == reference.read_bytes()


def _calls(n: int, chunk: int) -> pa.Table:
    """``n`` call records of one source: provenance and target constant, direction not after
    the first chunk, term numbers varying."""
    table = k.calls("a.csv", n)
    direction = ["outgoing"] * chunk + [
        "incoming" if i % 2 else "outgoing" for i in range(n - chunk)
    ]
    table = table.set_column(
        CALL_RECORDS.get_field_index("direction"), "direction", pa.array(direction, pa.string())
    )
    for name, value in [
        ("target_raw", "2125550142"),
        ("target_kind", "phone"),
        ("target_canonical", "+12125550142"),
    ]:
        table = table.set_column(
            CALL_RECORDS.get_field_index(name), name, pa.array([value] * n, pa.string())
        )
    return table


def test_committed_records_read_the_same_in_pyarrow_duckdb_and_deltalake(repo):
    from deltalake import DeltaTable

    records = _calls(4500, 1500)
    report = repo.commit_batch(
        records.to_batches(max_chunksize=1500),
        k.rejects("a.csv", 2),
        source_sha256=k.sha_of("a.csv"),
        source_name="a.csv",
        case_ids=["C1"],
        actor="tester",
    )
    assert report.loaded == 4500
    snap = repo.snapshot()
    [path] = snap.paths("call_records")
    target = pq.ParquetFile(path).schema_arrow.get_field_index("target_raw")
    assert pq.ParquetFile(path).metadata.row_group(0).column(target).has_dictionary_page
    expected = records.append_column("batch_id", pa.array([report.batch_id] * 4500, pa.string()))
    stored = snap.read("call_records")
    assert pq.read_schema(path).equals(STORED_SCHEMAS["call_records"], check_metadata=True)
    assert stored.equals(expected.cast(stored.schema))
    con = snap.connect()
    try:
        duck = con.sql("SELECT * FROM call_records ORDER BY source_row").to_arrow_table()
    finally:
        con.close()
    assert duck.to_pylist() == stored.to_pylist()
    delta = DeltaTable(str(snap.root / "tables" / "call_records")).to_pyarrow_table()
    delta = delta.take(pc.sort_indices(delta, [("source_row", "ascending")]))
    assert delta.to_pylist() == stored.to_pylist()
    assert repo.verify().ok


def _return_file(path: Path, rows: int) -> Path:
    """A T-Mobile-layout return of ``rows`` calls of one target (synthetic numbers)."""
    from penlink_adapters import get_layout_or_raise
    from penlink_adapters._synth_render import SynthCall, call_fields, render_rows

    layout = get_layout_or_raise("tmobile")
    start = datetime(2022, 5, 1, tzinfo=UTC)
    calls = [
        call_fields(
            layout,
            SynthCall(
                target="2125550142",
                other=f"312555{i % 3000:04d}",
                start=start + timedelta(minutes=i),
                duration=30 + i % 90,
                direction="outgoing" if i % 2 else "incoming",
                event="voice",
            ),
            None,
        )
        for i in range(rows)
    ]
    path.write_text(render_rows(layout, calls), newline="")
    return path


def test_an_ingested_return_stores_what_the_adapters_read_and_verifies(tmp_path):
    from penlink_adapters import read_return

    path = _return_file(tmp_path / "r.csv", 3000)
    repo = Repository.open(tmp_path / "repo")
    [report] = repo.ingest(path, case_ids=["C1"], actor="alice")
    assert report.loaded == 3000
    snap = repo.snapshot()
    [stored_path] = snap.paths("call_records")
    meta = pq.ParquetFile(stored_path).metadata.row_group(0)
    names = pq.ParquetFile(stored_path).schema_arrow.names
    assert meta.column(names.index("target_raw")).has_dictionary_page  # written as dictionary
    stored = snap.read("call_records").drop_columns(["batch_id"])
    expected = read_return(path)[0]
    order = [("record_id", "ascending")]
    stored = stored.take(pc.sort_indices(stored, order))
    expected = expected.take(pc.sort_indices(expected, order))
    assert stored.equals(expected.cast(stored.schema))
    assert repo.verify().ok
