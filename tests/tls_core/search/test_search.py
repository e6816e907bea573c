"""search(): spellings, graded matches, notifications, audit and restriction (issue 6)."""

from __future__ import annotations

import pytest
from searchkit import commit_calls, commit_subscribers, search_as

from tls_core.errors import AccessDenied, IdentifierError

TARGET_A = "+12065550101"
TARGET_B = "+17135550102"
SHARED = "+12135550142"


_run = search_as


@pytest.fixture
def two_cases(repo, office):
    office.open_case("alice", "SEA-1", owner="alice")
    office.open_case("bob", "HOU-2", owner="bob")
    commit_calls(repo, "SEA-1", "sea.csv", [(TARGET_A, SHARED, 0), (TARGET_A, SHARED, 5)])
    commit_calls(repo, "HOU-2", "hou.csv", [(TARGET_B, SHARED, 10), (TARGET_B, TARGET_A, 20)])
    return repo


@pytest.mark.parametrize(
    "spelling",
    ["(213) 555-0142", "+1 213 555 0142", "12135550142", "2135550142.0", "011 1 213 555 0142"],
)
def test_spellings_find_the_same_records(two_cases, office, spelling):
    result = _run(two_cases, office, spelling)
    assert result.canonical == SHARED
    assert [c.case_number for c in result.cases] == ["HOU-2", "SEA-1"]
    assert {c.case_number: c.records for c in result.cases} == {"HOU-2": 1, "SEA-1": 2}
    assert {r.grade for r in result.records} == {"exact"}
    assert {r.role for r in result.records} == {"contact"}
    assert result.restricted == ()


def test_all_spellings_give_identical_records(two_cases, office):
    results = [_run(two_cases, office, s).records for s in ("(213) 555-0142", "+12135550142")]
    assert results[0] == results[1]
    assert len(results[0]) == 3


def test_national_number_match_is_graded(repo, office):
    office.open_case("alice", "SEA-1", owner="alice")
    commit_calls(repo, "SEA-1", "sea.csv", [(TARGET_A, "+442135550142", 0), (TARGET_A, SHARED, 1)])
    result = _run(repo, office, "213-555-0142")
    grades = {r.canonical: r.grade for r in result.records}
    assert grades == {SHARED: "exact", "+442135550142": "national_number"}
    assert result.cases[0].grade == "exact"


def test_imei_without_check_digit_finds_the_canonical_one(repo, office):
    office.open_case("alice", "SEA-1", owner="alice")
    commit_subscribers(
        repo, "SEA-1", "subs.csv", [("imei", "490154203237518"), ("imei", "490154203237609")]
    )
    exact = _run(repo, office, "490154203237518", kind="imei")
    short = _run(repo, office, "49015420323751", kind="imei")
    assert [r.canonical for r in exact.records] == ["490154203237518"]
    assert exact.records[0].grade == "exact"
    assert [r.canonical for r in short.records] == ["490154203237518"]
    assert short.records[0].grade == "imei_tac_snr"


def test_meid_finds_its_pseudo_esn(repo, office):
    office.open_case("alice", "SEA-1", owner="alice")
    commit_subscribers(repo, "SEA-1", "subs.csv", [("esn", "8051F1AB"), ("meid", "A0000000002329")])
    result = _run(repo, office, "A0000000002329", kind="meid")
    assert {r.canonical: r.grade for r in result.records} == {
        "A0000000002329": "exact",
        "8051F1AB": "meid_pesn",
    }
    from_esn = _run(repo, office, "8051F1AB", kind="esn")
    assert {r.canonical: r.grade for r in from_esn.records} == {
        "8051F1AB": "exact",
        "A0000000002329": "meid_pesn",
    }


def test_other_owner_is_notified_with_the_searchers_name_and_phone(two_cases, office):
    result = _run(two_cases, office, "213 555 0142")
    assert result.notified == 1
    (note,) = office.notifications("bob")
    assert "Alice Able" in note.subject
    assert "+1 206 555 0100" in note.body
    assert "213 555 0142" in note.body
    assert "HOU-2" in note.body
    assert office.notifications("alice") == []  # her own case: no notice to herself


def test_search_is_audited_with_criteria(two_cases, office):
    _run(two_cases, office, "213 555 0142")
    events = [e for e in office.read_audit("opr", user="alice") if e.action == "search"]
    assert len(events) == 1
    assert events[0].outcome == "ok"
    assert events[0].criteria["value"] == "213 555 0142"
    assert events[0].criteria["canonical"] == SHARED
    assert set(events[0].case_numbers) == {"SEA-1", "HOU-2"}


def test_opr_search_notifies_no_one_and_is_audited(two_cases, office):
    result = _run(two_cases, office, SHARED, actor="opr")
    assert result.notified == 0
    assert office.notifications("alice") == []
    assert office.notifications("bob") == []
    events = [e for e in office.read_audit("opr", user="opr") if e.action == "search"]
    assert [e.outcome for e in events] == ["ok"]


def test_restricted_case_is_a_pointer_naming_the_supervisor(two_cases, office):
    office.set_restricted("bob", "HOU-2", True)
    result = _run(two_cases, office, SHARED)
    assert [c.case_number for c in result.cases] == ["SEA-1"]
    assert {r.case_number for r in result.records} == {"SEA-1"}
    (pointer,) = result.restricted
    assert pointer.message == "a restricted case holds this identifier"
    assert pointer.contact is not None
    assert pointer.contact.name == "Chief Cho"  # bob's supervisor
    assert pointer.contact.phone == "+1 202 555 0199"
    assert "HOU-2" not in repr(result)
    assert "Bob" not in repr(result)


def test_unknown_or_lapsed_searcher_is_denied_and_audited(two_cases, office):
    with pytest.raises(AccessDenied):
        _run(two_cases, office, SHARED, actor="old")
    events = [e for e in office.read_audit("opr", user="old") if e.action == "search"]
    assert [e.outcome for e in events] == ["denied"]
    assert office.notifications("bob") == []


def test_no_hit_is_audited_and_notifies_no_one(two_cases, office):
    result = _run(two_cases, office, "+15035550123")
    assert result.cases == ()
    assert result.records == ()
    assert result.notified == 0
    events = [e for e in office.read_audit("opr", user="alice") if e.action == "search"]
    assert [e.outcome for e in events] == ["ok"]


def test_unparseable_value_is_an_identifier_error(two_cases, office):
    with pytest.raises(IdentifierError) as info:
        _run(two_cases, office, "555-0142")
    assert info.value.reason == "local_only_number"


def test_device_imei_written_with_another_check_digit_grades_tac_snr(repo, office):
    office.open_case("alice", "SEA-1", owner="alice")
    commit_calls(repo, "SEA-1", "sea.csv", [(TARGET_A, SHARED, 0)], target_imei="490154203237510")
    result = _run(repo, office, "490154203237518", kind="imei")
    (hit,) = result.records
    assert (hit.role, hit.canonical, hit.grade) == ("device", "490154203237518", "imei_tac_snr")
    assert hit.target == TARGET_A
