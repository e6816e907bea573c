"""``tls verify``: check every committed file of the repository against its SHA-256."""

from __future__ import annotations

import typer

from tls_core.cli._app import app
from tls_core.cli._common import JsonOpt, emit_json, settings
from tls_core.errors import IntegrityError

__all__ = ["verify_command"]


@app.command("verify")
def verify_command(ctx: typer.Context, json_out: JsonOpt = False) -> None:
    """Check the logs, every committed file's SHA-256, and files no log references.

    Exit status 1 when an integrity problem is found (orphans and foreign files are reported
    but are not problems: they are never read).
    """
    from tls_core.store import Repository

    root = settings(ctx).repo
    report = Repository.open(root, create=False).verify()
    if json_out:
        emit_json(
            {
                "repo": str(root),
                "ok": report.ok,
                "files_checked": report.files_checked,
                "problems": list(report.problems),
                "orphans": list(report.orphans),
                "foreign": list(report.foreign),
            }
        )
    else:
        typer.echo(f"{report.files_checked} files checked")
        for label, items in (("orphan", report.orphans), ("foreign", report.foreign)):
            for item in items:
                typer.echo(f"{label} (never read): {item}")
        for problem in report.problems:
            typer.echo(f"problem: {problem}")
    if not report.ok:
        raise IntegrityError(
            f"{len(report.problems)} integrity problem(s); first: {report.problems[0]}",
            file=str(root),
            reason="verify_failed",
        )
