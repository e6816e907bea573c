"""``tls verify`` on a sound repository, a corrupted one, and a missing one."""

from __future__ import annotations

import json
import subprocess
import sys

import storekit as k

from tls_core.store import Repository


def _tls(*args: str) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-c", "from tls_core.cli import main; main()", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)


def test_verify_sound_repository(tmp_path):
    root = tmp_path / "repo"
    k.commit(Repository.open(root), "a.csv", 5)
    done = _tls("--repo", str(root), "verify", "--json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["ok"] is True
    assert report["files_checked"] == 4  # records, rejects, case links, registry
    assert report["problems"] == []


def test_verify_flipped_file_exits_1_with_one_line(tmp_path):
    root = tmp_path / "repo"
    k.commit(Repository.open(root), "a.csv", 5)
    path = next((root / "tables" / "call_records").glob("*.parquet"))
    data = bytearray(path.read_bytes())
    data[100] ^= 0xFF
    path.write_bytes(bytes(data))
    done = _tls("--repo", str(root), "verify")
    assert done.returncode == 1
    lines = done.stderr.splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("tls: error:")
    assert path.name in lines[0]
    assert path.name in done.stdout


def test_verify_without_repository(tmp_path):
    done = _tls("--repo", str(tmp_path / "none"), "verify")
    assert done.returncode == 1
    assert done.stderr.startswith("tls: error:")
