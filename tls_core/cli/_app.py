"""The Typer application, its global options, and the console entry point."""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from tls_core.cli._common import AsUserOpt, CliSettings, RepoOpt
from tls_core.errors import TlsError

__all__ = ["app", "main"]

app = typer.Typer(
    name="tls",
    help="Link telecommunications records across investigative cases.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def _global_options(
    ctx: typer.Context, repo: RepoOpt = Path("tls-data"), user: AsUserOpt = None
) -> None:
    """Link telecommunications records across investigative cases."""
    ctx.obj = CliSettings(repo=repo, user=user)


def main() -> None:
    """Run ``tls``; any :class:`TlsError` becomes one line on stderr and exit status 1."""
    try:
        app()
    except TlsError as err:
        text = str(err).replace("\n", " ")
        sys.stderr.write(f"tls: error: {text}\n")
        raise SystemExit(1) from None
