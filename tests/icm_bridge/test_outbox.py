"""Notification outbox: same-transaction write, per-user queue, SMTP, exactly once."""

from __future__ import annotations

import multiprocessing
import os
import signal
import socket
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from aiosmtpd.controller import Controller

from icm_bridge import CaseStore, SmtpSettings, deliver_mail
from icm_bridge._schema import audit_events, events, notifications
from tests.icm_bridge.conftest import TODAY, Clock, make_store
from tls_core.errors import AuditUnavailable
from tls_core.protocols import QueryNotice

NOTICE = QueryNotice("bob", {"msisdn": "+12065550123"}, ("C-A", "C-B", "C-R"))


class Inbox:
    def __init__(self) -> None:
        self.messages: list[tuple[str, list[str], bytes]] = []

    async def handle_DATA(self, server: object, session: object, envelope: object) -> str:  # noqa: N802
        self.messages.append(
            (envelope.mail_from, list(envelope.rcpt_tos), envelope.content)  # type: ignore[attr-defined]
        )
        return "250 OK"


@pytest.fixture
def smtp() -> Iterator[tuple[SmtpSettings, Inbox]]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    yield SmtpSettings("127.0.0.1", port), inbox
    controller.stop()


def _cases(store: CaseStore) -> None:
    store.open_case("alice", "C-A", owner="alice")
    store.open_case("alice", "C-B", owner="alice")
    store.open_case("sup", "C-R", owner="sup", restricted=True)
    store.open_case("bob", "C-O", owner="bob")


def test_query_notifies_other_owners_once(office: CaseStore) -> None:
    _cases(office)
    assert (
        office.notify_query(QueryNotice("bob", {"msisdn": "+1206"}, ("C-A", "C-B", "C-R", "C-O")))
        == 2
    )
    [note] = office.notifications("alice")
    assert "Bob (bob, no phone on file) searched: msisdn=+1206" in note.body
    assert "C-A, C-B" in note.body
    assert "C-R" not in note.body
    assert len(office.notifications("sup")) == 1
    assert office.notifications("bob") == []  # never about one's own case


def test_opr_queries_never_notify_but_are_audited(office: CaseStore) -> None:
    _cases(office)
    assert office.notify_query(QueryNotice("opr", {"imei": "35"}, ("C-A", "C-R"))) == 0
    assert office.notifications("alice") == []
    assert office.notifications("sup") == []
    assert [r.actor for r in office.audit.show(actor="opr")] == ["opr"]


def test_mark_read(office: CaseStore) -> None:
    _cases(office)
    office.notify_query(NOTICE)
    office.notify_query(NOTICE)
    ids = [n.notification_id for n in office.notifications("alice")]
    assert len(ids) == 2
    assert office.mark_read("alice", ids[:1]) == 1
    assert [n.notification_id for n in office.notifications("alice")] == ids[1:]
    assert office.mark_read("sup", ids) == 0  # not theirs
    assert office.mark_read("alice") == 1
    assert office.notifications("alice") == []
    assert [n.read for n in office.notifications("alice", unread_only=False)] == [True, True]


def test_notifications_roll_back_with_the_event(office: CaseStore) -> None:
    _cases(office)
    with office.audit.engine.begin() as conn:
        audit_events.drop(conn)
    with pytest.raises(AuditUnavailable):
        office.notify_query(NOTICE)
    with office.engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(notifications)).scalar() == 0
        assert conn.execute(sa.select(sa.func.count()).select_from(events)).scalar() == 0


def test_mail_delivery_with_stable_message_id(office: CaseStore, smtp) -> None:
    settings, inbox = smtp
    _cases(office)
    office.notify_query(NOTICE)
    assert deliver_mail(office.engine, settings) == 1  # sup has no e-mail address
    assert deliver_mail(office.engine, settings) == 0
    [(sender, rcpts, content)] = inbox.messages
    assert (sender, rcpts) == ("tls@localhost", ["alice@example.org"])
    assert b"Message-ID: <tls-notification-" in content


def _child(tmp: str, ready: str) -> None:
    store = make_store(Path(tmp), Clock(), None)
    store.notify_query(NOTICE)  # commits event + notifications
    Path(ready).write_text("committed")
    signal.pause()  # killed here, before any delivery


@pytest.mark.parametrize("backend_urls", [None])
def test_exactly_once_across_crash_between_commit_and_delivery(
    office: CaseStore, tmp_path: Path, smtp
) -> None:
    settings, inbox = smtp
    _cases(office)
    ready = tmp_path / "ready"
    child = multiprocessing.get_context("spawn").Process(
        target=_child, args=(str(tmp_path), str(ready))
    )
    child.start()
    for _ in range(600):
        if ready.exists() or not child.is_alive():
            break
        child.join(0.05)
    assert ready.exists()
    os.kill(child.pid, signal.SIGKILL)  # type: ignore[arg-type]
    child.join(10)
    assert child.exitcode == -signal.SIGKILL
    # A new process (here: the test) finds the committed notifications and delivers them once.
    assert len(office.notifications("alice")) == 1
    assert deliver_mail(office.engine, settings) == 1
    assert deliver_mail(office.engine, settings) == 0
    assert [m[1] for m in inbox.messages] == [["alice@example.org"]]
    assert len(office.notifications("sup")) == 1


def test_duplicate_notification_for_same_event_recipient_refused(office: CaseStore) -> None:
    _cases(office)
    office.notify_query(NOTICE)
    with office.engine.begin() as conn:
        row = conn.execute(sa.select(notifications).limit(1)).one()
    with pytest.raises(sa.exc.IntegrityError), office.engine.begin() as conn:
        conn.execute(
            notifications.insert().values(
                event_id=row.event_id,
                recipient_id=row.recipient_id,
                subject="x",
                body="x",
                created_us=0,
            )
        )


def test_batched_notices_one_transaction(office: CaseStore) -> None:
    _cases(office)
    office.update_user("admin", "dave", trained_on=TODAY - timedelta(days=400))
    notices = [NOTICE, QueryNotice("opr", {"x": "1"}, ("C-A",)), QueryNotice("dave", {}, ("C-A",))]
    assert office.notify_queries(notices) == 2  # alice and sup for bob; none for opr or dave
    outcomes = [(r.actor, r.outcome) for r in office.audit.show() if r.action == "notify-query"]
    assert outcomes == [("bob", "ok"), ("opr", "ok"), ("dave", "denied")]
    assert office.audit.verify().ok


def test_crash_after_send_before_mark_resends_same_message_id(office: CaseStore, smtp) -> None:
    settings, inbox = smtp
    _cases(office)
    office.notify_query(NOTICE)
    assert deliver_mail(office.engine, settings) == 1
    with office.engine.begin() as conn:  # the state a crash between send and mark leaves
        conn.execute(notifications.update().values(mailed_us=None))
    assert deliver_mail(office.engine, settings) == 1
    ids = [
        line for _, _, content in inbox.messages for line in content.splitlines()
        if line.startswith(b"Message-ID:")
    ]  # fmt: skip
    assert len(ids) == 2
    assert ids[0] == ids[1]  # the receiver deduplicates on it: one notice per (event, recipient)
