"""The Typer application: one group whose commands share error handling."""

from __future__ import annotations

from typing import Any

import click
import typer
from typer.core import TyperGroup

from tls_core.errors import TlsError

__all__ = ["app", "main"]


class _TlsGroup(TyperGroup):
    """Turns any :class:`TlsError` into one line on stderr and exit status 1."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except TlsError as err:
            text = str(err).replace("\n", " ")
            click.echo(f"tls: error: {text}", err=True)
            raise typer.Exit(1) from None


app = typer.Typer(
    name="tls",
    cls=_TlsGroup,
    help="Link telecommunications records across investigative cases.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def main() -> None:
    """Entry point of the ``tls`` console script."""
    app()
