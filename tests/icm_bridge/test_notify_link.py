"""CaseStore.notify_link: link alerts to both owners, restricted cases as pointers (issue 6)."""

from __future__ import annotations

from icm_bridge import CaseStore
from tls_core.protocols import LinkNotice, LinkNotifier


def _notice(a: str = "C-A", b: str = "C-B", status: str = "new") -> LinkNotice:
    return LinkNotice(
        actor="admin",
        alert_id="0" * 32,
        case_a=a,
        case_b=b,
        status=status,  # type: ignore[arg-type]
        link_types=("direct_contact",),
        strength=0.4,
        identifiers=(("phone", "+12025550142", "direct_contact"),),
    )


def _open(office: CaseStore, *, restricted_b: bool = False) -> None:
    office.open_case("alice", "C-A", owner="alice")
    office.open_case("bob", "C-B", owner="bob", restricted=restricted_b)


def test_both_owners_hear_of_the_other_case_and_its_owner(office: CaseStore) -> None:
    _open(office)
    assert isinstance(office, LinkNotifier)
    assert office.notify_link(_notice()) == 2
    (to_alice,) = office.notifications("alice")
    (to_bob,) = office.notifications("bob")
    assert "C-B" in to_alice.subject
    assert "Bob (bob" in to_alice.body
    assert "+12025550142" in to_alice.body
    assert "direct_contact" in to_alice.body
    assert "C-A" in to_bob.subject
    assert "Alice (alice, +1 206 555 0100" in to_bob.body


def test_a_restricted_case_is_a_pointer_without_its_number(office: CaseStore) -> None:
    _open(office, restricted_b=True)
    office.notify_link(_notice())
    (to_alice,) = office.notifications("alice")
    assert "C-B" not in to_alice.subject + to_alice.body
    assert "bob" not in to_alice.body.lower()
    assert "a restricted case shares" in to_alice.body
    assert "contact Chief (chief" in to_alice.body  # bob's supervisor
    (to_bob,) = office.notifications("bob")  # the owner of the restricted case sees C-A
    assert "C-A" in to_bob.body


def test_one_owner_of_both_cases_gets_one_message(office: CaseStore) -> None:
    office.open_case("alice", "C-A", owner="alice")
    office.open_case("alice", "C-B", owner="alice")
    assert office.notify_link(_notice(status="update")) == 1
    (note,) = office.notifications("alice")
    assert "Updated link" in note.body


def test_unknown_cases_notify_nobody_and_the_call_is_audited(office: CaseStore) -> None:
    office.open_case("alice", "C-A", owner="alice")
    assert office.notify_link(_notice(b="C-UNKNOWN")) == 0
    assert office.notifications("alice") == []
    events = office.read_audit("opr", case_number="C-A")
    assert any(e.action == "notify-link" and e.outcome == "ok" for e in events)
