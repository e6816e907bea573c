"""link(): errors carry the step and SQL, runs are audited, delivery and updates (issue 6)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from linkkit import Call, call_rows, commit

from icm_bridge import CaseStore, NewUser
from tls_core.errors import ConfigError, LinkError
from tls_core.link import LinkSettings, link
from tls_core.link._steps import materialize

A, B, C, X, Y = (f"+120255501{i:02d}" for i in range(1, 6))


@pytest.fixture
def store(tmp_path):
    s = CaseStore.open(tmp_path / "cases", audit_key=tmp_path / "audit.key")
    today = datetime.now(UTC).date()
    s.add_user(None, NewUser("admin", "Admin", "admin", today))
    for uid in ("alice", "bob"):
        s.add_user("admin", NewUser(uid, uid.title(), "agent", today))
    s.add_user("admin", NewUser("opr", "Opr", "opr", today))
    s.open_case("alice", "K1", owner="alice")
    s.open_case("bob", "K2", owner="bob")
    yield s
    s.engine.dispose()
    s.audit.engine.dispose()


def test_a_failing_step_names_itself_and_its_sql(repo):
    con = repo.snapshot().connect()
    with pytest.raises(LinkError) as info:
        materialize(con, "broken_step", "SELECT no_such_column FROM case_links")
    assert info.value.step == "broken_step"
    assert "no_such_column" in info.value.sql
    assert info.value.reason == "link_step_failed"


def test_runs_are_audited_ok_and_failed(repo, store, tmp_path):
    commit(repo, call_rows([Call(A, X, 1)]), "a", ["K1"])
    commit(repo, call_rows([Call(B, X, 2)]), "b", ["K2"])
    run = link(repo, actor="admin", notifier=store, audit=store)
    assert run.notified == 2
    bad = LinkSettings(common_numbers=tmp_path / "missing.toml")
    with pytest.raises(ConfigError):
        link(repo, actor="admin", audit=store, settings=bad)
    events = [e for e in store.read_audit("opr") if e.action == "link-run"]
    assert [e.outcome for e in events] == ["ok", "failed"]
    assert events[0].case_numbers == ("K1", "K2")
    assert events[0].object_ids["new"] == "1"


def test_a_grown_link_is_delivered_again_as_an_update(repo, store):
    commit(repo, call_rows([Call(A, X, 1)]), "a", ["K1"])
    commit(repo, call_rows([Call(B, X, 2)]), "b", ["K2"])
    first = link(repo, actor="admin", notifier=store)
    assert (len(first.new), len(first.updated)) == (1, 0)
    commit(repo, call_rows([Call(A, X, 3)]), "c", ["K1"])  # a little more evidence: quiet
    quiet = link(repo, actor="admin", notifier=store)
    assert (quiet.new, quiet.updated, quiet.notified) == ((), (), 0)
    commit(repo, call_rows([Call(A, Y, 4)]), "d", ["K1"])  # a new shared identifier
    commit(repo, call_rows([Call(B, Y, 5)]), "e", ["K2"])
    grown = link(repo, actor="admin", notifier=store)
    assert (len(grown.new), len(grown.updated), grown.notified) == (0, 1, 2)
    (alert,) = grown.updated
    assert {e.identifier for e in alert.evidence} == {X, Y}
    assert link(repo, actor="admin", notifier=store).notified == 0
    updates = [n for n in store.notifications("alice") if "Updated link" in n.body]
    assert len(updates) == 1


def test_without_a_notifier_nothing_is_marked_delivered(repo, store):
    commit(repo, call_rows([Call(A, X, 1)]), "a", ["K1"])
    commit(repo, call_rows([Call(B, X, 2)]), "b", ["K2"])
    assert len(link(repo, actor="admin").new) == 1
    later = link(repo, actor="admin", notifier=store)
    assert (len(later.new), later.notified) == (1, 2)


def test_a_deleted_cache_means_a_full_relink_without_redelivery(repo, store):
    import shutil

    commit(repo, call_rows([Call(A, X, 1)]), "a", ["K1"])
    commit(repo, call_rows([Call(B, X, 2)]), "b", ["K2"])
    link(repo, actor="admin", notifier=store)
    shutil.rmtree(repo.root / "_tls" / "cache" / "link")
    again = link(repo, actor="admin", notifier=store)
    assert (again.mode, again.new, again.notified) == ("full", (), 0)


def test_progress_is_told_each_phase_in_order(repo, store):
    commit(repo, call_rows([Call(A, X, 1)]), "a", ["K1"])
    commit(repo, call_rows([Call(B, X, 2)]), "b", ["K2"])
    phases: list[str] = []
    run = link(repo, actor="admin", notifier=store, progress=phases.append)
    assert run.notified == 2
    assert phases == ["waiting for the lock", "linking", "saving the state", "delivering alerts"]
