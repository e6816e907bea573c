"""Incremental runs re-fold only the case pairs they touch and carry the other alerts over."""

from __future__ import annotations

from linkkit import Call, call_rows, commit

from tls_core.link import LinkSettings, alerts, link
from tls_core.link._state import load_state

A, B, C, D, X, Y = (f"+120255501{i:02d}" for i in range(1, 7))
LOW = LinkSettings(hub_cases=3)


def _pairs(found):
    return [(a.case_a, a.case_b) for a in found]


def _equals_a_full_relink(repo, settings):
    current = alerts(repo)
    full = link(repo, actor="tester", settings=settings, full=True)
    assert current == alerts(repo) == list(full.alerts)
    return current


def test_an_untouched_alert_is_carried_over_and_not_reported(repo):
    commit(repo, call_rows([Call(A, X, 1)]), "a", ["K1"])
    commit(repo, call_rows([Call(B, X, 2)]), "b", ["K2"])
    commit(repo, call_rows([Call(C, Y, 3)]), "c", ["K3"])
    commit(repo, call_rows([Call(D, Y, 4)]), "d", ["K4"])
    first = link(repo, actor="tester")
    assert _pairs(first.alerts) == [("K1", "K2"), ("K3", "K4")]
    commit(repo, call_rows([Call(C, Y, 5)]), "e", ["K3"])  # more evidence for K3-K4 only
    run = link(repo, actor="tester")
    assert (run.mode, _pairs(run.alerts), run.alert_count) == ("incremental", [("K3", "K4")], 2)
    (grown,) = run.alerts
    assert grown.evidence[0].records == {"K3": 2, "K4": 1}
    state = load_state(repo.root)
    assert state is not None
    assert set(state.alerts.column("snapshot_version").to_pylist()) == {run.snapshot_version}
    assert _equals_a_full_relink(repo, LinkSettings()) == alerts(repo)


def test_a_new_case_touching_an_identifier_leaves_other_pairs_alone(repo):
    commit(repo, call_rows([Call(A, X, 1)]), "a", ["K1"])
    commit(repo, call_rows([Call(B, X, 2)]), "b", ["K2"])
    link(repo, actor="tester")
    commit(repo, call_rows([Call(C, X, 3)]), "c", ["K3"])  # X now in 3 cases (not a hub: 10)
    run = link(repo, actor="tester")
    assert _pairs(run.alerts) == [("K1", "K3"), ("K2", "K3")]
    assert run.alert_count == 3
    _equals_a_full_relink(repo, LinkSettings())


def test_an_identifier_becoming_a_hub_removes_the_pairs_it_alone_linked(repo):
    commit(repo, call_rows([Call(A, X, 1)]), "a", ["K1"])
    commit(repo, call_rows([Call(B, X, 2)]), "b", ["K2"])
    assert link(repo, actor="tester", settings=LOW).alert_count == 1
    commit(repo, call_rows([Call(C, X, 3)]), "c", ["K3"])  # X in 3 cases: a learned hub
    run = link(repo, actor="tester", settings=LOW)
    assert (run.mode, run.alerts, run.alert_count) == ("incremental", (), 0)
    assert [h.identifier for h in run.hubs] == [X]
    assert _equals_a_full_relink(repo, LOW) == []


def test_changed_settings_fold_every_alert_again(repo):
    commit(repo, call_rows([Call(A, X, 1)]), "a", ["K1"])
    commit(repo, call_rows([Call(B, X, 2)]), "b", ["K2"])
    commit(repo, call_rows([Call(C, X, 3)]), "c", ["K3"])
    assert link(repo, actor="tester", settings=LOW).alert_count == 0  # X is a hub at 3
    run = link(repo, actor="tester")  # default threshold (10): no new records, X links again
    assert (run.mode, run.alert_count, len(run.alerts)) == ("incremental", 3, 3)
    _equals_a_full_relink(repo, LinkSettings())
