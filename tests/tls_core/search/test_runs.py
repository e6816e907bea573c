"""The run-based index: its upkeep follows the new data; search equals brute force over records."""

from __future__ import annotations

import json
import shutil
from datetime import date

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from searchkit import call_table, commit_calls, open_office, search_as, sha_of

from tls_core.identifiers import Identifier, match_grade
from tls_core.search import _index
from tls_core.search._index import index_dir, open_index
from tls_core.search._keys import match_key
from tls_core.store import Repository

A = "+12065550101"
B = "+13125550177"
X = "+12135550142"


_run = search_as


def _run_files(repo) -> set[str]:
    manifest = json.loads((index_dir(repo) / "manifest.json").read_text())
    return {f["file"] for run in manifest["runs"] for f in run["files"].values()}


@pytest.fixture
def cases(repo, office):
    for number in ("SEA-1", "HOU-2", "NYC-3"):
        office.open_case("alice", number, owner="alice")
    return repo


def test_a_commit_builds_one_run_and_keeps_the_others(cases, office):
    commit_calls(cases, "SEA-1", "one.csv", [(A, X, 0)])
    commit_calls(cases, "HOU-2", "two.csv", [(B, X, 1)])
    _run(cases, office, X)
    before = _run_files(cases)
    commit_calls(cases, "NYC-3", "three.csv", [(A, X, 2)])
    result = _run(cases, office, X)
    assert result.index == "stale"
    after = _run_files(cases)
    assert before < after
    assert len(after - before) == 2
    assert [(c.case_number, c.records) for c in result.cases] == [
        ("HOU-2", 1),
        ("NYC-3", 1),
        ("SEA-1", 1),
    ]


def test_unlink_and_relink_rebuild_no_run(cases, office):
    report = cases.commit_batch(
        call_table("one.csv", [(A, X, 0)]),
        source_sha256=sha_of("one.csv"),
        source_name="one.csv",
        case_ids=["SEA-1", "HOU-2"],
        actor="t",
    )
    assert [c.case_number for c in _run(cases, office, X).cases] == ["HOU-2", "SEA-1"]
    files = _run_files(cases)
    cases.unlink(report.batch_id, "HOU-2", actor="t")
    result = _run(cases, office, X)
    assert result.index == "stale"
    assert [c.case_number for c in result.cases] == ["SEA-1"]
    assert [r.case_number for r in result.records] == ["SEA-1"]
    commit_calls(cases, "NYC-3", "one.csv", [(A, X, 0)])  # the same file for another case
    assert [c.case_number for c in _run(cases, office, X).cases] == ["NYC-3", "SEA-1"]
    assert _run_files(cases) == files


def test_runs_merge_fan_in_at_a_time(cases, office, monkeypatch):
    monkeypatch.setattr(_index, "FAN_IN", 2)
    for i in range(5):
        commit_calls(cases, ("SEA-1", "HOU-2")[i % 2], f"s{i}.csv", [(A, X, i), (B, X, i)])
        result = _run(cases, office, X)  # a refresh per commit: one level-0 run each
    index, _ = open_index(cases, cases.snapshot())
    # 5 level-0 runs with fan-in 2: 4 merged into 2, then into 1 of level 2; 1 left at level 0.
    # (Batches new at one refresh share one level-0 run.)
    assert sorted(r.level for r in index.runs) == [0, 2]
    assert [(c.case_number, c.records) for c in result.cases] == [("HOU-2", 4), ("SEA-1", 6)]
    assert len(result.records) == 10
    assert len({(r.case_number, r.record_id, r.role) for r in result.records}) == 10


def test_a_purge_leaves_no_purged_value_in_an_old_index(cases, office, tmp_path):
    commit_calls(cases, "SEA-1", "old.csv", [(A, X, 0), (A, "+14155550111", 1)])
    commit_calls(cases, "HOU-2", "new.csv", [(B, X, 2)])
    commit_calls(cases, "HOU-2", "both.csv", [(A, X, 0)])  # a record also in old.csv
    _run(cases, office, X)
    saved = tmp_path / "saved"
    shutil.copytree(index_dir(cases), saved)
    cases.purge({"SEA-1": (date(1990, 1, 1), False, False)}, today=date(2026, 6, 1), actor="t")
    # The store drops its caches on a purge; put the old index back: it must not serve.
    shutil.copytree(saved, index_dir(cases), dirs_exist_ok=True)
    result = _run(cases, office, "+14155550111")
    assert result.cases == ()
    assert result.records == ()
    assert [(c.case_number, c.records) for c in _run(cases, office, X).cases] == [("HOU-2", 2)]
    index, _ = open_index(cases, cases.snapshot())
    for run in index.runs:
        for part in (run.occurrences, run.summary):
            assert "+14155550111" not in part.read_all(["identifier"]).column(0).to_pylist()


# --- differential: the index's answer equals brute force over the records ------------------

PHONES = ["+12065550101", "+13125550177", "+12135550142", "+442079460958", "+12079460958"]
CASES = ["SEA-1", "HOU-2", "NYC-3"]

