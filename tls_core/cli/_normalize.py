"""``tls normalize``: show the canonical form of identifiers as a carrier wrote them."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from tls_core.cli._app import app
from tls_core.cli._common import JsonOpt, emit_json

__all__ = ["normalize_command"]


@app.command("normalize")
def normalize_command(
    values: Annotated[list[str], typer.Argument(help="Identifiers as written.")],
    kind: Annotated[
        str, typer.Option("--kind", help="auto, or the kind every value has.")
    ] = "auto",
    region: Annotated[
        str, typer.Option("--region", help="Dialing region of national numbers.")
    ] = "US",
    json_out: JsonOpt = False,
) -> None:
    """Print input, kind, canonical value and status (with a reason) of each VALUE."""
    from tls_core.identifiers import normalize

    result = normalize(values, kind, default_region=region).to_pylist()  # type: ignore[arg-type]
    rows = [{"input": v, **r} for v, r in zip(values, result, strict=True)]
    if json_out:
        emit_json(rows)
        return
    columns = ("input", "kind", "canonical", "status", "reason")
    table = Table()
    for name in columns:
        # Never cut a value: an analyst copies these.
        table.add_column(name, overflow="fold")
    for row in rows:
        table.add_row(*(str(row[c] or "") for c in columns))
    Console().print(table)
