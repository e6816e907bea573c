"""``tls layouts``, ``tls detect FILE`` and ``tls read FILE``: carrier returns in.

``tls read --json`` prints the :meth:`penlink_adapters.ReadReport.to_json` object, a contract
that scripts rely on (``layout``, ``target``, ``rows_total``, ``loaded``, ``duplicates``,
``skipped``, ``rejected``, ``warnings``, ...).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from tls_core.cli._app import app
from tls_core.cli._common import JsonOpt, emit_json
from tls_core.cli._progress import QuietOpt, working

__all__ = ["detect_command", "layouts_command", "read_command"]

FileArg = Annotated[Path, typer.Argument(help="The return file (CSV, TXT or XLSX).")]


@app.command("layouts")
def layouts_command(json: JsonOpt = False) -> None:
    """List the shipped carrier layouts."""
    from penlink_adapters import list_layouts

    rows = [
        {
            "name": lay.name,
            "version": lay.version,
            "record_type": lay.record_type,
            "verified": lay.verified,
            "confidence": lay.confidence,
            "refused": bool(lay.refuse),
            "title": lay.title,
        }
        for lay in list_layouts()
    ]
    if json:
        emit_json(rows)
        return
    for r in rows:
        flag = (
            " (unverified)"
            if not r["verified"]
            else (" (recognized, refused)" if r["refused"] else "")
        )
        typer.echo(f"{r['name']:<22} {r['version']:<20} {r['record_type']:<10} {r['title']}{flag}")


@app.command("detect")
def detect_command(file: FileArg, json: JsonOpt = False) -> None:
    """Score every layout against FILE and print the candidates, best first."""
    from penlink_adapters import detect

    candidates = detect(file)[:5]
    if json:
        emit_json([c.as_dict() for c in candidates])
        return
    for c in candidates:
        typer.echo(f"{c.layout.name:<22} {c.confidence:.2f}  {'; '.join(c.reasons)}")


@app.command("read")
def read_command(
    file: FileArg,
    layout: Annotated[
        str, typer.Option("--layout", help="Layout name or path to a layout .toml.")
    ] = "auto",
    tz: Annotated[
        str | None, typer.Option("--tz", help="IANA zone of the file's local times.")
    ] = None,
    target: Annotated[
        str | None, typer.Option("--target", help="Target identifier of the legal process.")
    ] = None,
    out: Annotated[
        Path | None, typer.Option("--out", help="Write the canonical records to this Parquet file.")
    ] = None,
    json: JsonOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Read FILE into canonical records and print the read report."""
    import pyarrow.parquet as pq

    from penlink_adapters import scan_return

    scan = scan_return(file, layout=layout, source_tz=tz, target=target)
    # Chunk by chunk: the file never needs to fit in memory.
    with working(f"reading {file.name}", quiet=quiet) as detail:
        writer = None if out is None else pq.ParquetWriter(out, scan.schema)
        try:
            rows = 0
            for records, _rejects in scan:
                if writer is not None:
                    writer.write_table(records)
                rows += records.num_rows
                detail(f"{rows:,} records")
        finally:
            if writer is not None:
                writer.close()
    report = scan.report()
    if json:
        emit_json(report.to_json())
        return
    rejected = ", ".join(f"{k} {v}" for k, v in report.rejected.items()) or "none"
    typer.echo(f"{report.path}: layout {report.layout}@{report.layout_version}")
    typer.echo(f"  target: {report.target or '-'} ({report.target_source or 'unknown'})")
    typer.echo(
        f"  rows {report.rows_total}: loaded {report.loaded}, skipped {report.skipped} "
        f"(duplicates {report.duplicates}), rejected {sum(report.rejected.values())} ({rejected})"
    )
    for warning in report.warnings:
        typer.echo(f"  warning: {warning}")
