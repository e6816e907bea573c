"""Options and output helpers that every ``tls`` command shares (see ``docs/cli.md``)."""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    from tls_core.protocols import Contact

__all__ = [
    "AsUserOpt",
    "CliSettings",
    "JsonOpt",
    "RepoOpt",
    "contact_json",
    "emit_json",
    "settings",
]

RepoOpt = Annotated[
    Path,
    typer.Option("--repo", envvar="TLS_REPO", help="Repository directory (env TLS_REPO)."),
]
"""``--repo DIR``: the TLS repository (default ``./tls-data``, env ``TLS_REPO``)."""

AsUserOpt = Annotated[
    str | None,
    typer.Option("--as", envvar="TLS_USER", help="Act as this user id (env TLS_USER)."),
]
"""``--as USER``: the user on whose behalf the command acts (env ``TLS_USER``)."""

JsonOpt = Annotated[bool, typer.Option("--json", help="Machine-readable JSON on stdout.")]
"""``--json``: print one JSON document on stdout instead of human output."""


@dataclass(frozen=True)
class CliSettings:
    """What the global options resolved to, for every command of one invocation."""

    repo: Path
    """The repository directory."""
    user: str | None
    """The acting user id, or None when not given."""


def settings(ctx: typer.Context) -> CliSettings:
    """Return the global settings the ``tls`` callback stored on the context."""
    obj = ctx.find_root().obj
    if isinstance(obj, CliSettings):
        return obj
    return CliSettings(repo=Path("tls-data"), user=None)


def emit_json(payload: Any) -> None:
    """Print ``payload`` as one JSON document on stdout."""
    sys.stdout.write(json.dumps(payload, ensure_ascii=False, indent=2, default=str) + "\n")


def contact_json(contact: Contact | None) -> dict[str, str | None] | None:
    """A contact as JSON (``user_id``, ``name``, ``phone``, ``email``, ``office``)."""
    if contact is None:
        return None
    return {
        "user_id": contact.user_id,
        "name": contact.name,
        "phone": contact.phone,
        "email": contact.email,
        "office": contact.office,
    }
