"""search()'s records built when read (RecordHits) and its one case-store transaction."""

from __future__ import annotations

from dataclasses import replace

import pytest
from searchkit import commit_calls, open_office, search_as

from icm_bridge import CaseStore
from tls_core.errors import AccessDenied
from tls_core.protocols import AuditEvent, BatchDirectory, Contact, QueryNotice, SearchRecorder
from tls_core.search import RecordHit, RecordHits, search

TARGET_A = "+12065550101"
TARGET_B = "+17135550102"
SHARED = "+12135550142"


def _open_cases(office: CaseStore) -> None:
    office.open_case("alice", "SEA-1", owner="alice")
    office.open_case("bob", "HOU-2", owner="bob")
    office.open_case("bob", "NYC-3", owner="bob", restricted=True)
    office.open_case("chief", "LAX-4", owner="chief", restricted=True)  # no one above chief


@pytest.fixture
def three_cases(repo, office):
    _open_cases(office)
    commit_calls(repo, "SEA-1", "sea.csv", [(TARGET_A, SHARED, i) for i in range(7)])
    commit_calls(repo, "HOU-2", "hou.csv", [(TARGET_B, SHARED, 10 + i) for i in range(5)])
    commit_calls(repo, "NYC-3", "nyc.csv", [(TARGET_B, SHARED, 30)])
    commit_calls(repo, "LAX-4", "lax.csv", [(TARGET_B, SHARED, 40)])
    return repo


class _Notifier:
    """The office as a plain NotificationSink (not a SearchRecorder): the two-call path."""

    def __init__(self, office: CaseStore) -> None:
        self.office = office

    def notify_query(self, notice: QueryNotice) -> int:
        return self.office.notify_query(notice)


class _Directory:
    """The office as a plain CaseDirectory (not a BatchDirectory): one call per hidden case."""

    def __init__(self, office: CaseStore) -> None:
        self.office = office

    def owner_contact(self, actor: str, case_number: str) -> Contact:
        return self.office.owner_contact(actor, case_number)

    def restricted_contact(self, actor: str, case_number: str) -> Contact:
        return self.office.restricted_contact(actor, case_number)


class _Audit:
    """The office as a plain AuditSink."""

    def __init__(self, office: CaseStore) -> None:
        self.office = office

    def append(self, event: AuditEvent) -> int:
        return self.office.append(event)


def _trail(office: CaseStore) -> list[tuple[object, ...]]:
    return [
        (e.actor, e.role, e.action, e.outcome, e.case_numbers, dict(e.criteria))
        for e in office.read_audit("opr")
        if e.action in ("search", "notify-query", "restricted-contact")
    ]


def _notes(office: CaseStore, user: str) -> list[tuple[str, str]]:
    return [(n.subject, n.body) for n in office.notifications(user)]


def test_the_case_store_is_a_search_recorder_and_a_batch_directory(office):
    assert isinstance(office, SearchRecorder)
    assert isinstance(office, BatchDirectory)


def test_hidden_cases_are_pointers_in_one_round_trip(three_cases, office):
    result = search_as(three_cases, office, SHARED)
    assert [c.case_number for c in result.cases] == ["HOU-2", "SEA-1"]
    assert [None if p.contact is None else p.contact.name for p in result.restricted] == [
        None,  # LAX-4: its owner has no supervisor on file
        "Chief Cho",  # NYC-3: bob's supervisor
    ]
    trail = {
        e.case_numbers: e.outcome
        for e in office.read_audit("opr", user="alice")
        if e.action == "restricted-contact"
    }
    assert trail == {("LAX-4",): "denied", ("NYC-3",): "ok"}
    assert "LAX-4" not in repr(result)
    assert "NYC-3" not in repr(result)


def test_batched_contacts_of_an_unknown_actor_are_denied_and_audited(office):
    _open_cases(office)
    with pytest.raises(AccessDenied):
        office.restricted_contacts("nobody", ["NYC-3", "LAX-4", "NYC-3"])
    trail = [(e.action, e.case_numbers, e.outcome) for e in office.read_audit("opr", user="nobody")]
    assert trail == [
        ("restricted-contact", ("NYC-3",), "denied"),
        ("restricted-contact", ("LAX-4",), "denied"),
    ]
    assert office.restricted_contacts("alice", []) == {}


