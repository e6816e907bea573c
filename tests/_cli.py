"""Running the real ``tls`` entry point in-process, for the CLI tests (the ``tls`` fixture)."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import pytest

Runner = Callable[..., tuple[int, str, str]]
"""``run(repo, *args)``: ``tls --repo REPO ARGS...``; its exit code, stdout and stderr."""

ENVIRONMENT = ("TLS_USER", "TLS_AUDIT_KEY", "TLS_REPO", "TLS_CASE_STORE", "TLS_AUDIT_STORE")
"""Variables the CLI reads: unset for each test, so the machine's own never leak in."""


def runner(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Runner:
    """Run the real entry point (``tls_core.cli.main``) in-process: argv in, exit code out."""
    from tls_core.cli import main

    for name in ENVIRONMENT:
        monkeypatch.delenv(name, raising=False)

    def run(repo: Path, *args: str) -> tuple[int, str, str]:
        capsys.readouterr()
        monkeypatch.setattr(sys, "argv", ["tls", "--repo", str(repo), *args])
        try:
            main()
            code = 0
        except SystemExit as done:
            code = done.code if isinstance(done.code, int) else 1
        out, err = capsys.readouterr()
        return code, out, err

    return run
