"""The per-batch cache of call-record aggregates: used when valid, never trusted over the data.

Entries that are missing, corrupt, copied from another batch or left by files that are gone
are rebuilt or deleted, and every run still equals the brute-force oracle and a full relink
(also when an old batch gains a case whose records it already reached through a reference:
the "dirty" links read record by record).
"""

from __future__ import annotations

import hashlib
import tempfile
from datetime import date
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.ipc as ipc
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from linkkit import Call, call_rows, commit, ingest_scenario
from oracle import Oracle, observed
from test_link_differential import (
    CASES,
    PHONES,
    SETTINGS,
    _occurrences_agree_with_the_link_state,
    _table,
    batches,
)

import penlink_adapters as pla
from tls_core.link import LinkSettings, alerts, link
from tls_core.link._batches import batch_identifiers_sql, cache_dir
from tls_core.link._identifier_cases import identifier_cases_sql
from tls_core.link._state import MAX_SEGMENTS, load_state
from tls_core.store import Repository

Damage = tuple[str, int]
damages = st.lists(
    st.tuples(st.sampled_from(["delete", "corrupt", "swap", "bogus", "none"]), st.integers(0, 9)),
    max_size=3,
)


def _entries(repo: Repository) -> list[Path]:
    folder = cache_dir(repo.root)
    return sorted(folder.iterdir()) if folder.is_dir() else []


def _keys(repo: Repository) -> list[str]:
    return [e.name.split("-")[0] for e in _entries(repo)]


def _damage(repo: Repository, how: str, index: int) -> None:
    entries = _entries(repo)
    if not entries:
        return
    entry = entries[index % len(entries)]
    if how == "delete":
        entry.unlink()
    elif how == "corrupt":
        data = bytearray(entry.read_bytes())
        data[len(data) // 2] ^= 0xFF
        entry.write_bytes(bytes(data))
    elif how == "swap" and len(entries) > 1:
        # Another batch's (valid, self-consistent) rows under this batch's key.
        other = entries[(index + 1) % len(entries)]
        key = entry.name.split("-")[0]
        entry.unlink()
        (entry.parent / f"{key}-{other.name.split('-')[1]}").write_bytes(other.read_bytes())
    elif how == "bogus":
        (entry.parent / f"{'a' * 64}-{'b' * 64}.arrow").write_bytes(b"not ours")


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    specs=batches,
    relinks=st.lists(st.tuples(st.integers(0, 4), st.sampled_from(CASES)), max_size=3),
    harm=damages,
)
def test_runs_equal_the_oracle_whatever_happens_to_the_cache(specs, relinks, harm):
    with tempfile.TemporaryDirectory() as tmp:
        repo = Repository.open(Path(tmp) / "repo")
        oracle = Oracle()
        tables = []
        for n, (spec, cases) in enumerate(specs):
            tables.append((_table(spec), spec[0]))
            commit(repo, tables[-1][0], f"s{n}", sorted(cases), spec[0])
            oracle.commit(n, tables[-1][0], spec[0], sorted(cases))
            link(repo, actor="tester", settings=SETTINGS)
        for step, (index, case) in enumerate(relinks):
            if index < len(tables):  # the same source again for another case: a new link
                table, record_type = tables[index]
                commit(repo, table, f"s{index}", [case], record_type)
                oracle.batch_cases[index].add(case)
            for how, where in harm[step : step + 1]:
                _damage(repo, how, where)
            run = link(repo, actor="tester", settings=SETTINGS)
            assert observed(alerts(repo)) == oracle.link(SETTINGS)[0], run.mode
        for how, where in harm:
            _damage(repo, how, where)
        full = link(repo, actor="tester", settings=SETTINGS, full=True)
        assert observed(full.alerts) == oracle.link(SETTINGS)[0]
        # The cached rows given to their cases (cases fed by several batches, or by a batch
        # and records read one by one, summed) are exactly the grouped occurrences.
        _occurrences_agree_with_the_link_state(repo)
        keys = {e.name.split("-")[0] for e in _entries(repo)}
        assert len(keys) == len(_entries(repo))  # one entry per batch, no leftovers
        assert "a" * 64 not in keys


