"""The record-id index (issue 5): commit cost follows the batch, the cache never beats the data."""

from __future__ import annotations

import functools
import json
import shutil
from unittest.mock import patch

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import storekit as k
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tls_core.store import Repository
from tls_core.store import _commit as commit_module
from tls_core.store._files import write_staged
from tls_core.store._record_index import _merge_sorted, distinct, record_id_keys

TABLE = "call_records"


def _index_dir(repo: Repository):
    return repo.root / "_tls" / "cache" / "record_ids" / TABLE


def _manifest(repo: Repository) -> dict:
    return json.loads((_index_dir(repo) / "manifest.json").read_text())


def _reexport(source: str, n: int, as_source: str, *, first: int | None = None) -> pa.Table:
    """The records of ``calls(source, n)`` as another file would carry them."""
    table = k.calls(source, n, first=first)
    index = table.schema.get_field_index("source_sha256")
    return table.set_column(index, "source_sha256", pa.array([k.sha_of(as_source)] * n))


def _commit(repo: Repository, table: pa.Table, source: str, case: str = "C1"):
    return repo.commit_batch(
        table, source_sha256=k.sha_of(source), source_name=source, case_ids=[case], actor="t"
    )


def _stored_ids(repo: Repository) -> list[str]:
    return sorted(repo.snapshot().read(TABLE).column("record_id").to_pylist())


def test_keys_equal_for_equal_ids_in_any_layout():
    ids = [k.sha_of(str(i))[:32] for i in range(50)] + ["short", "é" * 16, "A" * 32]
    keys = record_id_keys(pa.array(ids))
    assert len(set(keys.tolist())) == len(ids)
    chunked = pa.chunked_array([pa.array(ids[:7]), pa.array(ids[7:])])
    assert record_id_keys(chunked).tolist() == keys.tolist()
    assert record_id_keys(pa.array(ids).slice(5, 20)).tolist() == keys[5:25].tolist()
    assert record_id_keys(pa.array(ids, pa.large_string())).tolist() == keys.tolist()
    # Ids made by a counter differ only in their last digits: every byte is mixed in.
    counter = record_id_keys(pa.array([f"{i:032x}" for i in range(10_000)]))
    assert len(np.unique(counter >> np.uint64(16))) == 10_000


@given(st.lists(st.integers(0, 2**64 - 1)), st.lists(st.integers(0, 2**64 - 1)))
def test_merge_sorted_is_a_sort(a, b):
    left = np.sort(np.array(a, dtype=np.uint64))
    right = np.sort(np.array(b, dtype=np.uint64))
    merged = _merge_sorted(left, right)
    assert merged.tolist() == sorted(a + b)
    assert distinct(merged).tolist() == sorted(set(a + b))


def test_a_commit_extends_the_index_without_reading_back(repo):
    k.commit(repo, "a.csv", 20)
    first = _manifest(repo)
    assert sum(s["rows"] for s in first["segments"]) == 20
    k.commit(repo, "b.csv", 30)
    manifest = _manifest(repo)
    covered = {f for s in manifest["segments"] for f in s["files"]}
    assert covered == {f.name for f in repo.snapshot().files[TABLE]}
    assert sum(s["rows"] for s in manifest["segments"]) == 50
    names = {s["name"] for s in manifest["segments"]}
    assert {p.name for p in _index_dir(repo).iterdir()} == names | {"manifest.json"}


def test_duplicates_found_through_the_index_only_read_candidate_files(repo):
    for i in range(5):
        _commit(repo, k.calls(f"s{i}.csv", 40, first=i * 1000), f"s{i}.csv")
    report = _commit(repo, _reexport("s2.csv", 40, "again.csv", first=2000), "again.csv")
    assert (report.loaded, report.duplicates) == (0, 40)
    assert k.count(repo, "record_refs") == 40
    assert len(_stored_ids(repo)) == 200


