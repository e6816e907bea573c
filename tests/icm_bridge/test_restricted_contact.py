"""CaseStore.restricted_contact: whom to ask about a case one may not see (issue 6)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from icm_bridge import CaseStore
from tls_core.errors import AccessDenied, TrainingLapsed


def test_names_the_owners_nearest_supervisor(office: CaseStore) -> None:
    office.open_case("alice", "C-R", owner="alice", restricted=True)
    contact = office.restricted_contact("bob", "C-R")
    assert contact.user_id == "sup"  # alice's direct supervisor, not the chief
    assert contact.name == "Sup"


def test_no_supervisor_and_missing_case_read_the_same(office: CaseStore) -> None:
    office.open_case("chief", "C-T", owner="chief", restricted=True)  # chief has no supervisor
    texts = []
    for number in ("C-T", "nope"):
        with pytest.raises(AccessDenied) as info:
            office.restricted_contact("bob", number)
        texts.append(str(info.value).replace(number, "#"))
    assert texts[0] == texts[1]


def test_unknown_or_untrained_actor_is_refused(office: CaseStore, clock) -> None:
    office.open_case("alice", "C-R", owner="alice", restricted=True)
    with pytest.raises(AccessDenied):
        office.restricted_contact("mallory", "C-R")
    clock.now += timedelta(days=400)
    with pytest.raises(TrainingLapsed):
        office.restricted_contact("bob", "C-R")


def test_every_call_is_audited_with_its_case_and_outcome(office: CaseStore) -> None:
    office.open_case("alice", "C-R", owner="alice", restricted=True)
    office.restricted_contact("bob", "C-R")
    with pytest.raises(AccessDenied):
        office.restricted_contact("bob", "C-NONE")
    with pytest.raises(AccessDenied):
        office.restricted_contact("mallory", "C-R")
    events = [
        (r.actor, r.case_numbers, r.outcome)
        for r in office.audit.show()
        if r.action == "restricted-contact"
    ]
    assert events == [
        ("bob", ("C-R",), "ok"),
        ("bob", ("C-NONE",), "denied"),
        ("mallory", ("C-R",), "denied"),
    ]
    assert office.audit.verify().ok
