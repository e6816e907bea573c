"""The tamper-evident audit log: append-only, hash-chained, MACed, with signed checkpoints.

Each event ``i`` stores ``hash_i = SHA-256(hash_{i-1} | record_i)`` and ``mac_i =
HMAC-SHA-256(key, hash_i)``. The key lives outside the audit store (a file path passed in), so:

- an edited, inserted, deleted, renumbered or reordered row breaks the chain or its MAC;
- a whole-chain rewrite without the key fails every MAC;
- truncation of the tail is caught by signed checkpoints (size + head hash, every
  :data:`CHECKPOINT_EVERY` events and at every :meth:`AuditLog.seal`), mirrored to an anchor
  file beside the key, which a truncation of the database cannot reach.

Expiry after the retention period replaces a prefix by a signed tombstone (through seq + head
hash), from which verification continues.
"""

from __future__ import annotations

import fcntl
import hashlib
import hmac
import json
import os
import socket
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from icm_bridge import _driver as driver
from icm_bridge._db import Writer, from_us, to_us
from icm_bridge._schema import (
    AUDIT_METADATA,
    audit_checkpoints,
    audit_events,
    audit_head,
    audit_tombstones,
)
from tls_core.errors import AuditUnavailable, ConfigError
from tls_core.protocols import AuditEvent

__all__ = [
    "CHECKPOINT_EVERY",
    "GENESIS",
    "HASHED",
    "RETENTION",
    "AuditLog",
    "AuditRecord",
    "VerifyReport",
    "load_or_create_key",
]

CHECKPOINT_EVERY = 256
"""A signed checkpoint is written in the same transaction as every 256th event."""

RETENTION = timedelta(days=7 * 365 + 2)
"""Audit events are kept 7 years (two leap days included) before they may expire."""

GENESIS = "0" * 64
"""The hash before the first event."""


@dataclass(frozen=True)
class AuditRecord:
    """One stored audit event as read back."""

    seq: int
    at: datetime
    actor: str
    role: str
    action: str
    case_numbers: tuple[str, ...]
    object_ids: Mapping[str, str]
    criteria: Mapping[str, str]
    outcome: str
    host: str
    pid: int


@dataclass(frozen=True)
class VerifyReport:
    """The result of :meth:`AuditLog.verify`."""

    ok: bool
    """Whether the whole log verified."""
    size: int
    """Highest sequence number present (or expired through)."""
    first_bad_seq: int | None
    """The first sequence number that cannot be trusted, if any."""
    reason: str | None
    """Why (``hash``, ``mac``, ``gap``, ``checkpoint``, ``truncated``, ``tombstone``)."""
    checkpoints: int
    """How many signed checkpoints were checked."""


def load_or_create_key(path: Path) -> bytes:
    """Read the audit MAC key from ``path``, creating a random 32-byte key (mode 0600) if absent.

    Raises:
        ConfigError: The file exists but holds fewer than 32 bytes, or its directory is missing.
    """
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileNotFoundError:
        raise ConfigError(
            "the audit key's directory does not exist",
            file=str(path),
            reason="bad_audit_key",
            hint="create the directory (kept apart from the audit store) or pass --audit-key",
        ) from None
    except FileExistsError:
        key = path.read_bytes()
        if len(key) < 32:
            raise ConfigError(
                "audit key file is too short", file=str(path), reason="bad_audit_key"
            ) from None
        return key
    with os.fdopen(fd, "wb") as out:
        key = os.urandom(32)
        out.write(key)
    return key


