"""``tls ingest FILE... --case C``: carrier returns into the repository, audited.

The case store (``icm_bridge.CaseStore``) is wired in as the access policy (``ingest`` on
every case named, checked before any file is read) and as the audit sink (each file's start
and outcome). Files are ingested in order, each as one atomic batch: when one fails, the
reports of the files before it are printed (they stay committed), then the error line.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Final

import typer

from tls_core.cli._app import app
from tls_core.cli._cases import AuditKeyOpt, AuditStoreOpt, CaseStoreOpt, _need, _open
from tls_core.cli._common import JsonOpt, emit_json, settings
from tls_core.errors import ConfigError

if TYPE_CHECKING:
    from rich.progress import Progress, TaskID

    from tls_core.store import IngestProgress, IngestReport, ProgressCallback, RecordType

__all__ = ["ingest_command"]

KINDS: Final[tuple[RecordType, ...]] = ("call", "subscriber", "misc")

FilesArg = Annotated[list[Path], typer.Argument(help="Return files (CSV, TXT or XLSX).")]
CasesOpt = Annotated[
    list[str], typer.Option("--case", help="Case number the records belong to (repeatable).")
]


@app.command("ingest")
def ingest_command(
    ctx: typer.Context,
    files: FilesArg,
    case: CasesOpt,
    layout: Annotated[
        str, typer.Option("--layout", help="Layout name or path to a layout .toml.")
    ] = "auto",
    tz: Annotated[
        str | None, typer.Option("--tz", help="IANA zone of the files' local times.")
    ] = None,
    kind: Annotated[
        str | None,
        typer.Option("--kind", help="call, subscriber or misc (default: the layout's)."),
    ] = None,
    target: Annotated[
        str | None, typer.Option("--target", help="Target identifier of the legal process.")
    ] = None,
    json_out: JsonOpt = False,
    quiet: Annotated[bool, typer.Option("--quiet", help="No progress bars.")] = False,
    audit_key: AuditKeyOpt = None,
    case_store: CaseStoreOpt = None,
    audit_store: AuditStoreOpt = None,
) -> None:
    """Ingest FILE... for the cases named: one atomic, idempotent batch per file."""
    from tls_core.store import Repository

    actor = _need(ctx)
    record_type = _kind(kind)
    repo = Repository.open(settings(ctx).repo)
    done: list[IngestReport] = []
    try:
        with (
            _open(ctx, audit_key, case_store, audit_store) as store,
            _bars(enabled=sys.stdout.isatty() and not quiet) as progress,
        ):
            for file in files:  # one call per file: the reports so far survive a failure
                done += repo.ingest(
                    file,
                    case_ids=case,
                    actor=actor,
                    layout=layout,
                    source_tz=tz,
                    target=target,
                    record_type=record_type,
                    access=store,
                    audit=store,
                    progress=progress,
                )
    finally:
        _emit(done, json_out)


def _kind(kind: str | None) -> RecordType | None:
    if kind is None:
        return None
    for known in KINDS:
        if kind == known:
            return known
    raise ConfigError(
        f"unknown record kind, expected one of {', '.join(KINDS)}",
        value=kind,
        reason="bad_record_type",
    )


def _emit(reports: list[IngestReport], json_out: bool) -> None:
    if json_out:
        emit_json([_json(r) for r in reports])
        return
    for r in reports:
        typer.echo(_line(r))
        for warning in r.warnings:
            typer.echo(f"  warning: {warning}")


def _json(report: IngestReport) -> dict[str, object]:
    keys = ("file", "sha256", "batch_id", "case_ids", "target", "loaded", "duplicates")
    full = report.to_json()
    out = {k: full[k] for k in keys}
    out.update(skipped=full["skipped"], rejected=full["rejected"], noop=full["noop"])
    out.update(layout=full["layout"], record_type=full["record_type"], version=full["version"])
    return out


def _line(r: IngestReport) -> str:
    if r.layout is None:
        if r.noop:
            return f"{r.file}: already stored in batch {r.batch_id} (no-op)"
        linked = ", ".join(r.linked_cases)
        return f"{r.file}: already stored in batch {r.batch_id}; now also in case(s) {linked}"
    rejected = sum(r.rejected.values())
    codes = ", ".join(f"{k} {v}" for k, v in r.rejected.items()) or "none"
    return (
        f"{r.file}: batch {r.batch_id} ({r.record_type}, layout {r.layout}, "
        f"target {r.target or '-'}): loaded {r.loaded}, duplicates {r.duplicates}, "
        f"skipped {r.skipped}, rejected {rejected} ({codes})"
    )


@contextmanager
def _bars(*, enabled: bool) -> Iterator[ProgressCallback | None]:
    """Rich progress bars on stderr, one per file (stdout stays clean for ``--json``)."""
    if not enabled:
        yield None
        return
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
    )

    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TextColumn("{task.fields[rows]} rows"),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=Console(stderr=True), transient=False) as bars:
        yield _Bars(bars)


class _Bars:
    """Turns :class:`IngestProgress` events into rich tasks."""

    def __init__(self, bars: Progress) -> None:
        self._bars = bars
        self._tasks: dict[str, TaskID] = {}

    def __call__(self, event: IngestProgress) -> None:
        task = self._tasks.get(event.file)
        if task is None:
            task = self._bars.add_task("", total=event.bytes_total, rows=0)
            self._tasks[event.file] = task
        label = f"{event.phase:<5} {Path(event.file).name}"
        self._bars.update(
            task,
            description=label,
            completed=event.bytes_done,
            total=event.bytes_total,
            rows=f"{event.rows_read:,}",
        )