def test_missing_corrupt_or_stale_index_is_rebuilt(tmp_path):
    repo = Repository.open(tmp_path / "r")
    _commit(repo, k.calls("a.csv", 30, first=0), "a.csv")
    before = tmp_path / "index-before"
    shutil.copytree(_index_dir(repo), before)
    _commit(repo, k.calls("b.csv", 30, first=100), "b.csv")
    # Stale: the index of an older version (a commit killed before it extended the index).
    shutil.rmtree(_index_dir(repo))
    shutil.copytree(before, _index_dir(repo))
    fresh = Repository.open(repo.root)
    report = _commit(fresh, _reexport("b.csv", 30, "b2.csv", first=100), "b2.csv")
    assert report.duplicates == 30
    # Corrupt: one flipped byte of a segment (same size, so only the hash catches it).
    segment = next(p for p in _index_dir(repo).iterdir() if p.suffix == ".ids")
    raw = bytearray(segment.read_bytes())
    raw[3] ^= 0xFF
    segment.write_bytes(bytes(raw))
    fresh = Repository.open(repo.root)
    assert _commit(fresh, _reexport("a.csv", 30, "a2.csv", first=0), "a2.csv").duplicates == 30
    # Unreadable manifest, then no index at all (a repository built before it existed).
    (_index_dir(repo) / "manifest.json").write_text("{not json")
    fresh = Repository.open(repo.root)
    assert _commit(fresh, _reexport("a.csv", 5, "a3.csv", first=0), "a3.csv").duplicates == 5
    shutil.rmtree(repo.root / "_tls" / "cache")
    fresh = Repository.open(repo.root)
    assert _commit(fresh, _reexport("b.csv", 5, "b3.csv", first=100), "b3.csv").duplicates == 5
    assert len(_stored_ids(fresh)) == 60
    assert fresh.verify().ok


def test_an_index_naming_files_no_longer_visible_is_rebuilt(repo):
    _commit(repo, k.calls("a.csv", 10, first=0), "a.csv")
    manifest = _manifest(repo)
    manifest["segments"][0]["files"] = ["0" * 32 + "-" + "1" * 64 + ".parquet"]
    (_index_dir(repo) / "manifest.json").write_text(json.dumps(manifest))
    fresh = Repository.open(repo.root)
    assert _commit(fresh, _reexport("a.csv", 10, "a2.csv", first=0), "a2.csv").duplicates == 10


def test_an_unwritable_cache_does_not_fail_the_commit(repo):
    (repo.root / "_tls" / "cache").mkdir(parents=True, exist_ok=True)
    (repo.root / "_tls" / "cache" / "record_ids").write_text("a file where a directory goes")
    _commit(repo, k.calls("a.csv", 10, first=0), "a.csv")
    assert _commit(repo, _reexport("a.csv", 10, "a2.csv", first=0), "a2.csv").duplicates == 10


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    st.lists(st.lists(st.integers(0, 60), min_size=0, max_size=25), min_size=1, max_size=5).filter(
        lambda batches: any(batches)
    ),
    st.sampled_from([1_000_000, 3]),
)
def test_dedup_matches_a_set_model(tmp_path_factory, batches, rows_per_file):
    """Differential: stored ids, loaded and duplicate counts against a plain set.

    With staged files of 3 or 4 rows, a batch's repeats span several staged files (the
    dedup's positions are a staged file's ordinal and its row).
    """
    staging = functools.partial(write_staged, rows_per_file=rows_per_file)
    with patch.object(commit_module, "write_staged", staging):
        _dedup_against_a_set(tmp_path_factory, batches)


def _dedup_against_a_set(tmp_path_factory, batches):
    repo = Repository.open(tmp_path_factory.mktemp("r") / "repo")
    pool = k.calls("pool.csv", 61, first=0)
    seen: set[str] = set()
    for number, picks in enumerate(batches):
        if not picks:
            continue
        source = f"batch{number}.csv"
        rows = pool.take(pa.array(picks))
        rows = rows.set_column(
            rows.schema.get_field_index("source_sha256"),
            "source_sha256",
            pa.array([k.sha_of(source)] * len(picks)),
        )
        ids = rows.column("record_id").to_pylist()
        new = set(ids) - seen
        # Batches of two rows: staged files roll after each batch that reaches rows_per_file.
        report = Repository.open(repo.root).commit_batch(
            rows.to_batches(max_chunksize=2),
            source_sha256=k.sha_of(source),
            source_name=source,
            case_ids=["C1"],
            actor="t",
        )
        assert (report.loaded, report.duplicates) == (len(new), len(ids) - len(new))
        stored = repo.snapshot().read(TABLE)
        first_rows = {rid: i for i, rid in reversed(list(enumerate(ids)))}
        mine = stored.filter(pc.equal(stored.column("batch_id"), report.batch_id))
        # Input order is kept, and each new id is stored from its first row.
        assert mine.column("record_id").to_pylist() == sorted(new, key=first_rows.__getitem__)
        seen |= new
        assert _stored_ids(repo) == sorted(seen)


