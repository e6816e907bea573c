"""The occurrences step: roles, record-case membership through references, devices."""

from __future__ import annotations

from linkkit import Call, call_rows, commit, party_rows

from tls_core.link import OCCURRENCE_COLUMNS, create_occurrences

A, B, C = "+12025550101", "+12025550102", "+12025550103"
IMEI = "490154203237518"


def _rows(repo):
    con = repo.snapshot().connect()
    create_occurrences(con)
    cols = ", ".join(OCCURRENCE_COLUMNS)
    rel = con.execute(f"SELECT {cols} FROM occurrences ORDER BY ALL").fetchall()
    return [dict(zip(OCCURRENCE_COLUMNS, r, strict=True)) for r in rel]


def test_roles_of_a_call_record(repo):
    calls = [Call(A, B, 1, imei="49-015420-323751-0", imsi="310260000000001")]
    commit(repo, call_rows(calls), "f1", ["K1"])
    got = {(r["identifier"], r["role"], r["case_id"], r["variant"]) for r in _rows(repo)}
    assert got == {
        (A, "target", "K1", ""),
        (B, "contact", "K1", ""),
        (IMEI, "device", "K1", "0"),
        ("310260000000001", "device", "K1", ""),
    }


def test_a_record_belongs_to_every_case_of_every_batch_holding_it(repo):
    first = [Call(A, B, m) for m in range(3)]
    commit(repo, call_rows(first), "f1", ["K1"])
    # The same records again (a re-export) for another case, plus one new record.
    commit(repo, call_rows([*first, Call(A, C, 9)]), "f2", ["K1", "K2"])
    rows = _rows(repo)
    per_case = {}
    for r in rows:
        if r["role"] == "target":
            per_case.setdefault(r["case_id"], set()).add(r["record_id"])
    assert {k: len(v) for k, v in per_case.items()} == {"K1": 4, "K2": 4}
    keys = [(r["identifier"], r["role"], r["case_id"], r["record_id"]) for r in rows]
    assert len(keys) == len(set(keys))


def test_party_records_and_rejected_devices(repo):
    commit(repo, party_rows([B], imei="not an imei"), "s1", ["S1"], "subscriber")
    commit(repo, party_rows([C], misc=True), "m1", ["M1"], "misc")
    got = {(r["identifier"], r["role"], r["case_id"], r["record_type"]) for r in _rows(repo)}
    assert got == {(B, "subscriber", "S1", "subscriber"), (C, "misc", "M1", "misc")}


def test_unlinked_batches_leave_their_case(repo):
    report = commit(repo, call_rows([Call(A, B, 1)]), "f1", ["K1", "K2"])
    repo.unlink(report.batch_id, "K2", actor="tester")
    assert {r["case_id"] for r in _rows(repo)} == {"K1"}
