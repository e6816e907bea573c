"""Differential tests: the SQL linker equals the brute-force oracle; incremental equals full."""

from __future__ import annotations

import tempfile
from pathlib import Path

import duckdb
import pyarrow as pa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from linkkit import Call, call_rows, commit, party_rows
from oracle import Oracle, observed

from tls_core.link import (
    LinkSettings,
    alerts,
    create_occurrences,
    identifier_weights_sql,
    link,
)
from tls_core.link._compute import register_suppression as _register_suppression
from tls_core.link._pairs import run_pair_steps
from tls_core.link._state import load_state
from tls_core.link._steps import register
from tls_core.store import Repository

PHONES = [f"+120255501{i:02d}" for i in range(1, 7)]
OTHERS = [*PHONES, "911", "+18056377249"]
IMEIS = ["490154203237518", "490154203237510", "4901542032375178", "352099001761481"]
IMSIS = ["310260000000001", "310260000000002"]
CASES = ["K1", "K2", "K3", "K4", "K5"]
SETTINGS = LinkSettings(hub_cases=3)

calls = st.builds(
    Call,
    target=st.sampled_from(PHONES[:4]),
    other=st.sampled_from(OTHERS),
    minute=st.integers(0, 4),
    outgoing=st.booleans(),
    imei=st.none() | st.sampled_from(IMEIS),
    imsi=st.none() | st.sampled_from(IMSIS),
)
call_batch = st.tuples(st.just("call"), st.lists(calls, min_size=1, max_size=6))
party_batch = st.tuples(
    st.sampled_from(["subscriber", "misc"]),
    st.lists(st.tuples(st.sampled_from(PHONES), st.none() | st.sampled_from(IMEIS)), max_size=3),
)
batches = st.lists(
    st.tuples(call_batch | party_batch, st.sets(st.sampled_from(CASES), min_size=1, max_size=2)),
    min_size=1,
    max_size=5,
)


def _table(spec) -> pa.Table:
    record_type, items = spec
    if record_type == "call":
        table = call_rows(items)
    else:
        parts = [
            party_rows([ident], misc=record_type == "misc", imei=imei) for ident, imei in items
        ]
        table = pa.concat_tables(parts) if parts else party_rows([], misc=record_type == "misc")
    # One row per record id within a batch (a batch's own duplicates are not under test here).
    ids = table.column("record_id").to_pylist()
    keep = [i for i, rid in enumerate(ids) if rid not in ids[:i]]
    return table.take(pa.array(keep, pa.int64()))


def _commit_all(repo, oracle, specs) -> list[str]:
    batch_ids = []
    for n, (spec, cases) in enumerate(specs):
        table = _table(spec)
        report = commit(repo, table, f"source-{n}", sorted(cases), spec[0])
        oracle.commit(n, table, spec[0], sorted(cases))
        batch_ids.append(report.batch_id)
    return batch_ids


def _hubs(run):
    return {(h.identifier, h.kind, h.reason, h.cases) for h in run.hubs}


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(specs=batches)
def test_sql_linker_equals_the_oracle(specs):
    with tempfile.TemporaryDirectory() as tmp:
        repo = Repository.open(Path(tmp) / "repo")
        oracle = Oracle()
        _commit_all(repo, oracle, specs)
        run = link(repo, actor="tester", settings=SETTINGS)
        expected_links, expected_hubs = oracle.link(SETTINGS)
        assert observed(run.alerts) == expected_links
        assert _hubs(run) == expected_hubs
        pairs = [(a.case_a, a.case_b) for a in run.alerts]
        assert len(pairs) == len(set(pairs))  # one alert per case pair
        _occurrences_agree_with_the_link_state(repo)


