"""Long commands show a spinner on stderr only when stdout is a terminal and not ``--quiet``."""

from __future__ import annotations

import os
import pty
import subprocess
import sys
from pathlib import Path

import pytest

from tls_core.store import Repository


def _verify(repo: Path, *extra: str, tty: bool) -> tuple[int, str, str]:
    """Run ``tls verify`` in a child: on a pseudo-terminal (stdout and stderr) when ``tty``,
    else on pipes. On a terminal both streams arrive together, as ``out``.
    """
    tls = Path(sys.executable).with_name("tls")  # the console script of this environment
    cmd = [str(tls), "--repo", str(repo), "verify", *extra]
    env = {**os.environ, "COLUMNS": "100", "TERM": "xterm"}
    if not tty:
        done = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=120)
        return done.returncode, done.stdout, done.stderr
    main, child = pty.openpty()
    try:
        with subprocess.Popen(cmd, stdout=child, stderr=child, env=env) as proc:
            os.close(child)
            out = b""
            while True:
                try:
                    chunk = os.read(main, 4096)
                except OSError:  # the child closed the terminal
                    break
                if not chunk:
                    break
                out += chunk
            code = proc.wait(timeout=120)
    finally:
        os.close(main)
    return code, out.decode(errors="replace"), ""


@pytest.fixture
def repo(tmp_path):
    Repository.open(tmp_path / "tls-data")
    return tmp_path / "tls-data"


def test_spinner_on_a_terminal(repo):
    code, out, _ = _verify(repo, tty=True)
    assert code == 0
    assert "files checked" in out
    assert "verifying" in out  # the spinner's label (then erased: it is transient)


def test_no_spinner_with_quiet_or_when_piped(repo):
    code, out, _ = _verify(repo, "--quiet", tty=True)
    assert code == 0
    assert "files checked" in out
    assert "verifying" not in out
    code, out, err = _verify(repo, tty=False)
    assert code == 0
    assert "files checked" in out
    assert err == ""
