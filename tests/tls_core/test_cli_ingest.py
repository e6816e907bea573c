"""``tls ingest``: the real entry point, a real repository and a real SQLite case store."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from penlink_adapters import write_scenario
from tests._cli import Runner
from tls_core.store import Repository

JSON_KEYS = {
    "file",
    "sha256",
    "batch_id",
    "case_ids",
    "target",
    "loaded",
    "duplicates",
    "skipped",
    "rejected",
    "noop",
}


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("scenario")
    write_scenario(folder, seed=5)
    return folder


@pytest.fixture
def repo(tmp_path: Path, tls: Runner) -> Path:
    """Users and cases first (the case store files precede the repository's tables)."""
    repo = tmp_path / "tls-data"
    assert tls(repo, "user", "add", "root", "--name", "Root", "--role", "admin")[0] == 0
    for uid, role in (("alice", "agent"), ("bob", "agent"), ("ida", "opr")):
        code, _, err = tls(repo, "--as", "root", "user", "add", uid, "--name", uid, "--role", role)
        assert code == 0, err
    assert tls(repo, "--as", "alice", "case", "open", "C1", "--owner", "alice")[0] == 0
    code, _, err = tls(repo, "--as", "bob", "case", "open", "C2", "--owner", "bob", "--restricted")
    assert code == 0, err
    return repo


def test_ingest_json_then_noop(repo: Path, files: Path, tls: Runner) -> None:
    att, tmo = str(files / "C03_att.csv"), str(files / "C12_tmobile.csv")
    code, out, err = tls(repo, "--as", "alice", "ingest", att, tmo, "--case", "C1", "--json")
    assert code == 0, err
    first = json.loads(out)
    assert [Path(r["file"]).name for r in first] == ["C03_att.csv", "C12_tmobile.csv"]
    assert all(set(r) >= JSON_KEYS for r in first)
    assert first[0]["loaded"] == 24
    assert first[0]["rejected"] == {"bad_date": 1, "lossy_number": 1}
    truth = json.loads((files / "ground_truth.json").read_text())
    (c12,) = [c for c in truth["cases"] if c["case_id"] == "C12"]
    assert first[1]["target"] == c12["target"]  # inferred from the rows, as `tls read` does
    assert not first[0]["noop"]
    code, out, _ = tls(repo, "--as", "alice", "ingest", att, "--case", "C1", "--json")
    (again,) = json.loads(out)
    assert again["noop"]
    assert again["batch_id"] == first[0]["batch_id"]
    assert Repository.open(repo).snapshot().row_count("call_records") == 48


def test_human_output_names_batch_and_counts(repo: Path, files: Path, tls: Runner) -> None:
    att = str(files / "C03_att.csv")
    code, out, err = tls(repo, "--as", "alice", "ingest", att, "--case", "C1", "--quiet")
    assert code == 0, err
    assert "loaded 24" in out
    assert "rejected 2 (bad_date 1, lossy_number 1)" in out
    code, out, _ = tls(repo, "--as", "alice", "ingest", att, "--case", "C1")
    assert "no-op" in out


def test_denied_case_exits_1_with_one_line_and_stores_nothing(
    repo: Path, files: Path, tls: Runner
) -> None:
    att = str(files / "C03_att.csv")
    code, out, err = tls(repo, "--as", "alice", "ingest", att, "--case", "C1", "--case", "C2")
    assert code == 1
    assert err.count("\n") == 1
    assert "access_denied" in err
    assert Repository.open(repo).snapshot().batch_ids == frozenset()
    code, out, _ = tls(repo, "--as", "ida", "audit", "show", "--case", "C2", "--json")
    events = {(e["action"], e["outcome"]) for e in json.loads(out)}
    assert ("ingest", "denied") in events


def test_a_failing_file_prints_the_earlier_reports_then_the_error(
    repo: Path, files: Path, tls: Runner, tmp_path: Path
) -> None:
    bad = tmp_path / "notes.csv"
    bad.write_text("hello,world\n")
    att = str(files / "C03_att.csv")
    code, out, err = tls(repo, "--as", "alice", "ingest", att, str(bad), "--case", "C1", "--json")
    assert code == 1
    assert "notes.csv" in err
    assert "unknown_layout" in err
    (done,) = json.loads(out)
    assert done["loaded"] == 24
    assert len(Repository.open(repo).snapshot().batch_ids) == 1


def test_options_are_checked(repo: Path, files: Path, tls: Runner) -> None:
    att = str(files / "C03_att.csv")
    code, _, err = tls(repo, "ingest", att, "--case", "C1")
    assert code == 1
    assert "--as" in err
    code, _, err = tls(repo, "--as", "alice", "ingest", att, "--case", "C1", "--kind", "sms")
    assert code == 1
    assert "bad_record_type" in err
    code, _, err = tls(repo, "--as", "alice", "ingest", att, "--case", "C1", "--kind", "subscriber")
    assert code == 1
    assert "record_type_mismatch" in err


def test_unlink_and_purge_go_through_the_case_store(repo: Path, files: Path, tls: Runner) -> None:
    att = str(files / "C03_att.csv")
    code, out, _ = tls(repo, "--as", "alice", "ingest", att, "--case", "C1", "--json")
    batch = json.loads(out)[0]["batch_id"]
    code, _, err = tls(repo, "--as", "bob", "unlink", batch, "--case", "C1")
    assert code == 1
    assert "access_denied" in err
    code, out, err = tls(repo, "--as", "alice", "unlink", batch, "--case", "C1", "--json")
    assert code == 0, err
    assert json.loads(out)["changed"] is True
    code, out, err = tls(repo, "--as", "alice", "purge", "--json")
    assert code == 0, err
    assert json.loads(out) == {
        "cases": [],
        "batch_ids": [],
        "records_removed": 0,
        "records_kept": 0,
        "rejects_removed": 0,
    }
    code, _, err = tls(repo, "--as", "alice", "purge", "--case", "C1")
    assert code == 1
    assert "access_denied" in err
    code, out, _ = tls(repo, "--as", "ida", "audit", "show", "--case", "C1", "--json")
    events = {(e["action"], e["outcome"]) for e in json.loads(out)}
    assert {("unlink", "ok"), ("purge-authorize", "denied")} <= events
