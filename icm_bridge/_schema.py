"""Table definitions of the case store and of the (separate) audit store.

Times are ``BigInteger`` microseconds since the epoch, UTC (see :mod:`icm_bridge._db`);
calendar dates (training) are ISO ``YYYY-MM-DD`` text.
"""

from __future__ import annotations

import sqlalchemy as sa

__all__ = [
    "AUDIT_METADATA",
    "CASE_METADATA",
    "approvals",
    "audit_checkpoints",
    "audit_events",
    "audit_head",
    "audit_tombstones",
    "case_team",
    "cases",
    "disclosures",
    "events",
    "notifications",
    "users",
]

CASE_METADATA = sa.MetaData()

users = sa.Table(
    "users",
    CASE_METADATA,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("phone", sa.String(64)),
    sa.Column("email", sa.String(320)),
    sa.Column("office", sa.String(200)),
    sa.Column("role", sa.String(16), nullable=False),
    sa.Column("supervisor_id", sa.String(64), sa.ForeignKey("users.id")),
    sa.Column("trained_on", sa.String(10), nullable=False),
    sa.Column("created_us", sa.BigInteger, nullable=False),
)

cases = sa.Table(
    "cases",
    CASE_METADATA,
    sa.Column("number", sa.String(64), primary_key=True),
    sa.Column("title", sa.String(500), nullable=False, default=""),
    sa.Column("status", sa.String(8), nullable=False),
    sa.Column("opened_us", sa.BigInteger, nullable=False),
    sa.Column("closed_us", sa.BigInteger),
    sa.Column("owner_id", sa.String(64), sa.ForeignKey("users.id"), nullable=False),
    sa.Column("restricted", sa.Boolean, nullable=False),
    sa.Column("legal_hold", sa.Boolean, nullable=False),
)

case_team = sa.Table(
    "case_team",
    CASE_METADATA,
    sa.Column("case_number", sa.String(64), sa.ForeignKey("cases.number"), primary_key=True),
    sa.Column("user_id", sa.String(64), sa.ForeignKey("users.id"), primary_key=True),
)

approvals = sa.Table(
    "approvals",
    CASE_METADATA,
    sa.Column("case_number", sa.String(64), sa.ForeignKey("cases.number"), primary_key=True),
    sa.Column("record_id", sa.String(128), primary_key=True),
    sa.Column("state", sa.String(8), nullable=False),
    sa.Column("approver_id", sa.String(64), sa.ForeignKey("users.id")),
    sa.Column("decided_us", sa.BigInteger),
)

events = sa.Table(
    "events",
    CASE_METADATA,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True),
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("actor_id", sa.String(64), nullable=False),
    sa.Column("at_us", sa.BigInteger, nullable=False),
    sa.Column("detail", sa.Text, nullable=False),
)

notifications = sa.Table(
    "notifications",
    CASE_METADATA,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True),
    sa.Column("event_id", sa.BigInteger, sa.ForeignKey("events.id"), nullable=False),
    sa.Column("recipient_id", sa.String(64), sa.ForeignKey("users.id"), nullable=False),
    sa.Column("subject", sa.String(300), nullable=False),
    sa.Column("body", sa.Text, nullable=False),
    sa.Column("created_us", sa.BigInteger, nullable=False),
    sa.Column("mailed_us", sa.BigInteger),
    sa.Column("read_us", sa.BigInteger),
    sa.UniqueConstraint("event_id", "recipient_id", name="uq_notification_event_recipient"),
)
sa.Index("ix_notifications_recipient", notifications.c.recipient_id, notifications.c.read_us)

disclosures = sa.Table(
    "disclosures",
    CASE_METADATA,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True),
    sa.Column("case_number", sa.String(64), sa.ForeignKey("cases.number"), nullable=False),
    sa.Column("operator_id", sa.String(64), sa.ForeignKey("users.id"), nullable=False),
    sa.Column("receiving_agency", sa.String(300), nullable=False),
    sa.Column("requester", sa.String(300), nullable=False),
    sa.Column("secondary_recipient", sa.String(300)),
    sa.Column("purpose", sa.Text, nullable=False),
    sa.Column("disclosed_us", sa.BigInteger, nullable=False),
    sa.Column("records", sa.Text, nullable=False),
    sa.Column("export_sha256", sa.String(64)),
    sa.Column("audit_seq", sa.BigInteger),
)

AUDIT_METADATA = sa.MetaData()

audit_events = sa.Table(
    "audit_events",
    AUDIT_METADATA,
    sa.Column("seq", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("at_us", sa.BigInteger, nullable=False),
    sa.Column("actor", sa.String(64), nullable=False),
    sa.Column("role", sa.String(16), nullable=False),
    sa.Column("action", sa.String(32), nullable=False),
    sa.Column("case_numbers", sa.Text, nullable=False),
    sa.Column("object_ids", sa.Text, nullable=False),
    sa.Column("criteria", sa.Text, nullable=False),
    sa.Column("outcome", sa.String(8), nullable=False),
    sa.Column("host", sa.String(255), nullable=False),
    sa.Column("pid", sa.Integer, nullable=False),
    sa.Column("hash", sa.String(64), nullable=False),
    sa.Column("mac", sa.String(64), nullable=False),
)
sa.Index("ix_audit_events_actor", audit_events.c.actor)

audit_head = sa.Table(
    "audit_head",
    AUDIT_METADATA,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("seq", sa.BigInteger, nullable=False),
    sa.Column("hash", sa.String(64), nullable=False),
)

audit_checkpoints = sa.Table(
    "audit_checkpoints",
    AUDIT_METADATA,
    sa.Column("size", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("head_hash", sa.String(64), nullable=False),
    sa.Column("at_us", sa.BigInteger, nullable=False),
    sa.Column("mac", sa.String(64), nullable=False),
)

audit_tombstones = sa.Table(
    "audit_tombstones",
    AUDIT_METADATA,
    sa.Column("through_seq", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("head_hash", sa.String(64), nullable=False),
    sa.Column("at_us", sa.BigInteger, nullable=False),
    sa.Column("mac", sa.String(64), nullable=False),
)