@pytest.mark.parametrize("actor", ["alice", "opr", "carol"])
def test_one_transaction_leaves_the_trail_of_two_calls(three_cases, office, tmp_path, actor):
    (tmp_path / "other").mkdir()
    other = open_office(tmp_path / "other")
    try:
        _open_cases(other)
        one = search_as(three_cases, office, SHARED, actor=actor)
        two = search(
            three_cases,
            SHARED,
            actor=actor,
            access=other,
            directory=_Directory(other),
            notifier=_Notifier(other),
            audit=_Audit(other),
        )
        assert replace(one, index="current") == two
        assert _trail(office) == _trail(other)
        assert [e[2] for e in _trail(office)][-1] == "search"
        for user in ("alice", "bob", "chief"):
            assert _notes(office, user) == _notes(other, user)
        queued = sum(len(_notes(office, u)) for u in ("alice", "bob", "chief"))
        assert one.notified == two.notified == queued
        assert (queued == 0) == (actor == "opr")
    finally:
        other.engine.dispose()
        other.audit.engine.dispose()


def test_a_failed_record_search_queues_nothing_and_audits_the_notice(office):
    _open_cases(office)
    notice = QueryNotice("old", {"value": SHARED}, ("HOU-2",))  # lapsed training
    with pytest.raises(AccessDenied):
        office.record_search(notice, AuditEvent("old", "search", "ok", ("HOU-2",)))
    assert office.notifications("bob") == []
    trail = [(e.action, e.outcome) for e in office.read_audit("opr", user="old")]
    assert trail == [("notify-query", "denied")]  # the search event was not appended


def test_records_are_built_when_read_and_equal_to_tuples(three_cases, office):
    result = search_as(three_cases, office, SHARED)
    hits = result.records
    assert isinstance(hits, RecordHits)
    assert len(hits) == 12  # SEA-1 and HOU-2; NYC-3 and LAX-4 are restricted
    built = tuple(hits)
    assert all(isinstance(h, RecordHit) for h in built)
    assert hits == built
    assert built == hits
    assert hits == list(built)
    assert hash(hits) == hash(built)
    assert [hits[i] for i in range(len(hits))] == list(built)
    assert hits[-1] == built[-1]
    assert hits[-12] == built[0]
    assert hits[2:5] == built[2:5]
    assert isinstance(hits[2:5], tuple)
    assert hits[::-1] == built[::-1]
    with pytest.raises(IndexError):
        hits[12]
    with pytest.raises(IndexError):
        hits[-13]
    assert hits != built[:-1]
    assert hits != "not records"
    assert repr(hits) == "RecordHits(12 records)"
    assert [h.case_number for h in built] == ["HOU-2"] * 5 + ["SEA-1"] * 7
    assert {h.canonical for h in built} == {SHARED}
    assert {(h.grade, h.kind, h.role, h.record_type) for h in built} == {
        ("exact", "phone", "contact", "call")
    }
    assert all(h.seen_utc is not None and h.seen_utc.tzinfo is not None for h in built)
    assert {h.target for h in built} == {TARGET_A, TARGET_B}


@pytest.mark.parametrize("limit", [0, 1, 4, 5, 6, 11, 12, 13])
def test_a_limit_keeps_the_first_records(three_cases, office, limit):
    full = search_as(three_cases, office, SHARED, limit=1000)
    limited = search_as(three_cases, office, SHARED, limit=limit)
    assert limited.records == full.records[:limit]
    assert len(limited.records) == min(limit, 12)
    assert limited.truncated == (limit < 12)
    assert limited.cases == full.cases


def test_record_hits_hold_slices_or_built_records_not_both():
    assert len(RecordHits()) == 0
    assert RecordHits() == ()
    with pytest.raises(IndexError):
        RecordHits()[0]