def _occurrences_agree_with_the_link_state(repo) -> None:
    # The search index reads ``occurrences``; the linker aggregates call groups instead.
    state = load_state(repo.root)
    assert state is not None
    con = repo.snapshot().connect()
    try:
        create_occurrences(con)
        grouped = con.execute(
            "SELECT identifier, kind, case_id, role, variant, COUNT(DISTINCT record_id), "
            "COUNT(*), MIN(seen_utc), MAX(seen_utc), MIN(target), MAX(target) "
            "FROM occurrences GROUP BY ALL"
        ).fetchall()
    finally:
        con.close()
    assert all(row[5] == row[6] for row in grouped)  # each occurrence once
    from_occurrences = sorted(row[:5] + row[6:] for row in grouped)
    from_state = sorted(tuple(r.values()) for r in state.cases.read_all().to_pylist())
    assert from_occurrences == from_state
    # The kept weights (a full run counts them over keys it knows unique) are the SQL's.
    con = duckdb.connect()
    con.register("identifier_cases", state.cases.read_all())
    counted = sorted(con.execute(identifier_weights_sql()).fetchall())
    con.close()
    kept = state.weights.read_merged()
    assert sorted(tuple(r.values()) for r in kept.to_pylist()) == counted


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(specs=batches, unlinks=st.lists(st.tuples(st.integers(0, 5), st.sampled_from(CASES))))
def test_incremental_runs_equal_a_full_relink(specs, unlinks):
    with tempfile.TemporaryDirectory() as tmp:
        repo = Repository.open(Path(tmp) / "repo")
        oracle = Oracle()
        batch_ids = []
        for n, (spec, cases) in enumerate(specs):
            table = _table(spec)
            batch_ids.append(commit(repo, table, f"s{n}", sorted(cases), spec[0]).batch_id)
            oracle.commit(n, table, spec[0], sorted(cases))
            _link_and_check_changed(repo)
        for index, case in unlinks[:2]:
            if index < len(batch_ids) and case in oracle.batch_cases[index]:
                repo.unlink(batch_ids[index], case, actor="tester")
                oracle.unlink(index, case)
                _link_and_check_changed(repo)
        last = _link_and_check_changed(repo)
        current = alerts(repo)
        full = link(repo, actor="tester", settings=SETTINGS, full=True)
        assert current == alerts(repo) == list(full.alerts)
        assert last.hubs == full.hubs
        assert last.alert_count == full.alert_count == len(current)
        assert observed(full.alerts) == oracle.link(SETTINGS)[0]


def _link_and_check_changed(repo):
    """Link; the run's alerts are exactly those new or changed (a full run: all of them)."""
    before = alerts(repo)
    run = link(repo, actor="tester", settings=SETTINGS)
    after = alerts(repo)
    if run.mode == "incremental":
        assert list(run.alerts) == [a for a in after if a not in before]
    else:
        assert list(run.alerts) == after
    return run


def test_imei_spellings_grade_tac_snr(repo):
    commit(repo, call_rows([Call(PHONES[0], PHONES[1], 1, imei=IMEIS[0])]), "a", ["K1"])
    commit(repo, call_rows([Call(PHONES[2], PHONES[3], 1, imei=IMEIS[1])]), "b", ["K2"])
    (alert,) = link(repo, actor="tester").alerts
    (item,) = alert.evidence
    assert (item.link_type, item.grade) == ("device_continuity", "imei_tac_snr")
    assert item.identifier == IMEIS[0]


def test_a_hub_in_200_cases_forms_no_pairs(repo):
    # Skew: a number in every case must cost a row per case, not a pair per two cases.
    hub = PHONES[5]
    cases = [f"H{n:03d}" for n in range(200)]
    commit(repo, call_rows([Call(PHONES[0], hub, 1)]), "everywhere", cases)
    commit(repo, call_rows([Call(PHONES[1], PHONES[2], 2)]), "a", ["H000"])
    commit(repo, call_rows([Call(PHONES[3], PHONES[2], 3)]), "b", ["H001"])
    run = link(repo, actor="tester")
    ((a, b, types),) = [(x.case_a, x.case_b, x.link_types) for x in run.alerts]
    assert (a, b, types) == ("H000", "H001", ("common_contact",))
    assert {(h.identifier, h.reason, h.cases) for h in run.hubs} == {
        (hub, "learned", 200),
        (PHONES[0], "learned", 200),
    }
    state = load_state(repo.root)
    assert state is not None
    con = repo.snapshot().connect()
    try:
        register(con, "identifier_cases", state.cases.read_all())
        _register_suppression(con, LinkSettings())
        run_pair_steps(con, hub_cases=LinkSettings().hub_cases)
        (shared,) = con.execute("SELECT count(*) FROM shared_identifiers").fetchall()
        assert shared == (2,)  # only the common contact, in its two cases: no hub row
    finally:
        con.close()
