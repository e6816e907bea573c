"""Stateful property: a user outside a restricted case's team and chain never observes it.

Random users create, close, restrict and unrestrict cases, change teams and supervisors, let
training lapse and renew it, search and export. An independent model of who relates to which
case decides what each observation may contain; the real store (SQLite files) must agree.
"""

from __future__ import annotations

import shutil
import tempfile
from datetime import timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from icm_bridge import CaseStore
from tests.icm_bridge.conftest import TODAY, Clock, make_store, user
from tls_core.errors import AccessDenied, TrainingLapsed

OWNERS = ["chief", "s1", "a1", "a2", "a3"]
WORKERS = [*OWNERS, "an1", "opr", "opla"]
NUMBERS = [f"C-{i}" for i in range(6)]


class RestrictionMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.tmp = Path(tempfile.mkdtemp(prefix="tls-stateful-"))
        self.store: CaseStore = make_store(self.tmp, Clock(), None)
        self.owner: dict[str, str] = {}
        self.team: dict[str, set[str]] = {}
        self.restricted: dict[str, bool] = {}
        self.closed: set[str] = set()
        self.boss: dict[str, str | None] = {}
        self.lapsed: set[str] = set()
        self.observations = 0

    @initialize()
    def people(self) -> None:
        s = self.store
        s.add_user(None, user("admin", "admin"))
        for uid, role, boss in [
            ("chief", "supervisor", None), ("s1", "supervisor", "chief"), ("a1", "agent", "s1"),
            ("a2", "agent", "chief"), ("a3", "agent", None), ("an1", "analyst", "s1"),
            ("opr", "opr", None), ("opla", "opla", None),
        ]:  # fmt: skip
            s.add_user("admin", user(uid, role, supervisor=boss))
            self.boss[uid] = boss

    def teardown(self) -> None:
        self.store.engine.dispose()
        self.store.audit.engine.dispose()
        shutil.rmtree(self.tmp, ignore_errors=True)

    # -- the independent model --------------------------------------------------------------

    def chain(self, uid: str) -> set[str]:
        seen: set[str] = set()
        current = self.boss.get(uid)
        while current is not None and current not in seen and current != uid:
            seen.add(current)
            current = self.boss.get(current)
        return seen

    def insider(self, uid: str, number: str) -> bool:
        owner = self.owner[number]
        return uid == owner or uid in self.team[number] or uid in self.chain(owner)

    def owner_may_manage(self, number: str) -> bool:
        # The owner restricts and manages open or restricted cases, not closed open ones.
        return self.restricted[number] or number not in self.closed

    def may_observe(self, uid: str, number: str) -> bool:
        return number in self.owner and (not self.restricted[number] or self.insider(uid, number))

    # -- rules ------------------------------------------------------------------------------

    @rule(number=st.sampled_from(NUMBERS), owner=st.sampled_from(OWNERS), restricted=st.booleans())
    def open_case(self, number: str, owner: str, restricted: bool) -> None:
        if number in self.owner or owner in self.lapsed:
            return
        self.store.open_case(owner, number, owner=owner, restricted=restricted)
        self.owner[number], self.team[number] = owner, set()
        self.restricted[number] = restricted

    @rule(number=st.sampled_from(NUMBERS), flag=st.booleans())
    def restrict(self, number: str, flag: bool) -> None:
        if number not in self.owner or self.owner[number] in self.lapsed:
            return
        if not self.owner_may_manage(number):
            with pytest.raises(AccessDenied):
                self.store.set_restricted(self.owner[number], number, flag)
            return
        self.store.set_restricted(self.owner[number], number, flag)
        self.restricted[number] = flag

    @rule(number=st.sampled_from(NUMBERS))
    def close(self, number: str) -> None:
        if number not in self.owner or self.owner[number] in self.lapsed:
            return
        if not self.owner_may_manage(number):
            with pytest.raises(AccessDenied):
                self.store.close_case(self.owner[number], number)
            return
        self.store.close_case(self.owner[number], number)
        self.closed.add(number)

    @rule(number=st.sampled_from(NUMBERS), member=st.sampled_from(WORKERS), add=st.booleans())
    def team_change(self, number: str, member: str, add: bool) -> None:
        if number not in self.owner or self.owner[number] in self.lapsed:
            return
        owner = self.owner[number]
        if not self.owner_may_manage(number):
            with pytest.raises(AccessDenied):
                self.store.change_team(owner, number, add=[member])
            return
        if add:
            self.store.change_team(owner, number, add=[member])
            self.team[number].add(member)
        else:
            self.store.change_team(owner, number, remove=[member])
            self.team[number].discard(member)

    @rule(uid=st.sampled_from(WORKERS), boss=st.sampled_from([*OWNERS, None]))
    def supervisor_change(self, uid: str, boss: str | None) -> None:
        self.store.update_user("admin", uid, supervisor=boss or "")
        self.boss[uid] = boss

    @rule(uid=st.sampled_from(WORKERS), lapse=st.booleans())
    def training(self, uid: str, lapse: bool) -> None:
        day = TODAY - timedelta(days=400) if lapse else TODAY
        self.store.update_user("admin", uid, trained_on=day)
        (self.lapsed.add if lapse else self.lapsed.discard)(uid)

    @rule(uid=st.sampled_from(WORKERS), wanted=st.sets(st.sampled_from([*NUMBERS, "C-none"])))
    def search(self, uid: str, wanted: set[str]) -> None:
        if uid in self.lapsed:
            with pytest.raises(TrainingLapsed):
                self.store.visible_cases(uid, wanted)
            return
        seen = self.store.visible_cases(uid, wanted)
        self.observations += len(seen)
        assert seen == {n for n in wanted if self.may_observe(uid, n)}
        one_by_one = set()  # the batched decision equals the per-case check
        for number in wanted:
            try:
                self.store.check(uid, "search-hit", number)
            except AccessDenied:
                continue
            one_by_one.add(number)
        assert seen == one_by_one

    @rule(uid=st.sampled_from(WORKERS), number=st.sampled_from([*NUMBERS, "C-none"]))
    def view_and_export(self, uid: str, number: str) -> None:
        for attempt in (
            lambda: self.store.show_case(uid, number),
            lambda: self.store.check(uid, "export", number),
            lambda: self.store.owner_contact(uid, number),
        ):
            try:
                attempt()
            except AccessDenied as err:
                text = str(err).replace(number, "#")
                assert "exist" not in text
                continue
            assert uid not in self.lapsed
            assert self.may_observe(uid, number)

    @invariant()
    def restricted_cases_stay_inside(self) -> None:
        for number, restricted in self.restricted.items():
            if restricted:
                for uid in WORKERS:
                    if uid not in self.lapsed and not self.insider(uid, number):
                        assert number not in self.store.visible_cases(uid, [number])


RestrictionMachine.TestCase.settings = settings(
    max_examples=50,
    stateful_step_count=20,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TestRestriction = RestrictionMachine.TestCase
