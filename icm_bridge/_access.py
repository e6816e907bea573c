"""Access decisions: an actor's relations to a case, the training guard, no existence oracle.

Every function here takes an open connection so that the decision and the action it guards run
in one transaction (a restriction committed between the two cannot slip through).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import sqlalchemy as sa

from icm_bridge import _driver as driver
from icm_bridge._policy import GlobalAction, Policy, Relation, Role, State
from icm_bridge._schema import case_team, cases
from tls_core.errors import AccessDenied, TrainingLapsed
from tls_core.protocols import Action

__all__ = [
    "Actor",
    "check_case",
    "check_global",
    "denied",
    "load_actor",
    "relations_to",
    "require_training",
    "visible_subset",
]

MAX_CHAIN = 64
"""Longest supervisor chain followed (a cycle in bad data cannot loop forever)."""


@dataclass(frozen=True)
class Actor:
    """The acting user as the policy needs it."""

    user_id: str
    """User id."""
    role: Role
    """The user's role."""


def denied(actor: str, action: str, case_number: str | None) -> AccessDenied:
    """Build the one denial every refusal uses: it reads the same whether the case exists."""
    if case_number is None:
        return AccessDenied(
            f"action {action!r} is not permitted for user {actor!r}",
            reason="access_denied",
            hint="ask an administrator about your account and role",
        )
    return AccessDenied(
        f"action {action!r} on case {case_number!r} is not permitted for user {actor!r}",
        reason="access_denied",
        hint="ask the case owner or your supervisor for access",
    )


def load_actor(conn: sa.Connection, policy: Policy, actor: str, today: date) -> Actor:
    """Return the actor if they exist and their training is current.

    Raises:
        AccessDenied: No such user (reads like any denial).
        TrainingLapsed: The annual privacy training is older than the policy allows.
    """
    rows = _fetch(conn, _ACTOR, (actor,))
    if not rows:
        raise denied(actor, "act", None)
    role, trained_on = rows[0]
    require_training(policy, actor, date.fromisoformat(trained_on), today)
    return Actor(actor, role)


def require_training(policy: Policy, actor: str, trained_on: date, today: date) -> None:
    """Raise :class:`TrainingLapsed` if the annual privacy training is older than allowed."""
    if today > trained_on + timedelta(days=policy.training_valid_days):
        raise TrainingLapsed(
            f"user {actor!r} last completed privacy training on {trained_on.isoformat()}",
            reason="training_lapsed",
            hint="complete the annual privacy training; an admin then records the date",
        )


_ACTOR = "SELECT role, trained_on FROM {t}users WHERE id = ?"


def check_global(
    conn: sa.Connection, policy: Policy, actor: str, action: GlobalAction, today: date
) -> Actor:
    """Check a case-less action (manage users, read the audit, open a case)."""
    who = load_actor(conn, policy, actor, today)
    if not policy.allows_global(who.role, action):
        raise denied(actor, action, None)
    return who


def check_case(
    conn: sa.Connection, policy: Policy, actor: str, action: Action, case_number: str, today: date
) -> Actor:
    """Check ``action`` by ``actor`` on a case; a missing case is denied like a forbidden one."""
    who = load_actor(conn, policy, actor, today)
    row = conn.execute(
        sa.select(cases.c.status, cases.c.restricted, cases.c.owner_id).where(
            cases.c.number == case_number
        )
    ).one_or_none()
    if row is None:
        raise denied(actor, action, case_number)
    state: State = "restricted" if row.restricted else row.status
    rels = relations_to(conn, actor, case_number, row.owner_id)
    if not policy.allows(who.role, rels, state, action):
        raise denied(actor, action, case_number)
    return who


def visible_subset(
    conn: sa.Connection,
    policy: Policy,
    actor: str,
    action: Action,
    case_numbers: Iterable[str],
    today: date,
) -> frozenset[str]:
    """Return the cases on which :func:`check_case` would let ``actor`` perform ``action``.

    The same decision in a few queries whatever the number of cases (a busy identifier can be
    held by hundreds): case rows and team memberships in chunks, one supervisor chain per
    distinct owner. Driver-level statements (:mod:`icm_bridge._driver`): a search runs this
    once, and SQLAlchemy's per-statement cost was most of it.

    Raises:
        AccessDenied: No such user. TrainingLapsed: training lapsed.
    """
    who = load_actor(conn, policy, actor, today)
    wanted = sorted(set(case_numbers))
    found: list[Any] = []
    teams: set[str] = set()
    for i in range(0, len(wanted), _CHUNK):
        chunk = wanted[i : i + _CHUNK]
        marks = driver.placeholders(chunk)
        found += _fetch(conn, _CASE_ROWS % marks, chunk)
        teams.update(str(r[0]) for r in _fetch(conn, _TEAMS % marks, [*chunk, actor]))
    chains: dict[str, list[str]] = {}
    visible = set()
    for number, status, restricted, owner in found:
        rels: set[Relation] = {"owner"} if actor == owner else set()
        if number in teams:
            rels.add("team")
        chain = chains.get(owner)
        if chain is None:
            chain = chains[owner] = supervisor_chain(conn, owner)
        if actor in chain:
            rels.add("supervisor")
        state: State = "restricted" if restricted else status
        if policy.allows(who.role, frozenset(rels or {"other"}), state, action):
            visible.add(str(number))
    return frozenset(visible)


_CHUNK = 500
_CASE_ROWS = "SELECT number, status, restricted, owner_id FROM {t}cases WHERE number IN (%s)"
_TEAMS = "SELECT case_number FROM {t}case_team WHERE case_number IN (%s) AND user_id = ?"


def _fetch(conn: sa.Connection, text: str, params: Sequence[object]) -> list[Any]:
    cur = driver.execute(conn, text, params)
    try:
        return list(cur.fetchall())
    finally:
        cur.close()


def relations_to(
    conn: sa.Connection, actor: str, case_number: str, owner_id: str
) -> frozenset[Relation]:
    """Return every relation ``actor`` holds to the case (``other`` only if none)."""
    rels: set[Relation] = set()
    if actor == owner_id:
        rels.add("owner")
    in_team = conn.execute(
        sa.select(case_team.c.user_id).where(
            case_team.c.case_number == case_number, case_team.c.user_id == actor
        )
    ).first()
    if in_team is not None:
        rels.add("team")
    if actor in supervisor_chain(conn, owner_id):
        rels.add("supervisor")
    return frozenset(rels) if rels else frozenset({"other"})


def supervisor_chain(conn: sa.Connection, user_id: str) -> list[str]:
    """Return the user's supervisors, nearest first (stops at a cycle or :data:`MAX_CHAIN`)."""
    chain: list[str] = []
    current: str | None = user_id
    while current is not None and len(chain) < MAX_CHAIN:
        rows = _fetch(conn, _SUPERVISOR, (current,))
        current = rows[0][0] if rows else None
        if current is None or current in chain or current == user_id:
            break
        chain.append(current)
    return chain


_SUPERVISOR = "SELECT supervisor_id FROM {t}users WHERE id = ?"
