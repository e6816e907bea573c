"""Values read from the case store, and the SQL that reads and writes users and cases.

Functions here take an open connection and perform no access check: :mod:`icm_bridge._store`
checks first, in the same transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

import sqlalchemy as sa

from icm_bridge._db import from_us
from icm_bridge._policy import Role
from icm_bridge._schema import case_team, cases, users
from tls_core.errors import CaseStoreError

__all__ = ["Case", "NewUser", "User", "insert_user", "read_case", "read_user"]


@dataclass(frozen=True)
class NewUser:
    """An account to create (``tls user add``)."""

    user_id: str
    """Stable id, e.g. an agency user name."""
    name: str
    """Full name."""
    role: Role
    """Role in the access policy."""
    trained_on: date
    """Date of the last annual privacy training."""
    phone: str | None = None
    """Phone number shown to owners notified of a query."""
    email: str | None = None
    """E-mail address for notification mail."""
    office: str | None = None
    """Office or field location."""
    supervisor: str | None = None
    """User id of the direct supervisor."""


@dataclass(frozen=True)
class User:
    """An account as stored."""

    user_id: str
    name: str
    role: Role
    trained_on: date
    phone: str | None
    email: str | None
    office: str | None
    supervisor: str | None


@dataclass(frozen=True)
class Case:
    """A case as stored."""

    number: str
    title: str
    status: str
    opened: datetime
    closed: datetime | None
    owner: str
    team: tuple[str, ...]
    restricted: bool
    legal_hold: bool


def insert_user(conn: sa.Connection, user: NewUser, created_us: int) -> None:
    """Insert an account.

    Raises:
        CaseStoreError: The id is taken or the supervisor does not exist.
    """
    if read_user(conn, user.user_id) is not None:
        raise CaseStoreError(
            f"user {user.user_id!r} already exists", value=user.user_id, reason="user_exists"
        )
    if user.supervisor is not None and read_user(conn, user.supervisor) is None:
        raise CaseStoreError(
            f"supervisor {user.supervisor!r} does not exist",
            value=user.supervisor,
            reason="unknown_user",
            hint="add the supervisor's account first",
        )
    conn.execute(
        users.insert().values(
            id=user.user_id,
            name=user.name,
            phone=user.phone,
            email=user.email,
            office=user.office,
            role=user.role,
            supervisor_id=user.supervisor,
            trained_on=user.trained_on.isoformat(),
            created_us=created_us,
        )
    )


def read_user(conn: sa.Connection, user_id: str) -> User | None:
    """Return the account or None."""
    row = conn.execute(_USER, {"uid": user_id}).one_or_none()
    if row is None:
        return None
    return User(
        user_id=row.id,
        name=row.name,
        role=row.role,
        trained_on=date.fromisoformat(row.trained_on),
        phone=row.phone,
        email=row.email,
        office=row.office,
        supervisor=row.supervisor_id,
    )


_USER = sa.select(users).where(users.c.id == sa.bindparam("uid"))


def read_case(conn: sa.Connection, number: str) -> Case | None:
    """Return the case with its team, or None."""
    row = conn.execute(sa.select(cases).where(cases.c.number == number)).one_or_none()
    if row is None:
        return None
    team = conn.execute(
        sa.select(case_team.c.user_id)
        .where(case_team.c.case_number == number)
        .order_by(case_team.c.user_id)
    ).scalars()
    return Case(
        number=row.number,
        title=row.title,
        status=row.status,
        opened=from_us(row.opened_us),
        closed=None if row.closed_us is None else from_us(row.closed_us),
        owner=row.owner_id,
        team=tuple(team),
        restricted=bool(row.restricted),
        legal_hold=bool(row.legal_hold),
    )
