"""Verification of the audit chain: one streaming pass, first untrustworthy sequence number.

Order of checks: the newest tombstone (signed) gives the starting point; every row must follow
its predecessor without a gap, re-hash to its stored hash and carry a valid MAC; every signed
checkpoint (and the anchor file beside the key) must match the recomputed hash at its size, and
no checkpoint may lie beyond the end of the log (truncation).
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from icm_bridge._audit import GENESIS, HASHED, VerifyReport
from icm_bridge._schema import audit_checkpoints, audit_events, audit_tombstones

__all__ = ["verify_log"]

_N = len(HASHED)


def verify_log(
    engine: Engine, key: bytes, anchor: Path | None, checkpoint_every: int
) -> VerifyReport:
    """Verify the audit store behind ``engine`` with ``key``; see the module docstring."""
    with engine.connect() as conn:
        start, prev, bad = _start(conn, key)
        if bad is not None:
            return VerifyReport(False, start, bad, "tombstone", 0)
        marks = _checkpoints(conn, key, anchor)
        if marks is None:
            return VerifyReport(False, start, start + 1, "checkpoint", 0)
        hashes: dict[int, str] = {}
        seq = start
        sha256, digest_of = hashlib.sha256, hmac.digest
        for row in _stream(conn, start):
            if row[0] != seq + 1:
                return VerifyReport(False, seq, seq + 1, "gap", 0)
            seq += 1
            # Inlined chain_hash (this loop runs a million times per verification).
            digest = sha256("\x1f".join([prev, *map(str, row[:_N])]).encode()).hexdigest()
            if digest != row[_N]:
                return VerifyReport(False, seq, seq, "hash", 0)
            if digest_of(key, digest.encode(), "sha256").hex() != row[_N + 1]:
                return VerifyReport(False, seq, seq, "mac", 0)
            if seq in marks:
                hashes[seq] = digest
            prev = digest
    return _judge(marks, hashes, start, seq, checkpoint_every)


def _stream(conn: sa.Connection, after: int) -> Iterator[sa.Row[Any]]:
    cols = [audit_events.c[name] for name in (*HASHED, "hash", "mac")]
    query = sa.select(*cols).where(audit_events.c.seq > after).order_by(audit_events.c.seq)
    yield from conn.execution_options(yield_per=20_000).execute(query)


def _judge(
    marks: dict[int, str], hashes: dict[int, str], start: int, size: int, every: int
) -> VerifyReport:
    for at in sorted(marks):
        if at <= start:
            continue  # expired behind the tombstone, which was checked itself
        if at > size:
            return VerifyReport(False, size, size + 1, "truncated", len(marks))
        if hashes.get(at) != marks[at]:
            return VerifyReport(False, size, at, "checkpoint", len(marks))
    # Every automatic checkpoint must be present: deleting one is tampering too.
    first_due = (start // every + 1) * every
    for due in range(first_due, size + 1, every):
        if due not in marks:
            return VerifyReport(False, size, due, "checkpoint", len(marks))
    return VerifyReport(True, size, None, None, len(marks))


def _start(conn: sa.Connection, key: bytes) -> tuple[int, str, int | None]:
    stone = conn.execute(
        sa.select(audit_tombstones).order_by(audit_tombstones.c.through_seq.desc()).limit(1)
    ).first()
    if stone is None:
        return 0, GENESIS, None
    through, head = int(stone.through_seq), str(stone.head_hash)
    if not hmac.compare_digest(_mac(key, f"tombstone\n{through}\n{head}"), str(stone.mac)):
        return through, head, 1
    return through, head, None


def _checkpoints(conn: sa.Connection, key: bytes, anchor: Path | None) -> dict[int, str] | None:
    """Return {size: head hash} of validly signed checkpoints, or None if one is forged."""
    marks: dict[int, str] = {}
    rows = [
        (int(r.size), str(r.head_hash), str(r.mac))
        for r in conn.execute(sa.select(audit_checkpoints))
    ]
    if anchor is not None and anchor.exists():
        text = anchor.read_text("utf-8").strip()
        if text:
            doc = json.loads(text)
            rows.append((int(doc["size"]), str(doc["head_hash"]), str(doc["mac"])))
    for size, head, mac in rows:
        if not hmac.compare_digest(_mac(key, f"checkpoint\n{size}\n{head}"), mac):
            return None
        if marks.get(size, head) != head:
            return None
        marks[size] = head
    return marks


def _mac(key: bytes, message: str) -> str:
    return hmac.digest(key, message.encode(), "sha256").hex()
