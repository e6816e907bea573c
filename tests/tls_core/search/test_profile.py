"""target_profile(): equals a brute-force count over the generated records."""

from __future__ import annotations

import itertools
import tempfile
from collections import defaultdict
from datetime import timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from searchkit import T0, commit_calls

from tls_core.errors import AccessDenied
from tls_core.search import target_profile
from tls_core.store import Repository

TARGETS = [f"+1303555000{i}" for i in range(3)]
POOL = [f"+1202555010{k}" for k in range(5)] + TARGETS
_RUN = itertools.count()

calls_st = st.lists(
    st.tuples(st.sampled_from(TARGETS), st.sampled_from(POOL), st.integers(0, 50)).filter(
        lambda c: c[0] != c[1]
    ),
    min_size=1,
    max_size=25,
)


def _brute(calls, top):
    calls = set(calls)  # the store keeps a record once
    per_target = defaultdict(list)
    for target, other, minute in calls:
        per_target[target].append((other, T0 + timedelta(minutes=minute)))
    targets = {}
    contact_targets = defaultdict(dict)
    for target, rows in per_target.items():
        times = [t for _, t in rows]
        counts = defaultdict(list)
        for other, t in rows:
            counts[other].append(t)
        ranked = sorted(counts.items(), key=lambda kv: (-len(kv[1]), kv[0]))[:top]
        targets[target] = (
            len(rows),
            min(times),
            max(times),
            [(o, len(ts), min(ts), max(ts)) for o, ts in ranked],
        )
        for other, ts in counts.items():
            contact_targets[other][target] = len(ts)
    common = {
        other: (tuple(sorted(by)), sum(by.values()))
        for other, by in contact_targets.items()
        if len(by) >= 2
    }
    return targets, common


@settings(
    max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(calls=calls_st, noise=calls_st, top=st.integers(1, 4))
def test_profile_equals_brute_force(office, calls, noise, top):
    run = next(_RUN)
    case, other = f"PR{run}", f"PO{run}"
    office.open_case("alice", case, owner="alice")
    office.open_case("alice", other, owner="alice")
    with tempfile.TemporaryDirectory() as tmp:
        repo = Repository.open(Path(tmp) / "repo")
        commit_calls(repo, case, f"{case}.csv", calls)
        commit_calls(repo, other, f"{other}.csv", noise)  # another case: never counted
        profile = target_profile(repo, case, actor="alice", access=office, audit=office, top=top)
    targets, common = _brute(calls, top)
    got = {
        t.target: (
            t.records,
            t.first_activity_utc,
            t.last_activity_utc,
            [(c.identifier, c.records, c.first_seen_utc, c.last_seen_utc) for c in t.top_contacts],
        )
        for t in profile.targets
    }
    assert got == targets
    assert {c.identifier: (c.targets, c.records) for c in profile.common_contacts} == common
    assert [t.target for t in profile.targets] == sorted(targets)


def test_profile_needs_view_and_is_audited(repo, office):
    office.open_case("bob", "R", owner="bob", restricted=True)
    commit_calls(repo, "R", "r.csv", [(TARGETS[0], POOL[0], 0)])
    with pytest.raises(AccessDenied):
        target_profile(repo, "R", actor="alice", access=office, audit=office)
    profile = target_profile(repo, "R", actor="bob", access=office, audit=office)
    assert [t.target for t in profile.targets] == [TARGETS[0]]
    outcomes = [(e.actor, e.outcome) for e in office.read_audit("opr") if e.action == "profile"]
    assert sorted(outcomes) == [("alice", "denied"), ("bob", "ok")]
