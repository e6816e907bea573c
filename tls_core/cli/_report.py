"""``tls report``: the link-chart report of a repository, as the acting user may see it."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from tls_core.cli._app import app
from tls_core.cli._cases import AuditKeyOpt, AuditStoreOpt, CaseStoreOpt, _need, _open
from tls_core.cli._common import JsonOpt, emit_json, settings
from tls_core.cli._progress import QuietOpt, working
from tls_core.protocols import AuditEvent

if TYPE_CHECKING:
    from icm_bridge import CaseStore
    from tls_core.report import ReportData, ReportFiles
    from tls_core.store import Repository

__all__ = ["report_command", "write_user_report"]


@app.command("report")
def report_command(
    ctx: typer.Context,
    case: Annotated[str | None, typer.Option("--case", help="Only this case's links.")] = None,
    out: Annotated[Path, typer.Option("--out", help="Output directory.")] = Path("tls-report"),
    audit_key: AuditKeyOpt = None,
    case_store: CaseStoreOpt = None,
    audit_store: AuditStoreOpt = None,
    json_out: JsonOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Write the link-chart report (HTML, SVG, PNG when Graphviz is installed) for you."""
    from tls_core.store import Repository

    with _open(ctx, audit_key, case_store, audit_store) as store:
        actor = _need(ctx)
        repo = Repository.open(settings(ctx).repo, create=False)
        with working("writing the report", quiet=quiet):
            files, data = write_user_report(repo, store, actor, out, case=case)
    paths = {"html": str(files.html), "svg": str(files.svg), "png": files.png and str(files.png)}
    if json_out:
        emit_json({**paths, "cases": len(data.cases), "links": len(data.links)})
    else:
        typer.echo(f"report: {files.html} ({len(data.cases)} cases, {len(data.links)} links)")


def write_user_report(
    repo: Repository,
    store: CaseStore,
    actor: str,
    out: Path,
    *,
    case: str | None = None,
    title: str = "TLS link chart",
    synthetic: bool = False,
) -> tuple[ReportFiles, ReportData]:
    """Gather what ``actor`` may see, write the report and audit the export.

    If the audit cannot be written, the files are removed again: no unaudited export stays.
    """
    from tls_core.report import write_report
    from tls_core.report._gather import ReportSeams, gather_report

    seams = ReportSeams(actor=actor, access=store, directory=store, audit=store)
    data = gather_report(repo, seams, case=case, title=title, synthetic=synthetic)
    files = write_report(data, out)
    event = AuditEvent(
        actor,
        "export",
        "ok",
        tuple(c.number for c in data.cases),
        object_ids={"report": str(files.html)},
        criteria={"case": case or ""},
    )
    try:
        store.append(event)
    except BaseException:
        for path in (files.html, files.svg, files.png):
            if path is not None:
                path.unlink(missing_ok=True)
        raise
    return files, data