def test_entries_are_built_once_and_reused(repo):
    commit(repo, call_rows([Call(PHONES[0], PHONES[1], 1)]), "a", ["K1"])
    commit(repo, call_rows([Call(PHONES[2], PHONES[1], 2)]), "b", ["K2"])
    first = link(repo, actor="tester")
    built = {e.name: e.stat().st_mtime_ns for e in _entries(repo)}
    assert len(built) == 2
    again = link(repo, actor="tester", full=True)
    assert {e.name: e.stat().st_mtime_ns for e in _entries(repo)} == built
    assert list(again.alerts) == list(first.alerts)
    (alert,) = again.alerts
    assert alert.link_types == ("common_contact",)


def test_a_corrupt_entry_is_rebuilt(repo):
    commit(repo, call_rows([Call(PHONES[0], PHONES[1], 1)]), "a", ["K1"])
    commit(repo, call_rows([Call(PHONES[2], PHONES[1], 2)]), "b", ["K2"])
    first = link(repo, actor="tester")
    keys = _keys(repo)
    _damage(repo, "corrupt", 0)
    again = link(repo, actor="tester", full=True)
    assert _keys(repo) == keys  # rebuilt: one valid entry per batch again
    assert list(again.alerts) == list(first.alerts)


def test_an_lz4_entry_is_read_and_kept_again_uncompressed(repo):
    # Entries written by an older version are LZ4-compressed: still valid, rewritten once.
    commit(repo, call_rows([Call(PHONES[0], PHONES[1], 1)]), "a", ["K1"])
    commit(repo, call_rows([Call(PHONES[2], PHONES[1], 2)]), "b", ["K2"])
    first = link(repo, actor="tester")
    keys = _keys(repo)
    for entry in _entries(repo):
        table = ipc.open_file(entry.read_bytes()).read_all()
        sink = pa.BufferOutputStream()
        with ipc.new_file(sink, table.schema, options=ipc.IpcWriteOptions(compression="lz4")) as w:
            w.write_table(table)
        data = sink.getvalue().to_pybytes()
        entry.unlink()
        (
            entry.parent / f"{entry.name.split('-')[0]}-{hashlib.sha256(data).hexdigest()}.arrow"
        ).write_bytes(data)
    packed = {e.name for e in _entries(repo)}
    again = link(repo, actor="tester", full=True)
    assert _keys(repo) == keys
    assert not packed & {e.name for e in _entries(repo)}  # each kept again, uncompressed
    for entry in _entries(repo):
        assert entry.stat().st_size >= ipc.open_file(entry.read_bytes()).read_all().nbytes
    assert list(again.alerts) == list(first.alerts)
    built = {e.name: e.stat().st_mtime_ns for e in _entries(repo)}
    link(repo, actor="tester", full=True)
    assert {e.name: e.stat().st_mtime_ns for e in _entries(repo)} == built  # not again


def test_another_batchs_entry_under_a_key_is_not_used(repo):
    commit(repo, call_rows([Call(PHONES[0], PHONES[1], 1)]), "a", ["K1"])
    commit(repo, call_rows([Call(PHONES[2], PHONES[3], 2)]), "b", ["K2"])
    commit(repo, call_rows([Call(PHONES[4], PHONES[3], 2)]), "c", ["K3"])
    first = link(repo, actor="tester")
    keys = _keys(repo)
    _damage(repo, "swap", 0)
    again = link(repo, actor="tester", full=True)
    assert _keys(repo) == keys
    assert list(again.alerts) == list(first.alerts)


def test_a_purge_rebuilds_from_the_rewritten_files(tmp_path):
    pla.write_scenario(tmp_path, seed=4)
    repo = Repository.open(tmp_path / "repo")
    truth = ingest_scenario(tmp_path, repo)
    link(repo, actor="tester")
    before = {e.name for e in _entries(repo)}
    case = truth["cases"][0]["case_id"]
    facts = {case: (date(2000, 1, 1), False, False)}
    repo.purge(facts, today=date(2030, 1, 1), actor="tester")
    assert not cache_dir(repo.root).exists()  # a purge drops _tls/cache
    run = link(repo, actor="tester")
    assert run.mode == "full"
    after = {e.name for e in _entries(repo)}
    owners = {f.owner_id for f in repo.snapshot().files["call_records"]}
    assert len(after) == len(owners)  # one entry per batch holding call records
    assert after != before  # the purged case's batch is gone
    full = link(repo, actor="tester", full=True)
    assert list(full.alerts) == alerts(repo)
    assert all(case not in (a.case_a, a.case_b) for a in alerts(repo))


