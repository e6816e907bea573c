"""Repository.ingest with a real SQLite case store as access policy and audit sink."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from icm_bridge import CaseStore, NewUser
from penlink_adapters import write_scenario
from tls_core.errors import AccessDenied, DetectionError

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def office(tmp_path: Path):
    (tmp_path / "keys").mkdir()
    store = CaseStore.open(
        tmp_path / "cases", audit_key=tmp_path / "keys" / "audit.key", clock=lambda: NOW
    )
    trained = date(2026, 1, 15)
    store.add_user(None, NewUser("admin", "Admin", "admin", trained))
    for uid, role in (("alice", "agent"), ("bob", "agent"), ("opr", "opr")):
        store.add_user("admin", NewUser(uid, uid.title(), role, trained))  # type: ignore[arg-type]
    store.open_case("alice", "C1", owner="alice")
    store.open_case("bob", "C2", owner="bob", restricted=True)
    yield store
    store.engine.dispose()
    store.audit.engine.dispose()


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("scenario")
    write_scenario(folder, seed=4)
    return folder


def _events(store: CaseStore, case: str) -> list[tuple[str, str, dict[str, str]]]:
    return [
        (e.action, e.outcome, dict(e.object_ids))
        for e in store.read_audit("opr", case_number=case)
        if e.action.startswith(("ingest", "check-ingest"))
    ]


def test_denied_case_stores_nothing_and_is_audited_denied(repo, office, files):
    with pytest.raises(AccessDenied):
        repo.ingest(
            files / "C03_att.csv",
            case_ids=["C1", "C2"],
            actor="alice",
            access=office,
            audit=office,
        )
    assert repo.snapshot().batch_ids == frozenset()
    assert not (repo.root / "_tls" / "tmp").exists()
    events = _events(office, "C2")
    assert ("check-ingest", "denied", {}) in events
    assert ("ingest", "denied", {"files": "C03_att.csv"}) in events
    assert not [e for e in events if e[0] == "ingest-start"]


def test_an_unknown_case_is_denied_like_a_forbidden_one(repo, office, files):
    with pytest.raises(AccessDenied) as unknown:
        repo.ingest(files / "C03_att.csv", case_ids=["C9"], actor="alice", access=office)
    with pytest.raises(AccessDenied) as forbidden:
        repo.ingest(files / "C03_att.csv", case_ids=["C2"], actor="alice", access=office)
    assert str(unknown.value).replace("C9", "C?") == str(forbidden.value).replace("C2", "C?")


def test_an_ingest_is_audited_start_and_ok_with_batch_and_counts(repo, office, files):
    (report,) = repo.ingest(
        files / "C03_att.csv", case_ids=["C1"], actor="alice", access=office, audit=office
    )
    (again,) = repo.ingest(
        files / "C03_att.csv", case_ids=["C1"], actor="alice", access=office, audit=office
    )
    assert again.noop
    events = _events(office, "C1")
    assert [(a, o) for a, o, _ in events] == [
        ("ingest-start", "ok"),
        ("ingest", "ok"),
        ("ingest-start", "ok"),
        ("ingest", "ok"),
    ]
    done = events[1][2]
    assert done["batch_id"] == report.batch_id
    assert done["sha256"] == report.sha256
    assert done["loaded"] == str(report.loaded)
    assert done["noop"] == "false"
    assert events[3][2]["noop"] == "true"


def test_a_failed_file_is_audited_failed(repo, office, files, tmp_path):
    bad = tmp_path / "notes.csv"
    bad.write_text("hello,world\n")
    with pytest.raises(DetectionError):
        repo.ingest([files / "C03_att.csv", bad], case_ids=["C1"], actor="alice", audit=office)
    events = _events(office, "C1")
    assert [(a, o) for a, o, _ in events] == [
        ("ingest-start", "ok"),
        ("ingest", "ok"),
        ("ingest-start", "ok"),
        ("ingest", "failed"),
    ]
    assert events[3][2] == {"file": "notes.csv", "error": "unknown_layout"}
    assert len(repo.snapshot().batch_ids) == 1
