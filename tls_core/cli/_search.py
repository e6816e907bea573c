"""``tls search``, ``tls path`` and ``tls profile``: read the repository through the case store.

The case store (``icm_bridge.CaseStore``) is the access policy, the case directory, the
notifier and the audit sink; it is opened as the case commands open it.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any

import typer

from tls_core.cli._app import app
from tls_core.cli._cases import AuditKeyOpt, AuditStoreOpt, CaseStoreOpt, _need, _open
from tls_core.cli._common import JsonOpt, contact_json, emit_json, settings
from tls_core.cli._progress import QuietOpt, working

if TYPE_CHECKING:
    from tls_core.protocols import Contact
    from tls_core.search import PathResult, SearchResult, TargetProfile

__all__ = ["path_command", "profile_command", "search_command"]

KindOpt = Annotated[
    str, typer.Option("--kind", help="auto, or the kind of the value (phone, imei, ...).")
]


@app.command("search")
def search_command(
    ctx: typer.Context,
    value: Annotated[str, typer.Argument(help="An identifier in any accepted spelling.")],
    kind: KindOpt = "auto",
    limit: Annotated[int, typer.Option("--limit", help="Most records listed.")] = 1000,
    audit_key: AuditKeyOpt = None,
    case_store: CaseStoreOpt = None,
    audit_store: AuditStoreOpt = None,
    json_out: JsonOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Find the records and cases holding VALUE; other cases' owners are told who searched."""
    from tls_core.search import search
    from tls_core.store import Repository

    actor = _need(ctx)
    repo = Repository.open(settings(ctx).repo, create=False)
    with _open(ctx, audit_key, case_store, audit_store) as store, working("searching", quiet=quiet):
        result = search(
            repo,
            value,
            actor=actor,
            access=store,
            directory=store,
            notifier=store,
            audit=store,
            kind=kind,  # type: ignore[arg-type]  # checked by normalize_value
            limit=limit,
        )
    payload = search_json(result)
    if json_out:
        emit_json(payload)
        return
    _print_search(result)


