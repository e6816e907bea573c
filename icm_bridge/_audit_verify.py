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
import multiprocessing
from collections.abc import Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from icm_bridge import _driver as driver
from icm_bridge._audit import GENESIS, HASHED, VerifyReport
from icm_bridge._db import create_store_engine
from icm_bridge._schema import audit_checkpoints, audit_events, audit_tombstones

__all__ = ["verify_log"]


@dataclass(frozen=True)
class _Chunk:
    """What one pass over ``(after, upto]`` found."""

    last: int
    bad: int | None
    reason: str | None
    hashes: dict[int, str]


def verify_log(
    engine: Engine,
    key: bytes,
    anchor: Path | None,
    checkpoint_every: int,
    *,
    workers: int = 1,
    min_parallel: int = 100_000,
) -> VerifyReport:
    """Verify the audit store behind ``engine`` with ``key``; see the module docstring.

    With ``workers > 1`` the sequence range is split into contiguous chunks checked in parallel
    processes: each row stores its hash, so a chunk starts from the stored hash before it, which
    the previous chunk verifies.
    """
    with engine.connect() as conn:
        start, prev, bad = _start(conn, key)
        if bad is not None:
            return VerifyReport(False, start, bad, "tombstone", 0)
        marks = _checkpoints(conn, key, anchor)
        if marks is None:
            return VerifyReport(False, start, start + 1, "checkpoint", 0)
        top = conn.execute(sa.select(sa.func.max(audit_events.c.seq))).scalar_one_or_none()
        bounds = _split(
            start, int(top or start), workers if top and top - start >= min_parallel else 1
        )
        chunks = [_check(conn, key, start, prev, None, marks)] if len(bounds) == 1 else []
    if not chunks:
        chunks = _parallel(engine, key, bounds, prev, marks)
    return _combine(chunks, marks, start, checkpoint_every)


def _combine(chunks: list[_Chunk], marks: dict[int, str], start: int, every: int) -> VerifyReport:
    # Chunks are contiguous and each ends exactly where the next starts (else it reports a
    # gap), so the first chunk that failed holds the first bad sequence number.
    hashes: dict[int, str] = {}
    for chunk in chunks:
        if chunk.bad is not None:
            return VerifyReport(False, chunk.last, chunk.bad, chunk.reason, 0)
        hashes.update(chunk.hashes)
    return _judge(marks, hashes, start, chunks[-1].last, every)


def _split(start: int, top: int, workers: int) -> list[tuple[int, int | None]]:
    """Split ``(start, top]`` into contiguous ``(after, upto)`` ranges; the last is open."""
    if workers <= 1:
        return [(start, None)]
    step = (top - start) // workers + 1
    edges = list(range(start, top, step))
    return [(a, b) for a, b in zip(edges, [*edges[1:], None], strict=True)]


def _parallel(
    engine: Engine,
    key: bytes,
    bounds: list[tuple[int, int | None]],
    prev: str,
    marks: dict[int, str],
) -> list[_Chunk]:
    url = engine.url.render_as_string(hide_password=False)
    schema = engine.get_execution_options().get("schema_translate_map", {}).get(None)
    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(len(bounds), mp_context=ctx) as pool:
        futures = [
            pool.submit(_worker, url, schema, key, after, upto, prev if i == 0 else None, marks)
            for i, (after, upto) in enumerate(bounds)
        ]
        return [f.result() for f in futures]


def _worker(
    url: str,
    schema: str | None,
    key: bytes,
    after: int,
    upto: int | None,
    prev: str | None,
    marks: dict[int, str],
) -> _Chunk:
    engine = create_store_engine(url, schema=schema)
    try:
        with engine.connect() as conn:
            if prev is None:
                prev = conn.execute(
                    sa.select(audit_events.c.hash).where(audit_events.c.seq == after)
                ).scalar_one_or_none()
                if prev is None:  # the previous chunk reports this gap first
                    return _Chunk(after - 1, after, "gap", {})
            return _check(conn, key, after, prev, upto, marks)
    finally:
        engine.dispose()