def test_entries_of_files_no_longer_visible_are_deleted(repo):
    commit(repo, call_rows([Call(PHONES[0], PHONES[1], 1)]), "a", ["K1"])
    link(repo, actor="tester")
    (entry,) = _entries(repo)
    stale = entry.parent / f"{'c' * 64}-{entry.name.split('-')[1]}"
    stale.write_bytes(entry.read_bytes())  # as if left by a file a purge rewrote
    link(repo, actor="tester")
    assert _entries(repo) == [entry]


def test_the_sql_is_portable_and_named():
    names = [name for name, _ in batch_identifiers_sql()]
    assert names == ["batch_call_groups", "batch_identifiers"]
    for _, sql in batch_identifiers_sql():
        assert "UNPIVOT" not in sql
        assert "QUALIFY" not in sql
    text = identifier_cases_sql()
    assert "JOIN clean_scope s" in text
    assert "JOIN dirty_scope s" not in text


def test_a_batch_gaining_a_case_it_reached_through_a_reference(repo):
    # b0's record reaches K2 through b1 (which holds it again); then b0 itself joins K2: the
    # link (b0, K2) is read record by record, so the shared record is not counted twice.
    shared = Call(PHONES[0], PHONES[1], 1)
    b0 = call_rows([shared, Call(PHONES[0], PHONES[2], 2)])
    commit(repo, b0, "b0", ["K1"])
    commit(repo, call_rows([shared, Call(PHONES[3], PHONES[1], 3)]), "b1", ["K2"])
    commit(repo, call_rows([Call(PHONES[4], PHONES[2], 4)]), "b2", ["K3"])
    link(repo, actor="tester")
    commit(repo, b0, "b0", ["K2"])
    run = link(repo, actor="tester")
    assert run.mode == "incremental"
    full = link(repo, actor="tester", full=True)
    assert alerts(repo) == list(full.alerts)
    oracle = Oracle()
    oracle.commit(0, b0, "call", ["K1", "K2"])
    oracle.commit(1, call_rows([shared, Call(PHONES[3], PHONES[1], 3)]), "call", ["K2"])
    oracle.commit(2, call_rows([Call(PHONES[4], PHONES[2], 4)]), "call", ["K3"])
    assert observed(full.alerts) == oracle.link(LinkSettings())[0]
    assert {(a.case_a, a.case_b) for a in full.alerts} == {("K1", "K2"), ("K1", "K3"), ("K2", "K3")}


def test_incremental_runs_append_to_the_kept_identifier_cases(repo):
    commit(repo, call_rows([Call(PHONES[0], PHONES[1], 1)]), "a", ["K1"])
    link(repo, actor="tester")
    for n in range(3):
        calls = [Call(PHONES[2 + n], PHONES[1], n + 2)]
        commit(repo, call_rows(calls), f"n{n}", [f"K{n + 2}"])
        assert link(repo, actor="tester").mode == "incremental"
    state = load_state(repo.root)
    assert state is not None
    assert len(state.cases.segments) == 4  # the full run's rows, then one delta per run
    kept = alerts(repo)
    assert len(kept) == 6  # PHONES[1] is a common contact of K1..K4
    full = link(repo, actor="tester", full=True)
    assert list(full.alerts) == kept
    state = load_state(repo.root)
    assert state is not None
    assert len(state.cases.segments) == 1  # a full run writes one
    folder = repo.root / "_tls" / "cache" / "link"
    assert len(list(folder.glob("identifier_cases-*.arrow"))) == 1  # earlier ones deleted


