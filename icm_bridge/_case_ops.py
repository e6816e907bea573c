"""Changes to cases, accounts and record approvals.

Each function runs in the caller's transaction after the access check passed.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from typing import Literal

import sqlalchemy as sa

from icm_bridge._db import to_us
from icm_bridge._policy import ROLES, Policy
from icm_bridge._records import Case, User, read_case, read_user
from icm_bridge._schema import approvals, case_team, cases, users
from tls_core.errors import CaseStoreError, ConfigError

__all__ = [
    "apply_user_update",
    "edit_team",
    "insert_case",
    "read_approvals",
    "set_approvals",
    "set_flag",
    "set_status",
]

OWNER_ROLES = frozenset({"agent", "supervisor"})
"""Roles that may own a case (the same that may open one in the shipped policy)."""


def insert_case(
    conn: sa.Connection,
    policy: Policy,
    number: str,
    owner: str,
    title: str,
    restricted: bool,
    now: datetime,
) -> Case:
    """Insert an open case.

    Raises:
        CaseStoreError: The number is taken, or the owner is unknown or cannot own cases.
    """
    owner_user = read_user(conn, owner)
    if owner_user is None or owner_user.role not in OWNER_ROLES:
        raise CaseStoreError(
            f"user {owner!r} cannot own a case",
            value=owner,
            reason="bad_owner",
            hint="the owner must be an existing agent or supervisor",
        )
    taken = conn.execute(sa.select(cases.c.number).where(cases.c.number == number)).first()
    if taken is not None:
        raise CaseStoreError(
            f"case number {number!r} is not available", value=number, reason="case_exists"
        )
    conn.execute(
        cases.insert().values(
            number=number,
            title=title,
            status="open",
            opened_us=to_us(now),
            closed_us=None,
            owner_id=owner,
            restricted=restricted,
            legal_hold=False,
        )
    )
    case = read_case(conn, number)
    assert case is not None
    return case


def set_status(number: str, now: datetime) -> Callable[[sa.Connection], None]:
    """Return the change that closes a case at ``now``."""

    def op(conn: sa.Connection) -> None:
        conn.execute(
            cases.update()
            .where(cases.c.number == number)
            .values(status="closed", closed_us=to_us(now))
        )

    return op


def set_flag(
    number: str, flag: Literal["restricted", "legal_hold"], value: bool
) -> Callable[[sa.Connection], None]:
    """Return the change that sets the restricted flag or the legal hold."""

    def op(conn: sa.Connection) -> None:
        conn.execute(cases.update().where(cases.c.number == number).values({flag: value}))

    return op


def edit_team(
    number: str, add: tuple[str, ...], remove: tuple[str, ...]
) -> Callable[[sa.Connection], None]:
    """Return the change that adds and removes team members."""

    def op(conn: sa.Connection) -> None:
        for user_id in add:
            if read_user(conn, user_id) is None:
                raise CaseStoreError(f"no user {user_id!r}", value=user_id, reason="unknown_user")
            present = conn.execute(
                sa.select(case_team.c.user_id).where(
                    case_team.c.case_number == number, case_team.c.user_id == user_id
                )
            ).first()
            if present is None:
                conn.execute(case_team.insert().values(case_number=number, user_id=user_id))
        if remove:
            conn.execute(
                case_team.delete().where(
                    case_team.c.case_number == number, case_team.c.user_id.in_(remove)
                )
            )

    return op


def set_approvals(
    number: str, record_ids: tuple[str, ...], approver: str | None, at_us: int
) -> Callable[[sa.Connection], None]:
    """Return the change that marks records pending (``approver`` None) or approved."""

    def op(conn: sa.Connection) -> None:
        state = "pending" if approver is None else "approved"
        for record_id in record_ids:
            key = (approvals.c.case_number == number) & (approvals.c.record_id == record_id)
            current = conn.execute(sa.select(approvals.c.state).where(key)).scalar_one_or_none()
            if approver is None and current is not None:
                continue  # submitting again never revokes an approval
            if approver is not None and current is None:
                raise CaseStoreError(
                    f"record {record_id!r} was never submitted for approval",
                    value=record_id,
                    reason="unknown_record",
                )
            values = {"state": state, "approver_id": approver, "decided_us": at_us}
            if current is None:
                conn.execute(
                    approvals.insert().values(case_number=number, record_id=record_id, **values)
                )
            else:
                conn.execute(approvals.update().where(key).values(**values))

    return op


def read_approvals(conn: sa.Connection, number: str) -> dict[str, tuple[str, str | None]]:
    """Return ``{record_id: (state, approver)}`` for a case."""
    rows = conn.execute(
        sa.select(approvals.c.record_id, approvals.c.state, approvals.c.approver_id).where(
            approvals.c.case_number == number
        )
    )
    return {row.record_id: (row.state, row.approver_id) for row in rows}


def apply_user_update(
    conn: sa.Connection,
    user_id: str,
    supervisor: str | None,
    trained_on: date | None,
    role: str | None,
) -> User:
    """Apply an account change; ``supervisor=""`` clears the supervisor."""
    if read_user(conn, user_id) is None:
        raise CaseStoreError(f"no user {user_id!r}", value=user_id, reason="unknown_user")
    values: dict[str, object] = {}
    if supervisor is not None:
        if supervisor and read_user(conn, supervisor) is None:
            raise CaseStoreError(f"no user {supervisor!r}", value=supervisor, reason="unknown_user")
        values["supervisor_id"] = supervisor or None
    if trained_on is not None:
        values["trained_on"] = trained_on.isoformat()
    if role is not None:
        if role not in ROLES:
            raise ConfigError(f"unknown role {role!r}", value=role, reason="bad_role")
        values["role"] = role
    if values:
        conn.execute(users.update().where(users.c.id == user_id).values(values))
    user = read_user(conn, user_id)
    assert user is not None
    return user