@app.command("path")
def path_command(
    ctx: typer.Context,
    case_a: Annotated[str, typer.Argument(help="First case number.")],
    case_b: Annotated[str, typer.Argument(help="Second case number.")],
    max_hops: Annotated[int, typer.Option("--max-hops", help="Most case-to-case hops.")] = 3,
    limit: Annotated[int, typer.Option("--limit", help="Most chains listed.")] = 100,
    audit_key: AuditKeyOpt = None,
    case_store: CaseStoreOpt = None,
    audit_store: AuditStoreOpt = None,
    json_out: JsonOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Shortest identifier chains between two cases (through cases you may see)."""
    from tls_core.search import path
    from tls_core.store import Repository

    actor = _need(ctx)
    repo = Repository.open(settings(ctx).repo, create=False)
    with _open(ctx, audit_key, case_store, audit_store) as store, working("path", quiet=quiet):
        result = path(
            repo, case_a, case_b, actor=actor, access=store, audit=store,
            max_hops=max_hops, limit=limit,
        )  # fmt: skip
    if json_out:
        emit_json(path_json(result))
        return
    if result.hops is None:
        typer.echo(f"no chain of at most {max_hops} hop(s) between {case_a} and {case_b}")
    for chain in result.paths:
        steps = [chain.cases[0]]
        for (kind, ident), case in zip(chain.identifiers, chain.cases[1:], strict=True):
            steps += [f"[{kind} {ident}]", case]
        typer.echo(" - ".join(steps))


@app.command("profile")
def profile_command(
    ctx: typer.Context,
    case: Annotated[str, typer.Argument(help="Case number.")],
    top: Annotated[int, typer.Option("--top", help="Top contacts per target.")] = 10,
    audit_key: AuditKeyOpt = None,
    case_store: CaseStoreOpt = None,
    audit_store: AuditStoreOpt = None,
    json_out: JsonOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Per-target analysis of a case: activity, top contacts, contacts shared by targets."""
    from tls_core.search import target_profile
    from tls_core.store import Repository

    actor = _need(ctx)
    repo = Repository.open(settings(ctx).repo, create=False)
    with _open(ctx, audit_key, case_store, audit_store) as store, working("profile", quiet=quiet):
        result = target_profile(repo, case, actor=actor, access=store, audit=store, top=top)
    if json_out:
        emit_json(profile_json(result))
        return
    for t in result.targets:
        typer.echo(
            f"target {t.target}: {t.records} record(s), "
            f"{_time(t.first_activity_utc)} .. {_time(t.last_activity_utc)}"
        )
        for c in t.top_contacts:
            typer.echo(f"  {c.identifier} ({c.kind}): {c.records}")
    for common in result.common_contacts:
        shared = ", ".join(common.targets)
        typer.echo(f"common contact {common.identifier}: {shared} ({common.records})")


def path_json(result: PathResult) -> dict[str, Any]:
    """The ``tls path --json`` document (see ``docs/cli.md``)."""
    return {
        "case_a": result.case_a,
        "case_b": result.case_b,
        "hops": result.hops,
        "paths": [
            {
                "cases": list(chain.cases),
                "identifiers": [{"kind": k, "identifier": i} for k, i in chain.identifiers],
            }
            for chain in result.paths
        ],
        "truncated": result.truncated,
        "snapshot_version": result.snapshot_version,
    }


def profile_json(result: TargetProfile) -> dict[str, Any]:
    """The ``tls profile --json`` document (see ``docs/cli.md``)."""
    return {
        "case": result.case_number,
        "snapshot_version": result.snapshot_version,
        "targets": [
            {
                "target": t.target,
                "kind": t.kind,
                "records": t.records,
                "first_activity_utc": _time(t.first_activity_utc),
                "last_activity_utc": _time(t.last_activity_utc),
                "top_contacts": [
                    {
                        "identifier": c.identifier,
                        "kind": c.kind,
                        "records": c.records,
                        "first_seen_utc": _time(c.first_seen_utc),
                        "last_seen_utc": _time(c.last_seen_utc),
                    }
                    for c in t.top_contacts
                ],
            }
            for t in result.targets
        ],
        "common_contacts": [
            {
                "identifier": c.identifier,
                "kind": c.kind,
                "targets": list(c.targets),
                "records": c.records,
            }
            for c in result.common_contacts
        ],
    }


def search_json(result: SearchResult) -> dict[str, Any]:
    """The ``tls search --json`` document (see ``docs/cli.md``)."""
    return {
        "query": result.query,
        "kind": result.kind,
        "canonical": result.canonical,
        "snapshot_version": result.snapshot_version,
        "index": result.index,
        "cases": [
            {
                "case": c.case_number,
                "records": c.records,
                "grade": c.grade,
                "roles": list(c.roles),
                "first_seen_utc": _time(c.first_seen_utc),
                "last_seen_utc": _time(c.last_seen_utc),
            }
            for c in result.cases
        ],
        "records": [
            {
                "case": r.case_number,
                "record_id": r.record_id,
                "record_type": r.record_type,
                "identifier": r.canonical,
                "kind": r.kind,
                "grade": r.grade,
                "role": r.role,
                "seen_utc": _time(r.seen_utc),
                "target": r.target,
            }
            for r in result.records
        ],
        "truncated": result.truncated,
        "restricted": [
            {"message": p.message, "contact": contact_json(p.contact)} for p in result.restricted
        ],
        "notified": result.notified,
    }


def _print_search(result: SearchResult) -> None:
    typer.echo(f"{result.query} -> {result.kind} {result.canonical}")
    if not result.cases and not result.restricted:
        typer.echo("no records hold it")
    for c in result.cases:
        typer.echo(
            f"case {c.case_number}: {c.records} record(s), {c.grade}, roles "
            f"{', '.join(c.roles)}, {_time(c.first_seen_utc)} .. {_time(c.last_seen_utc)}"
        )
    for p in result.restricted:
        who = "no contact on file" if p.contact is None else _contact_text(p.contact)
        typer.echo(f"{p.message}; contact {who}")
    if result.notified:
        typer.echo(f"{result.notified} case owner(s) notified of this search")


def _contact_text(contact: Contact) -> str:
    parts = [contact.name, contact.phone, contact.email, contact.office]
    return ", ".join(p for p in parts if p)


def _time(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()