def _check(
    conn: sa.Connection,
    key: bytes,
    after: int,
    prev: str,
    upto: int | None,
    marks: dict[int, str],
) -> _Chunk:
    # The loop runs a million times per verification: each row arrives as (seq, its hashed
    # fields already joined as UTF-8 bytes, hash, mac) and costs one SHA-256, one HMAC from
    # precomputed pads and two string compares; no per-row objects beyond the fetched tuple.
    hashes: dict[int, str] = {}
    seq = after
    prev_bytes = prev.encode()
    sha256 = hashlib.sha256
    inner, outer = _hmac_pads(key)
    inner_copy, outer_copy = inner.copy, outer.copy
    for batch in _batches(conn, after, upto):
        for row_seq, fields, stored_hash, stored_mac in batch:
            if row_seq != seq + 1:
                return _Chunk(seq, seq + 1, "gap", hashes)
            seq = row_seq
            if fields is None:  # SQLite could not join this row exactly: join it here
                fields = _joined(conn, seq)
            digest = sha256(prev_bytes + b"\x1f" + fields).hexdigest()
            if digest != stored_hash:
                return _Chunk(seq - 1, seq, "hash", hashes)
            prev_bytes = digest.encode()
            mac = inner_copy()  # HMAC-SHA-256(key, digest), see _hmac_pads
            mac.update(prev_bytes)
            outer_mac = outer_copy()
            outer_mac.update(mac.digest())
            if outer_mac.hexdigest() != stored_mac:
                return _Chunk(seq - 1, seq, "mac", hashes)
            if seq in marks:
                hashes[seq] = digest
    if upto is not None and seq != upto:
        return _Chunk(seq, seq + 1, "gap", hashes)
    return _Chunk(seq, None, None, hashes)


def _hmac_pads(key: bytes) -> tuple[Any, Any]:
    """Return SHA-256 states that have absorbed the inner and outer padded key (RFC 2104).

    ``outer.copy() + inner.copy().update(m).digest()`` then gives
    ``hmac.digest(key, m, "sha256")`` (tested against it) at about half the cost per call:
    the padded key blocks are hashed once here instead of once per event.
    """
    block = 64  # SHA-256 block size
    if len(key) > block:
        key = hashlib.sha256(key).digest()
    key = key.ljust(block, b"\0")
    inner = hashlib.sha256(bytes(b ^ 0x36 for b in key))
    outer = hashlib.sha256(bytes(b ^ 0x5C for b in key))
    return inner, outer


_FIELDS = len(HASHED)
_BATCH = 20_000
_INTEGERS = ("seq", "at_us", "pid")


def _batches(
    conn: sa.Connection, after: int, upto: int | None
) -> Iterator[Sequence[tuple[int, bytes | None, str, str]]]:
    """Yield batches of ``(seq, hashed fields joined by U+001F as UTF-8, hash, mac)``.

    In seq order. On SQLite the fields are joined by ``printf`` in SQLite itself and handed
    over as bytes, on a raw cursor (one object per row instead of eleven, no decoding).
    ``printf`` renders integers and text exactly as Python's ``str`` does, but not other
    storage types and not text past a NUL character: such a row yields ``None`` and
    :func:`_joined` joins it in Python instead, so the result never differs from
    :func:`icm_bridge._audit.chain_hash`. Elsewhere the rows are streamed
    through SQLAlchemy and joined here.
    """
    if conn.dialect.name == "sqlite":
        yield from _sqlite_batches(conn, after, upto)
        return
    cols = [audit_events.c[name] for name in (*HASHED, "hash", "mac")]
    query = sa.select(*cols).where(audit_events.c.seq > after).order_by(audit_events.c.seq)
    if upto is not None:
        query = query.where(audit_events.c.seq <= upto)
    result = conn.execution_options(yield_per=_BATCH).execute(query)
    for part in result.partitions():
        yield [
            (
                int(row[0]),
                "\x1f".join(map(str, row[:_FIELDS])).encode(),
                row[_FIELDS],
                row[_FIELDS + 1],
            )
            for row in part
        ]


def _joined(conn: sa.Connection, seq: int) -> bytes:
    """Join one row's hashed fields in Python, exactly as :func:`chain_hash` does."""
    cols = [audit_events.c[name] for name in HASHED]
    row = conn.execute(sa.select(*cols).where(audit_events.c.seq == seq)).one()
    return "\x1f".join(map(str, row)).encode()


def _sqlite_batches(
    conn: sa.Connection, after: int, upto: int | None
) -> Iterator[Sequence[tuple[int, bytes | None, str, str]]]:
    exact = " AND ".join(
        f"typeof({name}) = 'integer'"
        if name in _INTEGERS
        else f"typeof({name}) = 'text' AND instr({name}, char(0)) = 0"
        for name in HASHED
    )
    template = "'" + "' || char(31) || '".join(["%s"] * _FIELDS) + "'"
    joined = f"printf({template}, {', '.join(HASHED)})"
    where = "seq > ?" + ("" if upto is None else " AND seq <= ?")
    query = (
        f"SELECT seq, CASE WHEN {exact} THEN CAST({joined} AS BLOB) END, hash, mac "
        f"FROM audit_events WHERE {where} ORDER BY seq"
    )
    params = (after,) if upto is None else (after, upto)
    cur = driver.execute(conn, query, params)
    try:
        while batch := cur.fetchmany(_BATCH):
            yield batch
    finally:
        cur.close()


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
