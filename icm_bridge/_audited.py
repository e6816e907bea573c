"""The transaction and audit building block under :class:`~icm_bridge.CaseStore`.

:class:`AuditedStore` holds the engines, the policy and the clock, opens case-store
transactions (reads: :meth:`AuditedStore._connect`; writes under the writer lock:
:meth:`AuditedStore._begin`) and runs a change with its audit event in one transaction
(:meth:`AuditedStore.run_audited`): the audit event is appended before the case store commits,
so a change whose audit cannot be written is rolled back (fail closed), and a refusal is
audited ``denied`` (or ``failed``) and raised.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from typing import TypeVar

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from icm_bridge import _access as access
from icm_bridge._audit import AuditLog
from icm_bridge._db import Writer
from icm_bridge._policy import GlobalAction, Policy, load_policy
from icm_bridge._schema import users
from tls_core.errors import AccessDenied, CaseStoreError
from tls_core.protocols import AuditEvent, Outcome

__all__ = ["AuditedStore", "Body", "actor_role", "store_errors"]

_T = TypeVar("_T")
Body = Callable[[sa.Connection], _T]


class AuditedStore:
    """Engines, policy and clock, with audited transactions (base of ``CaseStore``).

    Args:
        engine: Engine of the case store.
        audit: The audit log (its own store).
        policy: The permission table; the shipped one by default.
        clock: Source of aware UTC datetimes (training dates and timestamps derive from it).
    """

    def __init__(
        self,
        engine: Engine,
        *,
        audit: AuditLog,
        policy: Policy | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.engine = engine
        self.audit = audit
        self.policy = policy if policy is not None else load_policy()
        self._clock = clock
        self._writer = Writer(engine)

    def now(self) -> datetime:
        """Return the current time (aware, UTC) by the store's clock."""
        return self._clock().astimezone(UTC)

    def today(self) -> date:
        """Return today's date (UTC) by the store's clock."""
        return self.now().date()

    @contextmanager
    def _connect(self) -> Iterator[sa.Connection]:
        # Begun explicitly: reads made straight through the driver (the access checks) run in
        # the transaction SQLAlchemy begins, so one decision sees one state of the store.
        with store_errors(), self.engine.connect() as conn, conn.begin():
            yield conn

    @contextmanager
    def _begin(self) -> Iterator[sa.Connection]:
        with store_errors(), self._writer.transaction() as conn:
            yield conn

    def _check_global(self, conn: sa.Connection, actor: str, action: GlobalAction) -> None:
        access.check_global(conn, self.policy, actor, action, self.today())

    def run_audited(
        self,
        actor: str,
        name: str,
        case_numbers: tuple[str, ...],
        body: Body[_T],
        *,
        objects: dict[str, str] | None = None,
        criteria: dict[str, str] | None = None,
        after: Callable[[sa.Connection, int], None] | None = None,
        role_of: Callable[[sa.Connection, str], str] | None = None,
    ) -> _T:
        """Run ``body`` and its audit event in one transaction; audit refusals too.

        The building block of every audited change (also for :mod:`icm_bridge._disclosure`):
        ``body`` runs in a case-store transaction under the writer lock and does its own access
        check; the audit event named ``name`` is appended before the commit (fail closed).
        ``body`` may add ids it creates to ``objects`` before the event is written; ``after``
        receives the event's sequence number inside the same transaction. ``role_of`` returns
        the actor's role for the event (default: read from the users table).
        """
        ids = objects if objects is not None else {}

        def event(outcome: Outcome) -> AuditEvent:
            return AuditEvent(actor, name, outcome, case_numbers, dict(ids), criteria or {})

        try:
            with self.audit.anchor_deferred(), self._begin() as conn:
                result = body(conn)
                role = (role_of or actor_role)(conn, actor)
                # The audit commits first, then the case store: docs/audit.md, "Commit order".
                seq = self.audit.append(event("ok"), role=role)
                if after is not None:
                    after(conn, seq)
        except CaseStoreError as err:
            if err.reason != "audit_unavailable":
                with self._connect() as conn:
                    role = actor_role(conn, actor)
                outcome: Outcome = "denied" if isinstance(err, AccessDenied) else "failed"
                self.audit.append(event(outcome), role=role)
            raise
        return result


@contextmanager
def store_errors() -> Iterator[None]:
    """Turn database failures of the case store into :class:`CaseStoreError` (a TlsError)."""
    try:
        yield
    except sa.exc.SQLAlchemyError as err:
        first = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise CaseStoreError(
            f"the case store failed: {type(err).__name__}: {first}",
            reason="case_store_failed",
            hint="nothing was changed; check the case store URL and retry",
        ) from err


_ROLE = sa.select(users.c.role).where(users.c.id == sa.bindparam("uid"))


def actor_role(conn: sa.Connection, actor: str) -> str:
    role = conn.execute(_ROLE, {"uid": actor}).scalar_one_or_none()
    return "unknown" if role is None else str(role)
