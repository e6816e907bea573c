"""``tls user``, ``tls case``, ``tls notifications`` and ``tls audit``: the case store commands.

This module is where the command line wires :mod:`icm_bridge` in (``tls_core`` proper never
imports it). The global ``--repo`` and ``--as`` come before the command
(``tls --as alice case open ...``); a denied action exits 1 with one line on stderr that reads
the same for a case that exists and one that does not.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from tls_core.cli._app import app
from tls_core.cli._common import JsonOpt, emit_json, settings
from tls_core.cli._progress import QuietOpt, working
from tls_core.errors import AccessDenied, ConfigError

if TYPE_CHECKING:
    from icm_bridge import CaseStore

__all__ = ["audit_app", "case_app", "user_app"]

AuditKeyOpt = Annotated[
    Path | None,
    typer.Option(
        "--audit-key",
        envvar="TLS_AUDIT_KEY",
        help="Audit MAC key file, kept outside the audit store (default REPO/audit.key).",
    ),
]
CaseStoreOpt = Annotated[
    str | None,
    typer.Option(
        "--case-store", envvar="TLS_CASE_STORE", help="Case store URL (default: SQLite in REPO)."
    ),
]
AuditStoreOpt = Annotated[
    str | None,
    typer.Option(
        "--audit-store", envvar="TLS_AUDIT_STORE", help="Audit store URL (default: SQLite in REPO)."
    ),
]
CaseArg = Annotated[str, typer.Argument(help="Case number.")]

user_app = typer.Typer(help="Accounts: add and show users.", no_args_is_help=True)
case_app = typer.Typer(help="Cases: open, close, restrict, team, legal hold.", no_args_is_help=True)
audit_app = typer.Typer(help="The tamper-evident audit log (OPR only).", no_args_is_help=True)
app.add_typer(user_app, name="user")
app.add_typer(case_app, name="case")
app.add_typer(audit_app, name="audit")


@contextmanager
def _open(
    ctx: typer.Context, audit_key: Path | None, case_url: str | None, audit_url: str | None
) -> Iterator[CaseStore]:
    from icm_bridge import CaseStore

    repo = settings(ctx).repo
    store = CaseStore.open(
        repo, audit_key=audit_key or repo / "audit.key", case_url=case_url, audit_url=audit_url
    )
    try:
        yield store
        store.audit.seal()  # checkpoint the tail so a later truncation is caught
    finally:
        store.engine.dispose()
        store.audit.engine.dispose()


def _need(ctx: typer.Context) -> str:
    actor = settings(ctx).user
    if not actor:
        raise AccessDenied(
            "this command needs --as USER", reason="no_actor", hint="pass --as or set TLS_USER"
        )
    return actor


def _date(text: str | None, option: str) -> date | None:
    if text is None:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ConfigError(
            f"{option} is not an ISO date", value=text, reason="bad_date", hint="use YYYY-MM-DD"
        ) from None


def _when(text: str | None, option: str) -> datetime | None:
    if text is None:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ConfigError(
            f"{option} is not an ISO time",
            value=text,
            reason="bad_time",
            hint="e.g. 2026-01-31T12:00Z",
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _emit(value: Any, as_json: bool) -> None:
    is_record = dataclasses.is_dataclass(value) and not isinstance(value, type)
    payload = dataclasses.asdict(value) if is_record else value
    if as_json:
        emit_json(payload)
        return
    items = payload.items() if isinstance(payload, dict) else enumerate(payload)
    for key, item in items:
        shown = ", ".join(map(str, item)) if isinstance(item, tuple | list) else item
        typer.echo(f"{key}: {'' if shown is None else shown}")


@user_app.command("add")
def user_add(
    ctx: typer.Context,
    user_id: Annotated[str, typer.Argument(help="New user id.")],
    name: Annotated[str, typer.Option("--name", help="Full name.")],
    role: Annotated[str, typer.Option("--role", help="agent|analyst|supervisor|opr|opla|admin")],
    phone: Annotated[str | None, typer.Option("--phone")] = None,
    email: Annotated[str | None, typer.Option("--email")] = None,
    office: Annotated[str | None, typer.Option("--office")] = None,
    supervisor: Annotated[str | None, typer.Option("--supervisor", help="Supervisor's id.")] = None,
    trained_on: Annotated[
        str | None, typer.Option("--trained-on", help="YYYY-MM-DD (default today).")
    ] = None,
    audit_key: AuditKeyOpt = None,
    case_store: CaseStoreOpt = None,
    audit_store: AuditStoreOpt = None,
    json: JsonOpt = False,
) -> None:
    """Add an account; on an empty case store the first admin needs no --as."""
    from icm_bridge import ROLES, NewUser

    if role not in ROLES:
        raise ConfigError(
            f"unknown role {role!r}", value=role, reason="bad_role", hint=", ".join(ROLES)
        )
    with _open(ctx, audit_key, case_store, audit_store) as store:
        new = NewUser(
            user_id=user_id,
            name=name,
            role=role,  # checked against ROLES above
            trained_on=_date(trained_on, "--trained-on") or store.today(),
            phone=phone,
            email=email,
            office=office,
            supervisor=supervisor,
        )
        _emit(store.add_user(settings(ctx).user or None, new), json)


@user_app.command("show")
def user_show(
    ctx: typer.Context,
    user_id: Annotated[str, typer.Argument(help="User id.")],
    audit_key: AuditKeyOpt = None,
    case_store: CaseStoreOpt = None,
    audit_store: AuditStoreOpt = None,
    json: JsonOpt = False,
) -> None:
    """Show an account."""
    with _open(ctx, audit_key, case_store, audit_store) as store:
        _emit(store.get_user(_need(ctx), user_id), json)


@case_app.command("open")
def case_open(
    ctx: typer.Context,
    number: CaseArg,
    owner: Annotated[str, typer.Option("--owner", help="Owner's user id.")],
    title: Annotated[str, typer.Option("--title")] = "",
    restricted: Annotated[bool, typer.Option("--restricted", help="Restrict to the team.")] = False,
    audit_key: AuditKeyOpt = None,
    case_store: CaseStoreOpt = None,
    audit_store: AuditStoreOpt = None,
    json: JsonOpt = False,
) -> None:
    """Open a case."""
    with _open(ctx, audit_key, case_store, audit_store) as store:
        actor = _need(ctx)
        case = store.open_case(actor, number, owner=owner, title=title, restricted=restricted)
        _emit(case, json)


@case_app.command("close")
def case_close(
    ctx: typer.Context,
    number: CaseArg,
    audit_key: AuditKeyOpt = None,
    case_store: CaseStoreOpt = None,
    audit_store: AuditStoreOpt = None,
    json: JsonOpt = False,
) -> None:
    """Close a case (starts its retention period)."""
    with _open(ctx, audit_key, case_store, audit_store) as store:
        _emit(store.close_case(_need(ctx), number), json)


@case_app.command("restrict")
def case_restrict(
    ctx: typer.Context,
    number: CaseArg,
    audit_key: AuditKeyOpt = None,
    case_store: CaseStoreOpt = None,
    audit_store: AuditStoreOpt = None,
    json: JsonOpt = False,
) -> None:
    """Restrict a case to its team (its owner's supervisor chain still sees it)."""
    with _open(ctx, audit_key, case_store, audit_store) as store:
        _emit(store.set_restricted(_need(ctx), number, True), json)


@case_app.command("unrestrict")
def case_unrestrict(
    ctx: typer.Context,
    number: CaseArg,
    audit_key: AuditKeyOpt = None,
    case_store: CaseStoreOpt = None,
    audit_store: AuditStoreOpt = None,
    json: JsonOpt = False,
) -> None:
    """Lift a case's restriction."""
    with _open(ctx, audit_key, case_store, audit_store) as store:
        _emit(store.set_restricted(_need(ctx), number, False), json)


@case_app.command("team")
def case_team(
    ctx: typer.Context,
    number: CaseArg,
    add: Annotated[
        list[str] | None, typer.Option("--add", help="Add a member (repeatable).")
    ] = None,
    remove: Annotated[list[str] | None, typer.Option("--remove", help="Remove a member.")] = None,
    audit_key: AuditKeyOpt = None,
    case_store: CaseStoreOpt = None,
    audit_store: AuditStoreOpt = None,
    json: JsonOpt = False,
) -> None:
    """Change a case's team."""
    with _open(ctx, audit_key, case_store, audit_store) as store:
        case = store.change_team(_need(ctx), number, add=add or (), remove=remove or ())
        _emit(case, json)


@case_app.command("hold")
def case_hold(
    ctx: typer.Context,
    number: CaseArg,
    release: Annotated[bool, typer.Option("--release", help="Release the hold.")] = False,
    audit_key: AuditKeyOpt = None,
    case_store: CaseStoreOpt = None,
    audit_store: AuditStoreOpt = None,
    json: JsonOpt = False,
) -> None:
    """Place (or --release) a legal hold: held records are never purged."""
    with _open(ctx, audit_key, case_store, audit_store) as store:
        _emit(store.set_hold(_need(ctx), number, not release), json)


@case_app.command("show")
def case_show(
    ctx: typer.Context,
    number: CaseArg,
    audit_key: AuditKeyOpt = None,
    case_store: CaseStoreOpt = None,
    audit_store: AuditStoreOpt = None,
    json: JsonOpt = False,
) -> None:
    """Show a case."""
    with _open(ctx, audit_key, case_store, audit_store) as store:
        _emit(store.show_case(_need(ctx), number), json)


@app.command("notifications")
def notifications(
    ctx: typer.Context,
    show_all: Annotated[bool, typer.Option("--all", help="Include read ones.")] = False,
    mark_read: Annotated[
        bool, typer.Option("--mark-read", help="Mark the listed ones read.")
    ] = False,
    audit_key: AuditKeyOpt = None,
    case_store: CaseStoreOpt = None,
    audit_store: AuditStoreOpt = None,
    json: JsonOpt = False,
) -> None:
    """List your notification queue (unread first-in first-out), optionally marking it read."""
    with _open(ctx, audit_key, case_store, audit_store) as store:
        actor = _need(ctx)
        queue = store.notifications(actor, unread_only=not show_all)
        if mark_read:
            store.mark_read(actor, [n.notification_id for n in queue])
    if json:
        emit_json([dataclasses.asdict(n) for n in queue])
        return
    for n in queue:
        flag = " " if n.read else "*"
        typer.echo(f"{flag} {n.notification_id} {n.created:%Y-%m-%d %H:%M}Z {n.subject}")


@audit_app.command("verify")
def audit_verify(
    ctx: typer.Context,
    workers: Annotated[int, typer.Option("--workers", help="Parallel processes (large logs).")] = 1,
    audit_key: AuditKeyOpt = None,
    case_store: CaseStoreOpt = None,
    audit_store: AuditStoreOpt = None,
    json: JsonOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Verify the audit chain; exit 1 and name the first bad sequence number if tampered."""
    with (
        _open(ctx, audit_key, case_store, audit_store) as store,
        working("verifying the audit", quiet=quiet),
    ):
        report = store.verify_audit(_need(ctx), workers=workers)
    if json:
        emit_json(dataclasses.asdict(report))
    elif report.ok:
        typer.echo(f"audit ok: {report.size} events, {report.checkpoints} signed checkpoints")
    else:
        typer.echo(f"audit FAILED at seq {report.first_bad_seq} ({report.reason})")
    if not report.ok:
        raise typer.Exit(1)


@audit_app.command("show")
def audit_show(
    ctx: typer.Context,
    user: Annotated[str | None, typer.Option("--user", help="Only this actor.")] = None,
    case: Annotated[str | None, typer.Option("--case", help="Only events about this case.")] = None,
    since: Annotated[str | None, typer.Option("--since", help="ISO time (UTC if no zone).")] = None,
    until: Annotated[str | None, typer.Option("--until", help="ISO time, exclusive.")] = None,
    limit: Annotated[int, typer.Option("--limit")] = 1000,
    audit_key: AuditKeyOpt = None,
    case_store: CaseStoreOpt = None,
    audit_store: AuditStoreOpt = None,
    json: JsonOpt = False,
) -> None:
    """Show audit events filtered by user, case and time (OPR only)."""
    with _open(ctx, audit_key, case_store, audit_store) as store:
        records = store.read_audit(
            _need(ctx),
            user=user,
            case_number=case,
            since=_when(since, "--since"),
            until=_when(until, "--until"),
            limit=limit,
        )
    if json:
        emit_json([dataclasses.asdict(r) for r in records])
        return
    for r in records:
        cases = ",".join(r.case_numbers) or "-"
        typer.echo(f"{r.seq} {r.at.isoformat()} {r.actor}/{r.role} {r.action} {r.outcome} {cases}")
