"""Query and link notices: who searched identifiers in whose cases; which cases are related.

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
from tls_core.errors import AccessDenied
from tls_core.protocols import LinkNotice, QueryNotice

__all__ = ["Lookups", "case_owners", "query_messages", "queue_link", "queue_query"]


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


def queue_link(
    conn: sa.Connection, policy: Policy, notice: LinkNotice, today: date, lookups: Lookups
) -> int:
    """Queue a link alert to the owners of both cases; return how many notifications.

    Each owner is told of the other case with its owner's name, phone and office when the
    policy lets them see that case (``search-hit``); otherwise only that a restricted case
    shares identifiers with theirs, and whom to contact (the other owner's supervisor).
    A case the store does not know notifies nobody.
    """
    owners = lookups.owners_of(conn, (notice.case_a, notice.case_b))
    messages: dict[str, tuple[str, str]] = {}
    for mine, other in ((notice.case_a, notice.case_b), (notice.case_b, notice.case_a)):
        recipient, other_owner = owners.get(mine), owners.get(other)
        if recipient is None or other_owner is None:
            continue
        visible = _may_see(conn, policy, recipient, other, today)
        text = _link_text(conn, notice, mine, other, other_owner, visible, lookups)
        if recipient in messages:  # one owner of both cases: one message
            subject, body = messages[recipient]
            text = (subject, body + "\n" + text[1])
        messages[recipient] = text
    if not messages:
        return 0
    detail = {"alert_id": notice.alert_id, "status": notice.status}
    event_id = record_event(conn, "link", notice.actor, detail)
    return queue_notifications(conn, event_id, messages)


def _may_see(conn: sa.Connection, policy: Policy, user_id: str, case: str, today: date) -> bool:
    try:
        access.check_case(conn, policy, user_id, "search-hit", case, today)
    except AccessDenied:
        return False
    return True


def _link_text(
    conn: sa.Connection,
    notice: LinkNotice,
    mine: str,
    other: str,
    other_owner: str,
    visible: bool,
    lookups: Lookups,
) -> tuple[str, str]:
    word = "Updated link" if notice.status == "update" else "Link"
    items = "".join(f"  {ident} ({kind}): {ltype}\n" for kind, ident, ltype in notice.identifiers)
    shared = (
        f"Link types: {', '.join(notice.link_types)}; strength {notice.strength:.2f}\n"
        f"Shared identifiers:\n{items}"
    )
    if visible:
        owner = lookups.user(conn, other_owner)
        who = _describe(owner, other_owner)
        return (
            f"TLS: {word.lower()} between your case {mine} and case {other}",
            f"{word}: your case {mine} and case {other} (owner {who}) are likely related.\n"
            + shared,
        )
    chain = access.supervisor_chain(conn, other_owner)
    contact = lookups.user(conn, chain[0]) if chain else None
    ask = _describe(contact, chain[0]) if chain else "a TLS administrator"
    return (
        f"TLS: a restricted case shares identifiers with your case {mine}",
        f"{word}: a restricted case shares these identifiers with your case {mine}; "
        f"contact {ask}.\n" + shared,
    )


def _describe(user: User | None, user_id: str) -> str:
    if user is None:
        return user_id
    phone = user.phone or "no phone on file"
    office = user.office or "no office on file"
    return f"{user.name} ({user.user_id}, {phone}, {office})"