def test_a_key_hit_is_confirmed_exactly(repo):
    """A candidate file that does not hold the id (a shared key) drops nothing."""
    from tls_core.store._dedup import _drops_and_refs
    from tls_core.store._files import write_staged
    from tls_core.store._layout import STORED_SCHEMAS

    _commit(repo, k.calls("a.csv", 10, first=0), "a.csv")
    snap = repo.snapshot()
    stored = snap.paths(TABLE)
    layout = repo._layout
    batch = k.calls("b.csv", 10, first=500)
    owned = batch.append_column("batch_id", pa.array(["f" * 32] * 10))
    staged = write_staged(layout, owned.to_batches(), STORED_SCHEMAS[TABLE])
    drops, refs = _drops_and_refs(layout, stored, staged, "f" * 32)
    assert (len(drops), refs) == (0, [])
    again = k.calls("a.csv", 10, first=0).append_column("batch_id", pa.array(["f" * 32] * 10))
    staged = write_staged(layout, again.to_batches(), STORED_SCHEMAS[TABLE])
    drops, refs = _drops_and_refs(layout, stored, staged, "f" * 32)
    assert drops.tolist() == list(range(10))
    assert sum(r.rows for r in refs) == 10


def test_delta_logs_open_once_and_follow_new_commits(repo):
    """A commit's tables are opened once and brought up to date incrementally (issue 5)."""
    from tls_core.store._delta import DeltaLogs, list_files

    layout = repo._layout
    logs = DeltaLogs(layout)
    version, files = list_files(layout, TABLE, logs)
    opened = logs.get(TABLE)
    _commit(repo, k.calls("a.csv", 10, first=0), "a.csv")  # another writer's commit
    again, now = list_files(layout, TABLE, logs)
    assert logs.get(TABLE) is opened
    assert (again, len(now)) == (version + 1, len(files) + 1)
    assert list_files(layout, TABLE) == (again, now)


class _Stop(Exception):
    """Raised by a step hook: the commit fails at that step, in this process."""


def test_a_commit_failing_after_its_records_leaves_the_index_as_it_was(tmp_path):
    """Only a committed batch's files join the index; the next commit finds what is stored."""
    k.commit(Repository.open(tmp_path / "r"), "a.csv", 20)

    def fail(step: str) -> None:
        if step == "refs_committed":  # the records are in their table, the marker is not
            raise _Stop

    failing = Repository.open(tmp_path / "r", step_hook=fail)
    before = _manifest(failing)
    try:
        k.commit(failing, "b.csv", 30)
    except _Stop:
        pass
    else:
        raise AssertionError("the hook did not stop the commit")
    assert _manifest(failing) == before  # b's records are not visible: not indexed
    repo = Repository.open(tmp_path / "r")
    report = _commit(repo, _reexport("a.csv", 20, "a2.csv"), "a2.csv")
    assert (report.loaded, report.duplicates) == (0, 20)
    k.commit(repo, "b.csv", 30)
    manifest = _manifest(repo)
    assert {f for s in manifest["segments"] for f in s["files"]} == {
        f.name for f in repo.snapshot().files[TABLE]
    }
    names = {s["name"] for s in manifest["segments"]}  # the failed commit's segment is gone
    assert {p.name for p in _index_dir(repo).iterdir()} == names | {"manifest.json"}
    assert repo.verify().ok


def test_repeats_inside_a_batch_are_confirmed_exactly(repo):
    """Rows sharing a key but not an id (a key collision) are both kept; a repeated id is not."""
    from tls_core.store._dedup import _ROW_BITS, _repeats
    from tls_core.store._layout import STORED_SCHEMAS

    layout = repo._layout
    calls = k.calls("b.csv", 3, first=700)  # ids a, b, c
    picks = [[0, 1], [0, 2], [1, 1]]  # staged files: (a, b), (a, c), (b, b)
    staged = []
    for rows in picks:
        part = calls.take(pa.array(rows)).append_column("batch_id", pa.array(["f" * 32] * 2))
        staged += write_staged(layout, part.to_batches(), STORED_SCHEMAS[TABLE])
    # a and b share key 5 (a collision); c has key 9.
    keys = [np.array(v, dtype=np.uint64) for v in ([5, 5], [5, 9], [5, 5])]
    drops = _repeats(staged, keys)
    assert drops is not None
    # Dropped: the second a (file 1, row 0), then both later b's (file 2, rows 0 and 1).
    assert drops.tolist() == [1 << _ROW_BITS, 2 << _ROW_BITS, (2 << _ROW_BITS) + 1]
    distinct = _repeats(staged, [np.array(v, dtype=np.uint64) for v in ([1, 2], [3, 4], [5, 6])])
    assert distinct is not None
    assert distinct.size == 0  # distinct keys: distinct ids, no file read