class AuditLog:
    """The audit store: its own database, written only by :meth:`append`.

    Args:
        engine: Engine of the audit store (never the case store's database).
        key: The MAC key, kept outside the audit store.
        anchor: File beside the key mirroring the latest signed checkpoint.
        checkpoint_every: Interval of automatic checkpoints.
        clock: Source of aware UTC datetimes.
    """

    def __init__(
        self,
        engine: Engine,
        *,
        key: bytes,
        anchor: Path | None = None,
        checkpoint_every: int = CHECKPOINT_EVERY,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.engine = engine
        self._key = key
        self.anchor = anchor
        self.checkpoint_every = checkpoint_every
        self._clock = clock
        self._host = socket.gethostname()
        self._writer = Writer(engine)
        self._deferred = threading.local()
        self._stale_anchor: tuple[int, str] | None = None

    def create(self) -> None:
        """Create the audit tables and the chain head if they do not exist."""
        with self._guard(), self.engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                schema = conn.get_execution_options().get("schema_translate_map", {}).get(None)
                if schema:
                    conn.execute(sa.schema.CreateSchema(schema, if_not_exists=True))
            AUDIT_METADATA.create_all(conn)
            if conn.execute(sa.select(audit_head.c.id)).first() is None:
                conn.execute(audit_head.insert().values(id=1, seq=0, hash=GENESIS))

    def append(self, event: AuditEvent, *, role: str) -> int:
        """Append one event and return its sequence number.

        Raises:
            AuditUnavailable: The audit store cannot be written; the caller must refuse the action.
        """
        return self.append_many([(event, role)])[0]

    def append_many(self, events: Sequence[tuple[AuditEvent, str]]) -> list[int]:
        """Append ``(event, role)`` pairs in one transaction; return their sequence numbers.

        Raises:
            AuditUnavailable: The audit store cannot be written; nothing was appended.
        """
        with self._guard():
            stale = self._stale_anchor
            if stale is not None:  # a deferred anchor write failed: nothing more until it works
                self._write_anchor(*stale)
                self._stale_anchor = None
            with self._writer.transaction() as conn:
                seqs, marks = self._append(conn, events)
            if marks:
                if getattr(self._deferred, "active", False):
                    self._deferred.mark = marks[-1]
                else:
                    self._write_anchor(*marks[-1])
            return seqs

    @contextmanager
    def anchor_deferred(self) -> Iterator[None]:
        """Write the anchor file when the block ends instead of inside it (this thread).

        :class:`CaseStore` appends inside its own writer lock; the anchor write (an
        ``fsync`` every :data:`CHECKPOINT_EVERY` events) waits until that lock is released.
        The checkpoint row itself is committed with its event, as always; the anchor is
        written even if the block fails after the append. If that write fails, the action
        (audited and committed) stands, and every later append first retries the anchor and
        fails closed (:class:`AuditUnavailable`) until it succeeds.
        """
        state = self._deferred
        outer = getattr(state, "active", False)
        state.active = True
        try:
            yield
        finally:
            if not outer:
                state.active = False
                mark, state.mark = getattr(state, "mark", None), None
                if mark is not None:
                    try:
                        self._write_anchor(*mark)
                    except OSError:
                        self._stale_anchor = mark

    def seal(self) -> int:
        """Write a signed checkpoint at the current head and mirror it to the anchor file."""
        with self._guard():
            with self._writer.transaction() as conn:
                head = conn.execute(sa.select(audit_head).with_for_update()).one()
                if head.seq > 0:
                    self._checkpoint(conn, head.seq, head.hash)
            if head.seq > 0:
                self._write_anchor(head.seq, head.hash)
            return int(head.seq)

    def verify(self, *, workers: int = 1) -> VerifyReport:
        """Check the whole chain; report the first sequence number that cannot be trusted.

        Args:
            workers: Processes checking contiguous chunks in parallel (logs of 100,000 events
                or more; smaller ones are checked in this process).
        """
        from icm_bridge._audit_verify import verify_log  # imports this module

        return verify_log(
            self.engine, self._key, self.anchor, self.checkpoint_every, workers=workers
        )

    def show(
        self,
        *,
        actor: str | None = None,
        case_number: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int = 1000,
    ) -> list[AuditRecord]:
        """Return events filtered by user, case and time range, oldest first."""
        query = sa.select(audit_events).order_by(audit_events.c.seq).limit(limit)
        if actor is not None:
            query = query.where(audit_events.c.actor == actor)
        if case_number is not None:
            needle = json.dumps(case_number)
            query = query.where(audit_events.c.case_numbers.contains(needle, autoescape=True))
        if since is not None:
            query = query.where(audit_events.c.at_us >= to_us(since))
        if until is not None:
            query = query.where(audit_events.c.at_us < to_us(until))
        with self._guard(), self.engine.connect() as conn:
            return [_record(row) for row in conn.execute(query)]

    def expire(self, *, now: datetime | None = None) -> int:
        """Drop events older than :data:`RETENTION` behind a signed tombstone; return how many."""
        cutoff = to_us((now or self._clock()) - RETENTION)
        with self._guard(), self._writer.transaction() as conn:
            through = conn.execute(
                sa.select(sa.func.max(audit_events.c.seq)).where(audit_events.c.at_us < cutoff)
            ).scalar_one_or_none()
            if through is None:
                return 0
            head_hash = conn.execute(
                sa.select(audit_events.c.hash).where(audit_events.c.seq == through)
            ).scalar_one()
            mac = self._mac(f"tombstone\n{through}\n{head_hash}")
            at = to_us(self._clock())
            conn.execute(
                audit_tombstones.insert().values(
                    through_seq=through, head_hash=head_hash, at_us=at, mac=mac
                )
            )
            gone = conn.execute(audit_events.delete().where(audit_events.c.seq <= through))
            conn.execute(audit_checkpoints.delete().where(audit_checkpoints.c.size <= through))
            return int(gone.rowcount)

    def _append(
        self, conn: sa.Connection, events: Sequence[tuple[AuditEvent, str]]
    ) -> tuple[list[int], list[tuple[int, str]]]:
        # The hot path (one call per audited action): three driver-level statements.
        lock = " FOR UPDATE" if conn.dialect.name == "postgresql" else ""
        cur = driver.execute(conn, "SELECT seq, hash FROM {t}audit_head WHERE id = 1" + lock)
        head_seq, digest = cur.fetchone()
        cur.close()
        first = int(head_seq) + 1
        seq, digest = first - 1, str(digest)
        at_us, pid, host = to_us(self._clock()), os.getpid(), self._host
        key, every = self._key, self.checkpoint_every
        rows: list[tuple[object, ...]] = []
        marks: list[tuple[int, str]] = []
        for event, role in events:
            seq += 1
            fields = (seq, at_us, event.actor, role, event.action,
                      _canon(list(event.case_numbers)), _canon(dict(event.object_ids)),
                      _canon(dict(event.criteria)), event.outcome, host, pid)  # fmt: skip
            digest = _chain(digest, fields)
            rows.append((*fields, digest, hmac.digest(key, digest.encode(), "sha256").hex()))
            if seq % every == 0:
                marks.append((seq, digest))
        if not rows:
            return [], []
        if len(rows) == 1:
            driver.execute(conn, _INSERT_EVENT, rows[0]).close()
        else:
            driver.executemany(conn, _INSERT_EVENT, rows)
        driver.execute(conn, _UPDATE_HEAD, (seq, digest)).close()
        for size, head_hash in marks:
            self._checkpoint(conn, size, head_hash)
        return list(range(first, seq + 1)), marks

    def _checkpoint(self, conn: sa.Connection, size: int, head_hash: str) -> None:
        exists = conn.execute(
            sa.select(audit_checkpoints.c.size).where(audit_checkpoints.c.size == size)
        ).first()
        if exists is None:
            conn.execute(
                audit_checkpoints.insert().values(
                    size=size,
                    head_hash=head_hash,
                    at_us=to_us(self._clock()),
                    mac=self._mac(f"checkpoint\n{size}\n{head_hash}"),
                )
            )

    def _write_anchor(self, size: int, head_hash: str) -> None:
        if self.anchor is None:
            return
        mac = self._mac(f"checkpoint\n{size}\n{head_hash}")
        with open(self.anchor, "a+", encoding="utf-8") as fh:
            # Several processes append; the lock keeps the anchor at the largest size written.
            fcntl.flock(fh, fcntl.LOCK_EX)
            fh.seek(0)
            text = fh.read().strip()
            if text and json.loads(text)["size"] >= size:
                return
            fh.seek(0)
            fh.truncate()
            fh.write(json.dumps({"size": size, "head_hash": head_hash, "mac": mac}))
            fh.flush()
            os.fsync(fh.fileno())

    def _mac(self, message: str) -> str:
        return hmac.digest(self._key, message.encode(), "sha256").hex()

    def _guard(self) -> _FailClosed:
        return _FailClosed()


def chain_hash(prev_hash: str, values: Mapping[Any, Any]) -> str:
    """Return the chained SHA-256 of one event's stored fields (without ``hash``/``mac``).

    The fields of :data:`HASHED`, in that order, as text, after the previous hash, joined by
    U+001F.
    """
    return _chain(prev_hash, tuple(values[name] for name in HASHED))


def _chain(prev_hash: str, fields: tuple[object, ...]) -> str:
    return hashlib.sha256("\x1f".join([prev_hash, *map(str, fields)]).encode()).hexdigest()


HASHED = (
    "seq",
    "at_us",
    "actor",
    "role",
    "action",
    "case_numbers",
    "object_ids",
    "criteria",
    "outcome",
    "host",
    "pid",
)


_INSERT_EVENT = (
    "INSERT INTO {t}audit_events (seq, at_us, actor, role, action, case_numbers, object_ids, "
    "criteria, outcome, host, pid, hash, mac) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
_UPDATE_HEAD = "UPDATE {t}audit_head SET seq = ?, hash = ? WHERE id = 1"


class _FailClosed:
    """Turn any database or file failure of the audit store into :class:`AuditUnavailable`."""

    def __enter__(self) -> None:
        return None

    def __exit__(
        self, kind: type[BaseException] | None, err: BaseException | None, _tb: object
    ) -> None:
        if isinstance(err, sa.exc.SQLAlchemyError | OSError):
            raise AuditUnavailable(
                f"the audit log cannot be written: {type(err).__name__}: {err}".splitlines()[0],
                reason="audit_unavailable",
                hint="the action was refused; restore the audit store and retry",
            ) from err


def _canon(value: list[str] | dict[str, str]) -> str:
    if not value:
        return "[]" if isinstance(value, list) else "{}"
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _record(row: sa.Row[tuple[object, ...]]) -> AuditRecord:
    m = row._mapping
    return AuditRecord(
        seq=int(m["seq"]),
        at=from_us(int(m["at_us"])),
        actor=str(m["actor"]),
        role=str(m["role"]),
        action=str(m["action"]),
        case_numbers=tuple(json.loads(str(m["case_numbers"]))),
        object_ids=json.loads(str(m["object_ids"])),
        criteria=json.loads(str(m["criteria"])),
        outcome=str(m["outcome"]),
        host=str(m["host"]),
        pid=int(m["pid"]),
    )
