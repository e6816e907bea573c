"""Query notices: who searched identifiers in whose cases, told to the owners.

Each owner hears only of their own cases, so a notice leaks nothing across cases; a search by
an OPR user notifies nobody.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date
from typing import Any

import sqlalchemy as sa

from icm_bridge import _access as access
from icm_bridge import _driver as driver
from icm_bridge._outbox import queue_notifications, record_event
from icm_bridge._policy import Policy
from icm_bridge._records import User
from tls_core.protocols import QueryNotice

__all__ = ["Lookups", "case_owners", "query_messages", "queue_query"]


class Lookups:
    """Per-transaction memo of actor checks, users and case owners (batched notices)."""

    def __init__(self) -> None:
        self.roles: dict[str, str] = {}
        self.users: dict[str, User | None] = {}
        self.owners: dict[str, str] = {}
        self.looked_up: set[str] = set()

    def role(self, conn: sa.Connection, policy: Policy, actor: str, today: date) -> str:
        """Return the actor's role; raise as :func:`access.load_actor` does (one query)."""
        if actor not in self.roles:
            who = self.user(conn, actor)
            if who is None:
                raise access.denied(actor, "act", None)
            access.require_training(policy, actor, who.trained_on, today)
            self.roles[actor] = who.role
        return self.roles[actor]

    def user(self, conn: sa.Connection, user_id: str) -> User | None:
        """Return the account or None (one driver-level query, then memoized)."""
        if user_id not in self.users:
            cur = driver.execute(conn, _USER, (user_id,))
            row = cur.fetchone()
            cur.close()
            self.users[user_id] = None if row is None else _user(row)
        return self.users[user_id]

    def owners_of(self, conn: sa.Connection, numbers: Iterable[str]) -> dict[str, str]:
        missing = [n for n in numbers if n not in self.looked_up]
        if missing:
            self.owners.update(case_owners(conn, missing))
            self.looked_up.update(missing)
        return self.owners


def queue_query(conn: sa.Connection, notice: QueryNotice, role: str, lookups: Lookups) -> int:
    if role == "opr":
        return 0  # OPR searches notify nobody; they are audited all the same
    owners = lookups.owners_of(conn, notice.case_numbers)
    messages = query_messages(notice, lookups.user(conn, notice.actor), owners)
    if not messages:
        return 0
    event_id = record_event(conn, "query", notice.actor, {"criteria": notice.criteria})
    return queue_notifications(conn, event_id, messages)


def case_owners(conn: sa.Connection, numbers: Iterable[str]) -> dict[str, str]:
    """Return ``{case number: owner id}`` for the cases that exist among ``numbers``."""
    wanted = sorted(set(numbers))
    if not wanted:
        return {}
    query = "SELECT number, owner_id FROM {t}cases WHERE number IN (%s)"
    cur = driver.execute(conn, query % driver.placeholders(wanted), wanted)
    owners = {str(number): str(owner) for number, owner in cur.fetchall()}
    cur.close()
    return owners


_USER = (
    "SELECT id, name, role, trained_on, phone, email, office, supervisor_id "
    "FROM {t}users WHERE id = ?"
)


def _user(row: tuple[Any, ...]) -> User:
    uid, name, role, trained_on, phone, email, office, supervisor = row
    return User(
        user_id=uid,
        name=name,
        role=role,
        trained_on=date.fromisoformat(trained_on),
        phone=phone,
        email=email,
        office=office,
        supervisor=supervisor,
    )


def query_messages(
    notice: QueryNotice, searcher: User | None, owners: Mapping[str, str]
) -> dict[str, tuple[str, str]]:
    """Return ``{owner: (subject, body)}`` telling each other owner who searched their cases.

    Each owner hears only of their own cases, so the notice leaks nothing across cases.
    """
    by_owner: dict[str, list[str]] = {}
    for number in sorted(set(notice.case_numbers)):
        owner = owners.get(number)
        if owner is not None and owner != notice.actor:
            by_owner.setdefault(owner, []).append(number)
    name = searcher.name if searcher else notice.actor
    phone = (searcher.phone if searcher else None) or "no phone on file"
    criteria = ", ".join(f"{k}={v}" for k, v in sorted(notice.criteria.items()))
    return {
        owner: (
            f"TLS: {name} searched identifiers in your case(s) {', '.join(numbers)}",
            f"{name} ({notice.actor}, {phone}) searched: {criteria}\n"
            f"Matching case(s) you own: {', '.join(numbers)}\n",
        )
        for owner, numbers in by_owner.items()
    }
