"""``tls search``, ``tls path`` and ``tls profile``: read the repository through the case store.

The case store (``icm_bridge.CaseStore``) is the access policy, the case directory, the
notifier and the audit sink; it is opened as the case commands open it.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any

import typer

from tls_core.cli._app import app
from tls_core.cli._cases import AuditKeyOpt, AuditStoreOpt, CaseStoreOpt, _need, _open
from tls_core.cli._common import JsonOpt, emit_json, settings

if TYPE_CHECKING:
    from tls_core.protocols import Contact
    from tls_core.search import SearchResult

__all__ = ["search_command"]

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
) -> None:
    """Find the records and cases holding VALUE; other cases' owners are told who searched."""
    from tls_core.search import search
    from tls_core.store import Repository

    actor = _need(ctx)
    repo = Repository.open(settings(ctx).repo, create=False)
    with _open(ctx, audit_key, case_store, audit_store) as store:
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


def contact_json(contact: Contact | None) -> Mapping[str, str | None] | None:
    """A contact as JSON (``user_id``, ``name``, ``phone``, ``email``, ``office``)."""
    if contact is None:
        return None
    return {
        "user_id": contact.user_id,
        "name": contact.name,
        "phone": contact.phone,
        "email": contact.email,
        "office": contact.office,
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
