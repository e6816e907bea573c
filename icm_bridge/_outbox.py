"""The notification outbox: rows written in the event's own transaction, mailed idempotently.

A notification exists exactly once per (event, recipient): the unique constraint makes a retried
write a no-op, and since the row commits with the event, a crash leaves both or neither. Each
user's queue is those rows (``tls notifications``). E-mail is optional: :func:`deliver_mail` sends
what has not been mailed, then marks it; a crash between sending and marking re-sends the same
``Message-ID`` (derived from the notification id), which receiving systems deduplicate.
"""

from __future__ import annotations

import json
import smtplib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from icm_bridge import _driver as driver
from icm_bridge._db import from_us, now_us
from icm_bridge._schema import notifications, users
from tls_core.errors import CaseStoreError

__all__ = [
    "Notification",
    "SmtpSettings",
    "deliver_mail",
    "list_notifications",
    "mark_read",
    "message_id",
    "queue_notifications",
    "record_event",
]


@dataclass(frozen=True)
class Notification:
    """One entry of a user's queue."""

    notification_id: int
    event_id: int
    subject: str
    body: str
    created: datetime
    read: bool


@dataclass(frozen=True)
class SmtpSettings:
    """Where notification mail goes."""

    host: str
    """SMTP server host name."""
    port: int = 25
    """SMTP server port."""
    sender: str = "tls@localhost"
    """``From`` address."""
    domain: str = "tls.invalid"
    """Right-hand side of the stable ``Message-ID``."""
    timeout: float = 10.0
    """Seconds before a connection attempt fails."""


def record_event(conn: sa.Connection, kind: str, actor: str, detail: Mapping[str, object]) -> int:
    """Insert an event row in the caller's transaction and return its id."""
    cur = driver.execute(
        conn, _INSERT_EVENT, (kind, actor, now_us(), json.dumps(detail, sort_keys=True))
    )
    key = cur.fetchone()
    cur.close()
    if key is None:
        raise CaseStoreError("the event row was not inserted", reason="event_not_inserted")
    return int(key[0])


def queue_notifications(
    conn: sa.Connection, event_id: int, messages: Mapping[str, tuple[str, str]]
) -> int:
    """Queue ``{recipient: (subject, body)}`` for an event in the caller's transaction."""
    at = now_us()
    rows = [
        (event_id, recipient, subject, body, at)
        for recipient, (subject, body) in sorted(messages.items())
    ]
    if rows:
        driver.executemany(conn, _INSERT_NOTIFICATION, rows)
    return len(rows)


# Driver-level (icm_bridge._driver): these run once per audited event.
_INSERT_EVENT = (
    "INSERT INTO {t}events (kind, actor_id, at_us, detail) VALUES (?, ?, ?, ?) RETURNING id"
)
_INSERT_NOTIFICATION = (
    "INSERT INTO {t}notifications (event_id, recipient_id, subject, body, created_us) "
    "VALUES (?, ?, ?, ?, ?)"
)


def list_notifications(
    conn: sa.Connection, user_id: str, *, unread_only: bool = True
) -> list[Notification]:
    """Return the user's queue, oldest first."""
    query = (
        sa.select(notifications)
        .where(notifications.c.recipient_id == user_id)
        .order_by(notifications.c.id)
    )
    if unread_only:
        query = query.where(notifications.c.read_us.is_(None))
    return [
        Notification(
            notification_id=row.id,
            event_id=row.event_id,
            subject=row.subject,
            body=row.body,
            created=from_us(row.created_us),
            read=row.read_us is not None,
        )
        for row in conn.execute(query)
    ]


def mark_read(conn: sa.Connection, user_id: str, ids: Iterable[int] | None) -> int:
    """Mark the user's notifications read (all unread if ``ids`` is None); return how many."""
    stmt = (
        notifications.update()
        .where(notifications.c.recipient_id == user_id, notifications.c.read_us.is_(None))
        .values(read_us=now_us())
    )
    if ids is not None:
        stmt = stmt.where(notifications.c.id.in_(list(ids)))
    return int(conn.execute(stmt).rowcount)


def message_id(notification_id: int, settings: SmtpSettings) -> str:
    """Return the stable ``Message-ID`` of a notification's mail."""
    return f"<tls-notification-{notification_id}@{settings.domain}>"


def deliver_mail(engine: Engine, settings: SmtpSettings, *, limit: int = 500) -> int:
    """Mail every queued notification not yet mailed to a user with an address; return how many.

    Raises:
        CaseStoreError: The SMTP server refused or could not be reached (nothing is marked).
    """
    with engine.connect() as conn:
        pending = conn.execute(
            sa.select(
                notifications.c.id, notifications.c.subject, notifications.c.body, users.c.email
            )
            .join(users, users.c.id == notifications.c.recipient_id)
            .where(notifications.c.mailed_us.is_(None), users.c.email.is_not(None))
            .order_by(notifications.c.id)
            .limit(limit)
        ).all()
    sent = 0
    try:
        with smtplib.SMTP(settings.host, settings.port, timeout=settings.timeout) as smtp:
            for row in pending:
                smtp.send_message(_mail(row.id, row.subject, row.body, row.email, settings))
                _mark_mailed(engine, row.id)
                sent += 1
    except (OSError, smtplib.SMTPException) as err:
        raise CaseStoreError(
            f"mail delivery failed after {sent} message(s): {err}",
            reason="smtp_failed",
            hint="the rest stay queued; run the delivery again",
        ) from err
    return sent


def _mail(notification_id: int, subject: str, body: str, to: str, s: SmtpSettings) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = s.sender
    msg["To"] = to
    msg["Subject"] = subject
    msg["Message-ID"] = message_id(notification_id, s)
    msg.set_content(body)
    return msg


def _mark_mailed(engine: Engine, notification_id: int) -> None:
    with engine.begin() as conn:
        conn.execute(
            notifications.update()
            .where(notifications.c.id == notification_id)
            .values(mailed_us=now_us())
        )
