"""``tls verify``, ``tls purge`` and ``tls unlink``: repository maintenance.

``purge`` and ``unlink`` change what cases hold, so they go through the case store
(``icm_bridge.CaseStore``): its access policy (``purge``, resp. ``ingest``, on each case) and
its audit log.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC
from typing import TYPE_CHECKING, Annotated

import typer

from tls_core.cli._app import app
from tls_core.cli._cases import AuditKeyOpt, AuditStoreOpt, CaseStoreOpt, _need, _open
from tls_core.cli._common import JsonOpt, emit_json, settings
from tls_core.cli._progress import QuietOpt, working
from tls_core.errors import IntegrityError, TlsError
from tls_core.protocols import AuditEvent

if TYPE_CHECKING:
    from icm_bridge import CaseStore
    from tls_core.store import PurgeReport, Repository

__all__ = ["purge_command", "purge_due", "unlink_command", "verify_command"]


@app.command("verify")
def verify_command(ctx: typer.Context, json_out: JsonOpt = False, quiet: QuietOpt = False) -> None:
    """Check the logs, every committed file's SHA-256, and files no log references.

    Exit status 1 when an integrity problem is found (orphans and foreign files are reported
    but are not problems: they are never read).
    """
    from tls_core.store import Repository

    root = settings(ctx).repo
    with working("verifying", quiet=quiet):
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


@app.command("purge")
def purge_command(
    ctx: typer.Context,
    case: Annotated[
        list[str] | None,
        typer.Option("--case", help="Only this case (repeatable; default: every case due)."),
    ] = None,
    json_out: JsonOpt = False,
    audit_key: AuditKeyOpt = None,
    case_store: CaseStoreOpt = None,
    audit_store: AuditStoreOpt = None,
    quiet: QuietOpt = False,
) -> None:
    """Purge the records of closed cases past retention (needs the purge permission, audited).

    Records are kept until 20 years after the end of the fiscal year in which the case
    closed, never while on legal hold, and never when an open case also holds them.
    """
    from tls_core.store import Repository

    actor = _need(ctx)
    repo = Repository.open(settings(ctx).repo, create=False)
    with _open(ctx, audit_key, case_store, audit_store) as store, working("purging", quiet=quiet):
        cases, report = purge_due(repo, store, actor, case)
    payload = {
        "cases": list(cases),
        "batch_ids": list(report.batch_ids),
        "records_removed": report.records_removed,
        "records_kept": report.records_kept,
        "rejects_removed": report.rejects_removed,
    }
    if json_out:
        emit_json(payload)
        return
    typer.echo(f"cases past retention: {', '.join(cases) or 'none'}")
    typer.echo(
        f"purged {len(report.batch_ids)} batch(es): {report.records_removed} records removed, "
        f"{report.records_kept} kept (also held by other cases), "
        f"{report.rejects_removed} rejects removed"
    )


def purge_due(
    repo: Repository, store: CaseStore, actor: str, only: list[str] | None = None
) -> tuple[tuple[str, ...], PurgeReport]:
    """Authorize (audited, per case) and run the purge of the cases due, by the store's clock.

    Without ``only``, the cases due that ``actor`` may purge; with it, exactly those cases
    (a denied or not-yet-due case raises, audited, and nothing is purged).
    """
    from icm_bridge import authorize_purge, cases_due_for_purge

    now = store.now()
    if only is None:
        due = cases_due_for_purge(store, now)
        cases = tuple(sorted(store.visible_cases(actor, due, action="purge")))
    else:
        cases = tuple(dict.fromkeys(only))
    for number in cases:
        authorize_purge(store, actor, number, now)
    facts = {}
    for number in cases:
        shown = store.show_case(actor, number)
        closed = None if shown.closed is None else shown.closed.astimezone(UTC).date()
        facts[number] = (closed, shown.legal_hold, shown.status != "closed")
    try:
        report = repo.purge(facts, today=store.today(), actor=actor)
    except TlsError as err:
        store.append(AuditEvent(actor, "purge", "failed", cases, {"error": str(err.reason)}))
        raise
    ids = {
        "batch_ids": " ".join(report.batch_ids),
        "records_removed": str(report.records_removed),
        "rejects_removed": str(report.rejects_removed),
    }
    store.append(AuditEvent(actor, "purge", "ok", cases, ids))
    return cases, report


@app.command("unlink")
def unlink_command(
    ctx: typer.Context,
    batch_id: Annotated[str, typer.Argument(help="The batch (32 hex digits).")],
    case: Annotated[str, typer.Option("--case", help="The case to unlink it from.")],
    json_out: JsonOpt = False,
    audit_key: AuditKeyOpt = None,
    case_store: CaseStoreOpt = None,
    audit_store: AuditStoreOpt = None,
) -> None:
    """Remove a batch's association with a case (needs ingest on the case, audited).

    The records stay stored (for the batch's other cases); retention purges them later.
    """
    from tls_core.store import Repository

    actor = _need(ctx)
    repo = Repository.open(settings(ctx).repo, create=False)
    with _open(ctx, audit_key, case_store, audit_store) as store:
        store.check(actor, "ingest", case)
        try:
            report = repo.unlink(batch_id, case, actor=actor)
        except TlsError as err:
            ids = {"batch_id": batch_id, "error": str(err.reason)}
            store.append(AuditEvent(actor, "unlink", "failed", (case,), ids))
            raise
        ids = {"batch_id": batch_id, "changed": str(report.changed).lower()}
        store.append(AuditEvent(actor, "unlink", "ok", (case,), ids))
    if json_out:
        emit_json(dataclasses.asdict(report))
        return
    state = "unlinked from" if report.changed else "was not linked to"
    typer.echo(f"batch {report.batch_id} {state} case {report.case_id}")
