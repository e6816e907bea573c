"""``tls search``, ``tls path`` and ``tls profile`` through the real entry point and case store."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from searchkit import commit_calls, user

from icm_bridge import CaseStore
from tests._cli import Runner
from tls_core.store import Repository

A, B, X = "+12065550101", "+17135550102", "+12135550142"


@pytest.fixture
def root(tmp_path: Path) -> Path:
    root = tmp_path / "tls-data"
    repo = Repository.open(root)
    store = CaseStore.open(root, audit_key=root / "audit.key")
    today = datetime.now(UTC).date()
    store.add_user(None, user("admin", "admin", trained=today))
    for new in [
        user("chief", "supervisor", name="Chief Cho", phone="+1 202 555 0199", trained=today),
        user(
            "alice",
            "agent",
            supervisor="chief",
            name="Alice Able",
            phone="+1 206 555 0100",
            trained=today,
        ),
        user("bob", "agent", supervisor="chief", name="Bob Baker", trained=today),
        user("opr", "opr", trained=today),
    ]:
        store.add_user("admin", new)
    store.open_case("alice", "SEA-1", owner="alice")
    store.open_case("bob", "HOU-2", owner="bob")
    store.open_case("bob", "HOU-R", owner="bob", restricted=True)
    commit_calls(repo, "SEA-1", "sea.csv", [(A, X, 0), (A, B, 1)])
    commit_calls(repo, "HOU-2", "hou.csv", [(B, X, 5)])
    commit_calls(repo, "HOU-R", "hour.csv", [("+13125550103", X, 9)])
    store.engine.dispose()
    store.audit.engine.dispose()
    return root


def test_search_json_shape(tls: Runner, root: Path) -> None:
    code, out, err = tls(root, "--as", "alice", "search", "(213) 555-0142", "--json")
    assert code == 0, err
    doc = json.loads(out)
    assert set(doc) == {
        "query",
        "kind",
        "canonical",
        "snapshot_version",
        "index",
        "cases",
        "records",
        "truncated",
        "restricted",
        "notified",
    }
    assert (doc["kind"], doc["canonical"]) == ("phone", X)
    assert [c["case"] for c in doc["cases"]] == ["HOU-2", "SEA-1"]
    assert doc["cases"][0] == {
        "case": "HOU-2",
        "records": 1,
        "grade": "exact",
        "roles": ["contact"],
        "first_seen_utc": "2026-01-01T00:05:00+00:00",
        "last_seen_utc": "2026-01-01T00:05:00+00:00",
    }
    assert set(doc["records"][0]) == {
        "case",
        "record_id",
        "record_type",
        "identifier",
        "kind",
        "grade",
        "role",
        "seen_utc",
        "target",
    }
    assert doc["restricted"] == [
        {
            "message": "a restricted case holds this identifier",
            "contact": {
                "user_id": "chief",
                "name": "Chief Cho",
                "phone": "+1 202 555 0199",
                "email": None,
                "office": None,
            },
        }
    ]
    assert "HOU-R" not in out
    assert doc["notified"] == 1  # bob, for HOU-2 and HOU-R


def test_search_human_output(tls: Runner, root: Path) -> None:
    code, out, _ = tls(root, "--as", "alice", "search", X)
    assert code == 0
    assert "case SEA-1: 1 record(s)" in out
    assert "a restricted case holds this identifier; contact Chief Cho" in out


def test_search_needs_a_user_and_a_valid_kind(tls: Runner, root: Path) -> None:
    code, _, err = tls(root, "search", X)
    assert code == 1
    assert "--as" in err
    code, _, err = tls(root, "--as", "alice", "search", X, "--kind", "msisdn")
    assert code == 1
    assert err.startswith("tls: error: unknown identifier kind")
    code, _, err = tls(root, "--as", "alice", "search", "555-0142")
    assert code == 1
    assert "local_only_number" in err


def test_path_json_shape(tls: Runner, root: Path) -> None:
    code, out, err = tls(root, "--as", "alice", "path", "SEA-1", "HOU-2", "--json")
    assert code == 0, err
    doc = json.loads(out)
    assert doc["case_a"] == "SEA-1"
    assert doc["case_b"] == "HOU-2"
    assert doc["hops"] == 1
    assert doc["truncated"] is False
    assert isinstance(doc["snapshot_version"], int)
    assert sorted(p["identifiers"][0]["identifier"] for p in doc["paths"]) == [X, B]
    assert all(p["cases"] == ["SEA-1", "HOU-2"] for p in doc["paths"])
    assert doc["paths"][0]["identifiers"][0]["kind"] == "phone"
    code, out, _ = tls(root, "--as", "alice", "path", "SEA-1", "HOU-2")
    assert code == 0
    assert f"SEA-1 - [phone {X}] - HOU-2" in out


def test_path_to_a_restricted_case_is_denied(tls: Runner, root: Path) -> None:
    code, _, err = tls(root, "--as", "alice", "path", "SEA-1", "HOU-R")
    assert code == 1
    assert "not permitted" in err


def test_profile_json_shape(tls: Runner, root: Path) -> None:
    code, out, err = tls(root, "--as", "alice", "profile", "SEA-1", "--json")
    assert code == 0, err
    doc = json.loads(out)
    assert doc["case"] == "SEA-1"
    (target,) = doc["targets"]
    assert target["target"] == A
    assert target["records"] == 2
    assert target["first_activity_utc"] == "2026-01-01T00:00:00+00:00"
    assert target["last_activity_utc"] == "2026-01-01T00:01:00+00:00"
    assert [c["identifier"] for c in target["top_contacts"]] == [X, B]
    assert set(target["top_contacts"][0]) == {
        "identifier",
        "kind",
        "records",
        "first_seen_utc",
        "last_seen_utc",
    }
    assert doc["common_contacts"] == []
