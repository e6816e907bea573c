"""The case store service: every action checked, done, noted and audited in one place.

:class:`CaseStore` implements the ``tls_core.protocols`` seams (``AccessPolicy``,
``CaseDirectory``, ``NotificationSink``, ``AuditSink``). Each mutating call runs one case-store
transaction holding the access check, the change, its event row and its notifications, and
appends the audit event before that transaction commits: if the audit cannot be written the
change is rolled back (fail closed). A denial is audited as ``denied`` and raised.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace
from datetime import UTC, date, datetime
from pathlib import Path

import sqlalchemy as sa

from icm_bridge import _access as access
from icm_bridge._audit import AuditLog, AuditRecord, VerifyReport, load_or_create_key
from icm_bridge._audited import AuditedStore, Body, actor_role, store_errors
from icm_bridge._case_ops import (
    apply_user_update,
    edit_team,
    insert_case,
    read_approvals,
    set_approvals,
    set_flag,
    set_status,
)
from icm_bridge._db import (
    audit_store_url,
    case_store_url,
    create_store_engine,
    to_us,
)
from icm_bridge._notices import Lookups, queue_link, queue_query
from icm_bridge._outbox import (
    Notification,
    list_notifications,
    mark_read,
    record_event,
)
from icm_bridge._policy import GlobalAction, Policy
from icm_bridge._records import Case, NewUser, User, insert_user, read_case, read_user
from icm_bridge._schema import CASE_METADATA, cases, users
from tls_core.errors import AccessDenied, CaseStoreError
from tls_core.protocols import Action, AuditEvent, Contact, LinkNotice, Outcome, QueryNotice

__all__ = ["CaseStore"]


class CaseStore(AuditedStore):
    """Cases, users, the access policy, the notification outbox and the audit log.

    Built on :class:`~icm_bridge._audited.AuditedStore` (engines, policy, clock, audited
    transactions); construct it with :meth:`open`, or with the base's arguments (``engine``,
    ``audit``, ``policy``, ``clock``).
    """

    @classmethod
    def open(
        cls,
        repo: Path,
        *,
        audit_key: Path,
        case_url: str | None = None,
        audit_url: str | None = None,
        policy: Policy | None = None,
        create: bool = True,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> CaseStore:
        """Open (and by default create) the stores of a repository directory.

        Args:
            repo: Repository directory; the embedded SQLite files live there.
            audit_key: File holding the audit MAC key, created if missing; keep it outside
                the audit store (the anchor file is written beside it).
            case_url: Case store URL instead of ``REPO/cases.sqlite``.
            audit_url: Audit store URL instead of ``REPO/audit.sqlite`` (on PostgreSQL the
                audit tables go to schema ``tls_audit``).
            policy: Permission table; the shipped one by default.
            create: Create missing tables.
            clock: Source of aware UTC datetimes.
        """
        repo.mkdir(parents=True, exist_ok=True)
        engine = create_store_engine(case_url or case_store_url(repo))
        audit_engine = create_store_engine(audit_url or audit_store_url(repo), schema="tls_audit")
        key = load_or_create_key(audit_key)
        anchor = audit_key.with_name(audit_key.name + ".anchor")
        audit = AuditLog(audit_engine, key=key, anchor=anchor, clock=clock)
        store = cls(engine, audit=audit, policy=policy, clock=clock)
        if create:
            store.create()
        return store

    def create(self) -> None:
        """Create the case store and audit tables if missing."""
        with store_errors(), self.engine.begin() as conn:
            CASE_METADATA.create_all(conn)
        self.audit.create()

    # -- the AccessPolicy / CaseDirectory / NotificationSink / AuditSink seams ---------------

    def check(self, actor: str, action: Action, case_number: str) -> None:
        """Raise ``AccessDenied`` unless ``actor`` may perform ``action`` on the case.

        A denial is audited here (``check-<action>``, outcome ``denied``); the caller audits
        the action it then performs through :meth:`append`.
        """
        with self._connect() as conn:
            try:
                access.check_case(conn, self.policy, actor, action, case_number, self.today())
            except AccessDenied:
                event = AuditEvent(actor, f"check-{action}", "denied", (case_number,))
                self.audit.append(event, role=actor_role(conn, actor))
                raise

    def visible_cases(
        self, actor: str, case_numbers: Iterable[str], *, action: Action = "search-hit"
    ) -> frozenset[str]:
        """Return the cases on which ``actor`` may perform ``action``; drop the rest silently."""
        with self._connect() as conn:
            return access.visible_subset(
                conn, self.policy, actor, action, case_numbers, self.today()
            )

    def check_global(self, actor: str, action: GlobalAction) -> None:
        """Raise AccessDenied unless ``actor`` (existing, trained) may perform ``action``."""
        with self._connect() as conn:
            self._check_global(conn, actor, action)

    def owner_contact(self, actor: str, case_number: str) -> Contact:
        """Return the case owner's contact if ``actor`` may see the case."""
        with self._connect() as conn:
            access.check_case(conn, self.policy, actor, "search-hit", case_number, self.today())
            owner = conn.execute(
                sa.select(cases.c.owner_id).where(cases.c.number == case_number)
            ).scalar_one()
            user = read_user(conn, owner)
        if user is None:
            raise access.denied(actor, "search-hit", case_number)
        return Contact(user.user_id, user.name, user.phone, user.email, user.office)

    def restricted_contact(self, actor: str, case_number: str) -> Contact:
        """Return the case owner's nearest supervisor: whom to ask about a hidden case.

        The actor must exist and be trained. The contact names neither the case nor its owner.
        A case that does not exist, or whose owner has no supervisor on file, is denied with
        the same message as any denial. Every call is audited (``restricted-contact``, with
        the case number, ``ok`` or ``denied``), so probing case numbers through it shows up.
        """

        def body(conn: sa.Connection) -> Contact:
            access.load_actor(conn, self.policy, actor, self.today())
            contact = _supervisor_contact(conn, case_number)
            if contact is None:
                raise access.denied(actor, "search-hit", case_number)
            return contact

        return self.run_audited(actor, "restricted-contact", (case_number,), body)

    def restricted_contacts(
        self, actor: str, case_numbers: Sequence[str]
    ) -> dict[str, Contact | None]:
        """Batch form of :meth:`restricted_contact` (``BatchDirectory``): one transaction.

        Each case is audited ``restricted-contact`` as :meth:`restricted_contact` audits it
        (``ok``, or ``denied`` where that would raise), all in one audit append; the value is
        None where :meth:`restricted_contact` would raise. An unknown or untrained actor:
        every case is audited ``denied`` and ``AccessDenied`` (or ``TrainingLapsed``) raised.
        """
        numbers = list(dict.fromkeys(case_numbers))
        found: dict[str, Contact | None] = {}
        if not numbers:
            return found

        def events(outcome: Outcome | None, role: str) -> list[tuple[AuditEvent, str]]:
            return [
                (AuditEvent(actor, "restricted-contact", _outcome(outcome, found, n), (n,)), role)
                for n in numbers
            ]

        try:
            with self.audit.anchor_deferred(), self._begin() as conn:
                access.load_actor(conn, self.policy, actor, self.today())
                for number in numbers:
                    found[number] = _supervisor_contact(conn, number)
                self.audit.append_many(events(None, actor_role(conn, actor)))
        except CaseStoreError as err:
            if err.reason != "audit_unavailable":
                with self._connect() as conn:
                    role = actor_role(conn, actor)
                failed: Outcome = "denied" if isinstance(err, AccessDenied) else "failed"
                self.audit.append_many(events(failed, role))
            raise
        return found

    def notify_query(self, notice: QueryNotice) -> int:
        """Queue notices to the other owners of matched cases (none for OPR searches)."""
        lookups = Lookups()

        def body(conn: sa.Connection) -> int:
            role = lookups.role(conn, self.policy, notice.actor, self.today())
            return queue_query(conn, notice, role, lookups)

        def known_role(conn: sa.Connection, actor: str) -> str:
            known = lookups.roles.get(actor)
            return known if known is not None else actor_role(conn, actor)

        return self.run_audited(
            notice.actor, "notify-query", notice.case_numbers, body, role_of=known_role
        )

    def record_search(self, notice: QueryNotice, event: AuditEvent) -> int:
        """Queue a search's notices and append its audit event in one transaction.

        ``SearchRecorder``: what :meth:`notify_query` then :meth:`append` do (the same
        ``notify-query`` event, then ``event``), with one case-store transaction and one audit
        append for both. On failure nothing is queued, ``notify-query`` is audited ``denied``
        or ``failed`` as :meth:`notify_query` does, ``event`` is not appended, and the error
        is raised.
        """
        lookups = Lookups()
        notify = AuditEvent(notice.actor, "notify-query", "ok", notice.case_numbers)
        try:
            with self.audit.anchor_deferred(), self._begin() as conn:
                role = lookups.role(conn, self.policy, notice.actor, self.today())
                queued = queue_query(conn, notice, role, lookups)
                other = actor_role(conn, event.actor) if event.actor != notice.actor else role
                # The audit commits first, then the case store: docs/audit.md, "Commit order".
                self.audit.append_many([(notify, role), (event, other)])
        except CaseStoreError as err:
            if err.reason != "audit_unavailable":
                with self._connect() as conn:
                    role = actor_role(conn, notice.actor)
                outcome: Outcome = "denied" if isinstance(err, AccessDenied) else "failed"
                self.audit.append(replace(notify, outcome=outcome), role=role)
            raise
        return queued

    def notify_queries(self, notices: Sequence[QueryNotice]) -> int:
        """Batch form of :meth:`notify_query`: one transaction and one audit append for all.

        A notice whose searcher is unknown or untrained notifies nobody and is audited
        ``denied``; the others proceed. Returns how many notifications were queued.
        """
        queued = 0
        audit: list[tuple[AuditEvent, str]] = []
        lookups = Lookups()  # one transaction under the write lock: lookups cannot go stale
        with self.audit.anchor_deferred(), self._begin() as conn:
            for notice in notices:
                outcome: Outcome = "ok"
                try:
                    role = lookups.role(conn, self.policy, notice.actor, self.today())
                except AccessDenied:
                    outcome, role = "denied", actor_role(conn, notice.actor)
                else:
                    queued += queue_query(conn, notice, role, lookups)
                event = AuditEvent(notice.actor, "notify-query", outcome, notice.case_numbers)
                audit.append((event, role))
            self.audit.append_many(audit)
        return queued

    def notify_link(self, notice: LinkNotice) -> int:
        """Queue a link alert to the owners of both cases (``LinkNotifier``); audited.

        Each owner learns the other case's number and owner only if the policy lets them see
        it; otherwise a pointer naming whom to contact (see :func:`queue_link`).
        """
        lookups = Lookups()

        def body(conn: sa.Connection) -> int:
            return queue_link(conn, self.policy, notice, self.today(), lookups)

        return self.run_audited(
            notice.actor,
            "notify-link",
            (notice.case_a, notice.case_b),
            body,
            objects={"alert_id": notice.alert_id},
        )

    def append(self, event: AuditEvent) -> int:
        """Append an event of another stage (search, ingest, link run) to the audit log."""
        with self._connect() as conn:
            role = actor_role(conn, event.actor)
        return self.audit.append(event, role=role)

    # -- users ------------------------------------------------------------------------------

    def add_user(self, actor: str | None, user: NewUser) -> User:
        """Create an account; on an empty store, ``actor=None`` bootstraps the first admin."""

        def body(conn: sa.Connection) -> User:
            if actor is None:
                _check_bootstrap(conn, user)
            else:
                self._check_global(conn, actor, "manage-users")
            insert_user(conn, user, to_us(self._clock()))
            created = read_user(conn, user.user_id)
            assert created is not None
            return created

        return self.run_audited(
            actor or user.user_id, "user-add", (), body, objects={"user": user.user_id}
        )

    def update_user(
        self,
        actor: str,
        user_id: str,
        *,
        supervisor: str | None = None,
        trained_on: date | None = None,
        role: str | None = None,
    ) -> User:
        """Change an account's supervisor, training date or role (admins only)."""

        def body(conn: sa.Connection) -> User:
            self._check_global(conn, actor, "manage-users")
            return apply_user_update(conn, user_id, supervisor, trained_on, role)

        return self.run_audited(actor, "user-update", (), body, objects={"user": user_id})

    def get_user(self, actor: str, user_id: str) -> User:
        """Return an account (any trained user may read the directory)."""
        with self._connect() as conn:
            access.load_actor(conn, self.policy, actor, self.today())
            user = read_user(conn, user_id)
        if user is None:
            raise CaseStoreError(f"no user {user_id!r}", value=user_id, reason="unknown_user")
        return user

    def user_count(self) -> int:
        """Return how many accounts exist (0 means the store awaits its first admin)."""
        with self._connect() as conn:
            return int(conn.execute(sa.select(sa.func.count()).select_from(users)).scalar_one())

    # -- cases ------------------------------------------------------------------------------

    def open_case(
        self, actor: str, number: str, *, owner: str, title: str = "", restricted: bool = False
    ) -> Case:
        """Open a case owned by ``owner`` (who must be an agent or supervisor)."""

        def body(conn: sa.Connection) -> Case:
            self._check_global(conn, actor, "open-case")
            return insert_case(conn, self.policy, number, owner, title, restricted, self._clock())

        return self.run_audited(actor, "case-open", (number,), body)

    def show_case(self, actor: str, number: str) -> Case:
        """Return a case the actor may view (denied and missing read the same)."""
        return self.run_audited(actor, "case-view", (number,), self._view(actor, number))

    def close_case(self, actor: str, number: str) -> Case:
        """Close a case (owner or supervisor chain)."""
        return self._mutate(
            actor, "manage", "case-close", number, set_status(number, self._clock())
        )

    def set_restricted(self, actor: str, number: str, restricted: bool) -> Case:
        """Restrict a case to its team and supervisor chain, or lift the restriction."""
        name = "case-restrict" if restricted else "case-unrestrict"
        return self._mutate(
            actor, "restrict", name, number, set_flag(number, "restricted", restricted)
        )

    def set_hold(self, actor: str, number: str, hold: bool) -> Case:
        """Place or release a legal hold (blocks purge)."""
        name = "case-hold" if hold else "case-release"
        return self._mutate(actor, "hold", name, number, set_flag(number, "legal_hold", hold))

    def change_team(
        self, actor: str, number: str, *, add: Iterable[str] = (), remove: Iterable[str] = ()
    ) -> Case:
        """Add and remove team members."""
        op = edit_team(number, tuple(add), tuple(remove))
        return self._mutate(actor, "manage", "case-team", number, op)

    def submit_records(self, actor: str, number: str, record_ids: Iterable[str]) -> None:
        """Mark ingested records of a case as pending approval (needs ``ingest``)."""
        op = set_approvals(number, tuple(record_ids), None, to_us(self._clock()))
        self._mutate(actor, "ingest", "records-submit", number, op)

    def approve_records(self, actor: str, number: str, record_ids: Iterable[str]) -> None:
        """Approve pending records of a case; the approver is recorded (needs ``approve``)."""
        op = set_approvals(number, tuple(record_ids), actor, to_us(self._clock()))
        self._mutate(actor, "approve", "records-approve", number, op)

    def approvals(self, actor: str, number: str) -> dict[str, tuple[str, str | None]]:
        """Return ``{record_id: (state, approver)}`` of a case the actor may view."""
        with self._connect() as conn:
            access.check_case(conn, self.policy, actor, "view", number, self.today())
            return read_approvals(conn, number)

    # -- notifications ----------------------------------------------------------------------

    def notifications(self, actor: str, *, unread_only: bool = True) -> list[Notification]:
        """Return the actor's own notification queue."""
        with self._connect() as conn:
            access.load_actor(conn, self.policy, actor, self.today())
            return list_notifications(conn, actor, unread_only=unread_only)

    def mark_read(self, actor: str, ids: Iterable[int] | None = None) -> int:
        """Mark the actor's notifications read (all if ``ids`` is None)."""
        with self._begin() as conn:
            access.load_actor(conn, self.policy, actor, self.today())
            return mark_read(conn, actor, ids)

    # -- audit (OPR only) -------------------------------------------------------------------

    def read_audit(
        self,
        actor: str,
        *,
        user: str | None = None,
        case_number: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int = 1000,
    ) -> list[AuditRecord]:
        """Return audit events filtered by user, case and time; the read is audited too."""
        criteria = {
            k: str(v)
            for k, v in {"user": user, "case": case_number, "since": since, "until": until}.items()
            if v is not None
        }

        def body(conn: sa.Connection) -> None:
            self._check_global(conn, actor, "read-audit")

        self.run_audited(actor, "audit-read", (), body, criteria=criteria)
        return self.audit.show(
            actor=user, case_number=case_number, since=since, until=until, limit=limit
        )

    def verify_audit(self, actor: str, *, workers: int = 1) -> VerifyReport:
        """Verify the audit chain (OPR only); the check of the right to do so is audited."""

        def body(conn: sa.Connection) -> None:
            self._check_global(conn, actor, "read-audit")

        self.run_audited(actor, "audit-verify", (), body)
        return self.audit.verify(workers=workers)

    # -- building blocks --------------------------------------------------------------------------

    def _view(self, actor: str, number: str) -> Body[Case]:
        def body(conn: sa.Connection) -> Case:
            access.check_case(conn, self.policy, actor, "view", number, self.today())
            case = read_case(conn, number)
            assert case is not None
            return case

        return body

    def _mutate(
        self,
        actor: str,
        action: Action,
        name: str,
        number: str,
        op: Callable[[sa.Connection], None],
    ) -> Case:
        def body(conn: sa.Connection) -> Case:
            access.check_case(conn, self.policy, actor, action, number, self.today())
            op(conn)
            record_event(conn, name, actor, {"case": number})
            case = read_case(conn, number)
            assert case is not None
            return case

        return self.run_audited(actor, name, (number,), body)


def _supervisor_contact(conn: sa.Connection, case_number: str) -> Contact | None:
    """The nearest supervisor of the case's owner; None: no such case, or no one on file."""
    owner = conn.execute(
        sa.select(cases.c.owner_id).where(cases.c.number == case_number)
    ).scalar_one_or_none()
    chain = [] if owner is None else access.supervisor_chain(conn, owner)
    user = read_user(conn, chain[0]) if chain else None
    if user is None:
        return None
    return Contact(user.user_id, user.name, user.phone, user.email, user.office)


def _outcome(failed: Outcome | None, found: dict[str, Contact | None], number: str) -> Outcome:
    if failed is not None:
        return failed
    return "ok" if found.get(number) is not None else "denied"


def _check_bootstrap(conn: sa.Connection, user: NewUser) -> None:
    count = conn.execute(sa.select(sa.func.count()).select_from(users)).scalar_one()
    if count or user.role != "admin":
        raise AccessDenied(
            "account changes need --as an administrator",
            reason="access_denied",
            hint="only the first account, an admin, may be created without --as",
        )
