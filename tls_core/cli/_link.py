"""``tls link``, ``tls alerts`` and ``tls hubs``: the cross-case linker on the command line.

``tls link`` runs the incremental link (``--full`` relinks everything), delivers new and grown
alerts to both case owners through the case store, and audits the run. ``tls alerts`` shows
the acting user the alerts of the cases they may see; a case they may not see appears as a
pointer (no case number, the person to contact). ``tls hubs`` lists suppressed identifiers.
The JSON shapes are documented in ``docs/cli.md``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from tls_core.cli._app import app
from tls_core.cli._cases import AuditKeyOpt, AuditStoreOpt, CaseStoreOpt, _need, _open
from tls_core.cli._common import JsonOpt, contact_json, emit_json, settings
from tls_core.cli._progress import QuietOpt, working
from tls_core.errors import AccessDenied
from tls_core.protocols import AuditEvent

if TYPE_CHECKING:
    from icm_bridge import CaseStore
    from tls_core.link import Alert, Evidence

__all__ = ["alerts_command", "hubs_command", "link_command"]


@app.command("link")
def link_command(
    ctx: typer.Context,
    full: Annotated[bool, typer.Option("--full", help="Relink everything.")] = False,
    audit_key: AuditKeyOpt = None,
    case_store: CaseStoreOpt = None,
    audit_store: AuditStoreOpt = None,
    json_out: JsonOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Link what is new since the last run; deliver new and grown alerts to both owners."""
    from tls_core.link import link
    from tls_core.store import Repository

    with _open(ctx, audit_key, case_store, audit_store) as store:
        actor = _need(ctx)
        store.visible_cases(actor, ())  # the actor must exist and be trained
        repo = Repository.open(settings(ctx).repo, create=False)
        with working("link", quiet=quiet) as phase:
            run = link(repo, actor=actor, notifier=store, audit=store, full=full, progress=phase)
    summary = {
        "snapshot_version": run.snapshot_version,
        "mode": run.mode,
        "links_processed": run.links_processed,
        "occurrences": run.occurrences,
        "alerts": run.alert_count,
        "changed": len(run.alerts),
        "new": len(run.new),
        "updated": len(run.updated),
        "hubs": len(run.hubs),
        "notified": run.notified,
    }
    if json_out:
        emit_json(summary)
    else:
        for key, value in summary.items():
            typer.echo(f"{key}: {value}")


@app.command("alerts")
def alerts_command(
    ctx: typer.Context,
    case: Annotated[str | None, typer.Option("--case", help="Only alerts of this case.")] = None,
    audit_key: AuditKeyOpt = None,
    case_store: CaseStoreOpt = None,
    audit_store: AuditStoreOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Show the alerts of the last link run for the cases you may see."""
    from tls_core.link import alerts
    from tls_core.store import Repository

    with _open(ctx, audit_key, case_store, audit_store) as store:
        actor = _need(ctx)
        if case is not None:
            store.check(actor, "search-hit", case)
        found = alerts(Repository.open(settings(ctx).repo, create=False), case=case)
        every = {c for a in found for c in (a.case_a, a.case_b)}
        visible = store.visible_cases(actor, every)
        shown = [_shown(store, actor, a, visible) for a in found]
        payload = [p for p in shown if p is not None]
        cases = sorted({c for p in payload for c in (p["case_a"], p["case_b"]) if c is not None})
        criteria = {"case": case} if case is not None else {}
        store.append(AuditEvent(actor, "alerts", "ok", tuple(cases), criteria=criteria))
    if json_out:
        emit_json(payload)
        return
    for p in payload:
        other = p["case_b"] or "a restricted case"
        typer.echo(f"{p['case_a']} <-> {other}: {', '.join(p['link_types'])} ({p['strength']})")
        for e in p["evidence"]:
            typer.echo(f"  {e['identifier']} ({e['kind']}) {e['link_type']} [{e['grade']}]")


@app.command("hubs")
def hubs_command(
    ctx: typer.Context,
    audit_key: AuditKeyOpt = None,
    case_store: CaseStoreOpt = None,
    audit_store: AuditStoreOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """List identifiers suppressed as hubs (curated list, service codes, learned weight)."""
    from tls_core.link import hubs
    from tls_core.store import Repository

    with _open(ctx, audit_key, case_store, audit_store) as store:
        actor = _need(ctx)
        try:
            store.check_global(actor, "list-hubs")  # not admins; trained users only
        except AccessDenied:
            store.append(AuditEvent(actor, "hubs", "denied"))
            raise
        found = hubs(Repository.open(settings(ctx).repo, create=False))
        store.append(AuditEvent(actor, "hubs", "ok"))
    payload = [
        {
            "identifier": h.identifier,
            "kind": h.kind,
            "reason": h.reason,
            "detail": h.detail,
            "cases": h.cases,
        }
        for h in found
    ]
    if json_out:
        emit_json(payload)
        return
    for p in payload:
        typer.echo(f"{p['identifier']} ({p['kind']}): {p['reason']}, {p['detail']}")


def _shown(
    store: CaseStore, actor: str, alert: Alert, visible: frozenset[str]
) -> dict[str, Any] | None:
    """The alert as ``actor`` may see it: the visible case first, a hidden one as a pointer."""
    a, b = alert.case_a, alert.case_b
    if a not in visible and b not in visible:
        return None
    if a not in visible:
        a, b = b, a
    hidden = b not in visible
    return {
        # The id hashes both case numbers: never shown with a hidden case (it would be an oracle).
        "alert_id": None if hidden else alert.alert_id,
        "case_a": a,
        "case_b": None if hidden else b,
        "restricted": hidden,
        "link_types": list(alert.link_types),
        "strength": alert.strength,
        "owner_a": contact_json(store.owner_contact(actor, a)),
        "owner_b": _pointer(store, actor, b)
        if hidden
        else contact_json(store.owner_contact(actor, b)),
        "evidence": [_evidence(e, a, b, hidden) for e in alert.evidence],
    }


def _evidence(e: Evidence, a: str, b: str, hidden: bool) -> dict[str, Any]:
    # A hidden case's roles, counts and activity times are its data: only that it shares this.
    def both(values: Any) -> dict[str, Any]:
        return {a: values[a]} if hidden else {a: values[a], b: values[b]}

    return {
        "identifier": e.identifier,
        "kind": e.kind,
        "link_type": e.link_type,
        "grade": e.grade,
        "strength": round(e.strength, 6),
        "roles": {k: list(v) for k, v in both(e.roles).items()},
        "records": both(e.records),
        "first_seen": both(e.first_seen),
        "last_seen": both(e.last_seen),
        "overlap_days": None if hidden else e.overlap_days,
    }


def _pointer(store: CaseStore, actor: str, case: str) -> dict[str, Any]:
    try:
        contact: dict[str, Any] | None = contact_json(store.restricted_contact(actor, case))
    except AccessDenied:
        contact = None  # no one on file to name: the pointer says so
    return {"restricted": True, "contact": contact}
