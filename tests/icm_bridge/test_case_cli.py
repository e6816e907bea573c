"""The case store commands, with the exact forms scripts rely on."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests._cli import Runner


@pytest.fixture
def repo(tmp_path: Path, tls: Runner) -> Path:
    repo = tmp_path / "tls-data"
    assert tls(repo, "user", "add", "root", "--name", "Root", "--role", "admin")[0] == 0
    for args in (
        ["sup", "--name", "Sue Pervisor", "--role", "supervisor"],
        ["alice", "--name", "Alice", "--role", "agent", "--supervisor", "sup",
         "--phone", "+1 206 555 0100", "--email", "alice@example.org", "--office", "Seattle",
         "--trained-on", "2026-01-15"],
        ["bob", "--name", "Bob", "--role", "agent"],
        ["opr", "--name", "Ida", "--role", "opr"],
    ):  # fmt: skip
        code, _, err = tls(repo, "--as", "root", "user", "add", *args)
        assert code == 0, err
    return repo


def test_bootstrap_then_admin_only(repo: Path, tls: Runner) -> None:
    code, _, err = tls(repo, "user", "add", "eve", "--name", "Eve", "--role", "admin")
    assert code == 1
    assert err.count("\n") == 1
    assert "--as" in err
    code, _, err = tls(
        repo, "--as", "alice", "user", "add", "eve", "--name", "Eve", "--role", "agent"
    )
    assert code == 1
    assert err.startswith("tls: error:")


def test_user_show_json(repo: Path, tls: Runner) -> None:
    code, out, _ = tls(repo, "--as", "bob", "user", "show", "alice", "--json")
    assert code == 0
    shown = json.loads(out)
    assert shown["supervisor"] == "sup"
    assert shown["trained_on"] == "2026-01-15"
    assert shown["office"] == "Seattle"


def test_case_commands_and_no_existence_oracle(repo: Path, tls: Runner) -> None:
    assert (
        tls(
            repo,
            "--as",
            "alice",
            "case",
            "open",
            "C-1",
            "--owner",
            "alice",
            "--title",
            "T",
            "--restricted",
        )[0]
        == 0
    )
    assert tls(repo, "--as", "alice", "case", "team", "C-1", "--add", "bob")[0] == 0
    code, out, _ = tls(repo, "--as", "bob", "case", "show", "C-1", "--json")
    assert code == 0
    assert json.loads(out)["team"] == ["bob"]
    assert tls(repo, "--as", "alice", "case", "team", "C-1", "--remove", "bob")[0] == 0
    denied = tls(repo, "--as", "bob", "case", "show", "C-1")
    missing = tls(repo, "--as", "bob", "case", "show", "C-404")
    assert denied[0] == missing[0] == 1
    assert denied[2].replace("C-1", "#") == missing[2].replace("C-404", "#")
    assert denied[2].count("\n") == 1
    assert tls(repo, "--as", "sup", "case", "show", "C-1")[0] == 0  # never hidden from the chain
    assert tls(repo, "--as", "alice", "case", "unrestrict", "C-1")[0] == 0
    assert tls(repo, "--as", "bob", "case", "show", "C-1")[0] == 0
    assert tls(repo, "--as", "sup", "case", "hold", "C-1")[0] == 0
    assert tls(repo, "--as", "alice", "case", "restrict", "C-1")[0] == 0
    code, out, _ = tls(repo, "--as", "alice", "case", "close", "C-1", "--json")
    assert code == 0
    assert json.loads(out)["status"] == "closed"
    assert json.loads(out)["legal_hold"]
    assert tls(repo, "--as", "sup", "case", "hold", "C-1", "--release")[0] == 0


def test_audit_commands_opr_only(repo: Path, tls: Runner) -> None:
    tls(repo, "--as", "alice", "case", "open", "C-2", "--owner", "alice")
    code, out, _ = tls(repo, "--as", "opr", "audit", "show", "--user", "alice", "--json")
    assert code == 0
    assert [e["action"] for e in json.loads(out)] == ["case-open"]
    code, out, _ = tls(repo, "--as", "opr", "audit", "show", "--case", "C-2")
    assert code == 0
    assert "case-open ok C-2" in out
    assert tls(repo, "--as", "alice", "audit", "show")[0] == 1
    code, out, _ = tls(repo, "--as", "opr", "audit", "verify")
    assert code == 0
    assert out.startswith("audit ok:")


def test_audit_verify_names_first_bad_seq(repo: Path, tls: Runner) -> None:
    import sqlite3

    raw = sqlite3.connect(repo / "audit.sqlite")
    raw.execute("UPDATE audit_events SET actor = 'mallory' WHERE seq = 3")
    raw.commit()
    raw.close()
    code, out, _ = tls(repo, "--as", "opr", "audit", "verify", "--json")
    assert code == 1
    assert json.loads(out)["first_bad_seq"] == 3


def test_notifications_queue_and_mark_read(repo: Path, tls: Runner) -> None:
    from icm_bridge import CaseStore
    from tls_core.protocols import QueryNotice

    tls(repo, "--as", "alice", "case", "open", "C-3", "--owner", "alice")
    store = CaseStore.open(repo, audit_key=repo / "audit.key")
    store.notify_query(QueryNotice("bob", {"msisdn": "+1"}, ("C-3",)))
    store.engine.dispose()
    store.audit.engine.dispose()
    code, out, _ = tls(repo, "--as", "alice", "notifications", "--mark-read")
    assert code == 0
    assert "Bob searched identifiers in your case(s) C-3" in out
    assert tls(repo, "--as", "alice", "notifications")[1] == ""
    code, out, _ = tls(repo, "--as", "alice", "notifications", "--all", "--json")
    assert [n["read"] for n in json.loads(out)] == [True]


def test_denied_action_is_one_stderr_line_in_a_real_process(repo: Path, tls: Runner) -> None:
    proc = subprocess.run(
        [sys.executable, "-c", "from tls_core.cli import main; main()",
         "--repo", str(repo), "--as", "bob", "case", "close", "C-404"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert proc.returncode == 1
    assert proc.stdout == ""
    assert proc.stderr.count("\n") == 1
    assert "C-404" in proc.stderr
