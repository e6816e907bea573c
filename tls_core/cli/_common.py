"""Options and output helpers that every ``tls`` command shares (see ``docs/cli.md``)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

__all__ = ["AsUserOpt", "JsonOpt", "RepoOpt", "emit_json"]

RepoOpt = Annotated[
    Path,
    typer.Option("--repo", envvar="TLS_REPO", help="Repository directory.", show_default=True),
]
"""``--repo DIR``: the TLS repository (default ``./tls-data``, env ``TLS_REPO``)."""

AsUserOpt = Annotated[
    str | None,
    typer.Option("--as", envvar="TLS_USER", help="Act as this user id (env TLS_USER)."),
]
"""``--as USER``: the user on whose behalf the command acts (env ``TLS_USER``)."""

JsonOpt = Annotated[bool, typer.Option("--json", help="Machine-readable JSON on stdout.")]
"""``--json``: print one JSON document on stdout instead of human output."""


def emit_json(payload: Any) -> None:
    """Print ``payload`` as one JSON document on stdout."""
    sys.stdout.write(json.dumps(payload, ensure_ascii=False, indent=2, default=str) + "\n")