def test_a_damaged_state_segment_means_a_full_run(repo):
    commit(repo, call_rows([Call(PHONES[0], PHONES[1], 1)]), "a", ["K1"])
    link(repo, actor="tester")
    commit(repo, call_rows([Call(PHONES[2], PHONES[1], 2)]), "b", ["K2"])
    link(repo, actor="tester")
    folder = repo.root / "_tls" / "cache" / "link"
    segment = sorted(folder.glob("identifier_cases-*.arrow"))[0]
    segment.write_bytes(segment.read_bytes()[:-1])
    assert load_state(repo.root) is None
    run = link(repo, actor="tester")
    assert run.mode == "full"
    assert [(a.case_a, a.case_b) for a in run.alerts] == [("K1", "K2")]


def test_a_state_segment_damaged_in_place_means_a_full_run(repo):
    # Same size: load_state checks sizes only; the bytes fail their SHA-256 when read.
    commit(repo, call_rows([Call(PHONES[0], PHONES[1], 1)]), "a", ["K1"])
    link(repo, actor="tester")
    commit(repo, call_rows([Call(PHONES[2], PHONES[1], 2)]), "b", ["K2"])
    folder = repo.root / "_tls" / "cache" / "link"
    (segment,) = folder.glob("identifier_cases-*.arrow")
    data = bytearray(segment.read_bytes())
    data[len(data) // 2] ^= 0xFF
    segment.write_bytes(bytes(data))
    assert load_state(repo.root) is not None
    run = link(repo, actor="tester")
    assert run.mode == "full"
    assert [(a.case_a, a.case_b) for a in run.alerts] == [("K1", "K2")]
    assert link(repo, actor="tester", full=True).alerts == run.alerts


def test_an_incremental_run_reads_a_hubs_rows_of_touched_cases_only(repo):
    low = LinkSettings(hub_cases=3)
    for n in range(4):  # PHONES[1] in 4 cases: a learned hub
        commit(repo, call_rows([Call(PHONES[2 + n], PHONES[1], n + 1)]), f"a{n}", [f"K{n}"])
    link(repo, actor="tester", settings=low)
    state = load_state(repo.root)
    assert state is not None
    phone = state.cases.read_all().filter(pc.equal(pc.field("identifier"), PHONES[1]))
    kind = phone.column("kind")[0].as_py()
    changed = pa.table({"identifier": [PHONES[1], PHONES[2]], "kind": [kind, kind]})
    read = state.cases.read_changed(changed, pa.array(["K9", "K0"]), state.hubs)
    columns = (read.column(c).to_pylist() for c in ("identifier", "case_id"))
    assert sorted(zip(*columns, strict=True)) == [
        (PHONES[1], "K0"),  # the hub: its row in a touched case only
        (PHONES[2], "K0"),  # not a hub: every row
    ]
    other_kind = pa.table({"identifier": [PHONES[1]], "kind": ["not-" + str(kind)]})
    read = state.cases.read_changed(pa.concat_tables([changed, other_kind]), pa.array(["K9"]),
                                    state.hubs)  # fmt: skip
    hub_rows = read.column("identifier").to_pylist().count(PHONES[1])
    assert hub_rows == 4  # the string is also a non-hub of another kind: every row
    commit(repo, call_rows([Call(PHONES[0], PHONES[1], 9)]), "b", ["K9"])
    run = link(repo, actor="tester", settings=low)
    assert run.mode == "incremental"
    kept = alerts(repo)
    full = link(repo, actor="tester", settings=low, full=True)
    assert run.hubs == full.hubs
    assert kept == list(full.alerts)


def test_many_segments_are_rewritten_as_one(repo):
    commit(repo, call_rows([Call(PHONES[0], PHONES[1], 0)]), "a", ["K1"])
    link(repo, actor="tester")
    for n in range(MAX_SEGMENTS + 1):
        commit(repo, call_rows([Call(PHONES[0], PHONES[1], n + 1)]), f"n{n}", ["K1"])
        link(repo, actor="tester")
    state = load_state(repo.root)
    assert state is not None
    assert len(state.cases.segments) <= MAX_SEGMENTS
    records = state.cases.read_all().column("records")
    assert int(pc.sum(records).as_py()) == 2 * (MAX_SEGMENTS + 2)