_call = st.tuples(st.sampled_from(PHONES[:2]), st.sampled_from(PHONES), st.integers(0, 3))
_op = st.one_of(
    st.tuples(st.just("commit"), st.sampled_from(CASES), st.lists(_call, min_size=1, max_size=4)),
    st.tuples(st.just("link"), st.sampled_from(CASES), st.integers(0, 5)),
    st.tuples(st.just("unlink"), st.sampled_from(CASES), st.integers(0, 5)),
    st.tuples(st.just("purge"), st.sampled_from(CASES), st.just(0)),
    st.tuples(st.just("search"), st.sampled_from(PHONES), st.just(0)),
)


def _apply(repo, op, sources) -> None:
    what, case, arg = op
    if what == "commit":
        name = f"s{len(sources)}.csv"
        commit_calls(repo, case, name, arg)
        sources.append((name, arg))
    elif what == "link" and sources:
        name, calls = sources[arg % len(sources)]
        commit_calls(repo, case, name, calls)
    elif what == "unlink" and sources:
        batches = sorted(repo.snapshot().batch_ids)  # committed ones (a purge removes some)
        if batches:
            repo.unlink(batches[arg % len(batches)], case, actor="t")
    elif what == "purge":
        repo.purge({case: (date(1990, 1, 1), False, False)}, today=date(2026, 6, 1), actor="t")


def _brute(repo, value: str):
    from tls_core.link import create_occurrences

    con = repo.snapshot().connect()
    try:
        create_occurrences(con)
        rows = con.sql("SELECT * FROM occurrences").to_arrow_table().to_pylist()
    finally:
        con.close()
    query = Identifier("phone", value, value)
    key = match_key("phone", value)
    cases: dict[str, list] = {}
    records = []
    for row in rows:
        if match_key(row["kind"], row["identifier"]) != key:
            continue
        grade = match_grade(query, Identifier(row["kind"], row["identifier"], None))
        if grade is None:
            continue
        records.append((row["case_id"], row["record_id"], row["identifier"], grade, row["role"]))
        cases.setdefault(row["case_id"], []).append((grade, row["role"], row["seen_utc"]))
    summary = {
        case: (len(hits), tuple(sorted({h[1] for h in hits})), min(h[2] for h in hits))
        for case, hits in cases.items()
    }
    return summary, sorted(records)


def _check(repo, office, value: str) -> None:
    result = _run(repo, office, value, limit=100_000)
    got = {c.case_number: (c.records, c.roles, c.first_seen_utc) for c in result.cases}
    want_summary, want_records = _brute(repo, value)
    assert got == want_summary
    records = [(r.case_number, r.record_id, r.canonical, r.grade, r.role) for r in result.records]
    assert sorted(records) == want_records
    # Records come grouped by identifier, then case.
    assert [(r[2], r[0]) for r in records] == sorted((r[2], r[0]) for r in records)


@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(ops=st.lists(_op, min_size=1, max_size=9), fan_in=st.sampled_from([2, 3, 8]))
def test_search_equals_brute_force_over_ingest_unlink_purge(tmp_path_factory, ops, fan_in):
    tmp = tmp_path_factory.mktemp("diff")
    repo = Repository.open(tmp / "repo")
    office = open_office(tmp)
    old = _index.FAN_IN
    _index.FAN_IN = fan_in  # type: ignore[misc]
    try:
        for number in CASES:
            office.open_case("alice", number, owner="alice")
        sources: list = []
        for op in ops:
            _apply(repo, op, sources)
            if op[0] == "search":
                _check(repo, office, op[1])
        for value in PHONES:
            _check(repo, office, value)
    finally:
        _index.FAN_IN = old  # type: ignore[misc]
        office.engine.dispose()
        office.audit.engine.dispose()


def test_a_record_held_by_two_batches_counts_once_per_case(cases, office):
    commit_calls(cases, "SEA-1", "one.csv", [(A, X, 0)])
    cases.commit_batch(
        call_table("two.csv", [(A, X, 0), (B, X, 1)]),
        source_sha256=sha_of("two.csv"),
        source_name="two.csv",
        case_ids=["SEA-1", "HOU-2"],
        actor="t",
    )
    assert cases.snapshot().row_count("record_refs") == 1
    result = _run(cases, office, X)
    assert [(c.case_number, c.records) for c in result.cases] == [("HOU-2", 2), ("SEA-1", 2)]
    _check(cases, office, X)
    _check(cases, office, A)


def test_merges_across_many_row_groups_and_key_ranges(cases, office, monkeypatch):
    from tls_core.search import _runs

    monkeypatch.setattr(_index, "FAN_IN", 2)
    monkeypatch.setattr(_runs, "ROW_GROUP_ROWS", 64)
    monkeypatch.setattr(_runs, "MERGE_ROWS", 256)
    for i, case in enumerate(["SEA-1", "HOU-2", "NYC-3", "SEA-1"]):
        calls = [(PHONES[i % 2], f"+1202555{(7 * j + i) % 500:04d}", j) for j in range(300)]
        commit_calls(cases, case, f"big{i}.csv", calls)
        _run(cases, office, X)
    index, _ = open_index(cases, cases.snapshot())
    assert [r.level for r in index.runs] == [2]
    assert len(index.runs[0].occurrences.row_groups) > 10
    for value in [PHONES[0], PHONES[1], "+12025550007", "+12025550499", "+12025550250"]:
        _check(cases, office, value)
    limited = _run(cases, office, PHONES[0], limit=50)
    full = _run(cases, office, PHONES[0], limit=100_000)
    assert limited.truncated
    assert limited.records == full.records[:50]
