"""``tls link``, ``tls alerts`` and ``tls hubs`` through the real case store (issue 6)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from linkkit import ingest_scenario

import penlink_adapters as pla
from icm_bridge import CaseStore
from tls_core.store import Repository


@pytest.fixture(scope="module")
def ingested(tmp_path_factory):
    """The scenario ingested once; each test works on a copy."""
    tmp = tmp_path_factory.mktemp("link-cli")
    truth = ingest_scenario(_scenario(tmp), Repository.open(tmp / "tls-data"))
    return tmp / "tls-data", truth


@pytest.fixture
def office(tmp_path, tls, ingested):
    """The scenario ingested; alice owns every case but C02 (bob's, restricted)."""
    repo = tmp_path / "tls-data"
    shutil.copytree(ingested[0], repo)
    truth = ingested[1]
    assert tls(repo, "user", "add", "root", "--name", "Root", "--role", "admin")[0] == 0
    for args in (
        ["chief", "--name", "Chief", "--role", "supervisor", "--phone", "+1 202 555 0199"],
        ["alice", "--name", "Alice", "--role", "agent", "--supervisor", "chief",
         "--phone", "+1 206 555 0100", "--office", "Seattle"],
        ["bob", "--name", "Bob", "--role", "agent", "--supervisor", "chief", "--office", "Houston"],
        ["nightly", "--name", "Nightly job", "--role", "analyst"],
    ):  # fmt: skip
        assert tls(repo, "--as", "root", "user", "add", *args)[0] == 0
    for case in truth["cases"]:
        owner = "bob" if case["case_id"] == "C02" else "alice"
        extra = ["--restricted"] if owner == "bob" else []
        code, _, err = tls(
            repo, "--as", owner, "case", "open", case["case_id"], "--owner", owner, *extra
        )
        assert code == 0, err
    return repo, truth


def _scenario(tmp_path: Path) -> Path:
    folder = tmp_path / "scenario"
    pla.write_scenario(folder, seed=11)
    return folder


def test_link_delivers_once_and_alerts_honour_restriction(office, tls):
    repo, truth = office
    code, out, err = tls(repo, "--as", "nightly", "link", "--json")
    assert code == 0, err
    summary = json.loads(out)
    assert summary["alerts"] == summary["new"] == len(truth["links"])
    assert summary["notified"] > 0
    code, out, _ = tls(repo, "--as", "nightly", "link", "--json")
    assert (json.loads(out)["new"], json.loads(out)["notified"]) == (0, 0)  # delivered once

    code, out, _ = tls(repo, "--as", "alice", "alerts", "--json")
    shown = json.loads(out)
    assert len(shown) == len(truth["links"])
    (pointer,) = [a for a in shown if a["restricted"]]
    assert pointer["case_a"] == "C01"
    assert pointer["case_b"] is None
    assert pointer["owner_b"] == {
        "restricted": True,
        "contact": {"user_id": "chief", "name": "Chief", "phone": "+1 202 555 0199",
                    "email": None, "office": None},
    }  # fmt: skip
    assert "C02" not in json.dumps(pointer)
    (item,) = pointer["evidence"]
    assert set(item) >= {"identifier", "kind", "link_type", "grade", "roles", "records"}
    assert item["link_type"] == "common_target"
    assert pointer["alert_id"] is None  # the id hashes both case numbers: no oracle
    assert list(item["records"]) == list(item["roles"]) == ["C01"]  # nothing of the hidden case

    code, out, _ = tls(repo, "--as", "bob", "alerts", "--case", "C02", "--json")
    (bobs,) = json.loads(out)
    assert (bobs["case_a"], bobs["case_b"], bobs["restricted"]) == ("C01", "C02", False)
    assert (bobs["owner_a"]["name"], bobs["owner_b"]["office"]) == ("Alice", "Houston")
    assert bobs["link_types"] == ["common_target"]
    code, _, err = tls(repo, "--as", "alice", "alerts", "--case", "C02")
    assert code == 1
    assert "not permitted" in err


def test_notifications_name_the_other_owner_or_a_pointer(office, tls):
    repo, _ = office
    assert tls(repo, "--as", "nightly", "link")[0] == 0
    code, out, _ = tls(repo, "--as", "alice", "notifications", "--json")
    bodies = [n["body"] for n in json.loads(out)]
    assert any("a restricted case shares" in b and "Chief (chief" in b for b in bodies)
    assert not any("C02" in b for b in bodies)
    code, out, _ = tls(repo, "--as", "bob", "notifications", "--json")
    (to_bob,) = json.loads(out)
    assert "C01" in to_bob["body"]
    assert "Alice (alice, +1 206 555 0100, Seattle)" in to_bob["body"]


def test_hubs_json_shape(office, tls):
    repo, _ = office
    assert tls(repo, "--as", "nightly", "link")[0] == 0
    code, out, _ = tls(repo, "--as", "alice", "hubs", "--json")
    assert code == 0
    hubs = {h["identifier"]: h for h in json.loads(out)}
    assert hubs["911"]["reason"] == "curated"
    assert hubs["+12125550199"]["reason"] == "learned"
    assert set(hubs["911"]) == {"identifier", "kind", "reason", "detail", "cases"}


def test_an_admin_may_not_list_hubs_and_the_refusal_is_audited(office, tls):
    repo, _ = office
    assert tls(repo, "--as", "nightly", "link")[0] == 0
    code, out, err = tls(repo, "--as", "root", "hubs", "--json")
    assert code != 0
    assert out == ""
    assert "root" in err
    code, out, _ = tls(repo, "--as", "chief", "hubs", "--json")  # a supervisor may
    assert code == 0
    assert json.loads(out)
    store = CaseStore.open(repo, audit_key=repo / "audit.key")
    events = [(r.actor, r.outcome) for r in store.audit.show() if r.action == "hubs"]
    assert events == [("root", "denied"), ("chief", "ok")]


def test_unknown_user_cannot_link(office, tls):
    repo, _ = office
    code, _, err = tls(repo, "--as", "mallory", "link")
    assert code == 1
    assert err.startswith("tls: error:")
