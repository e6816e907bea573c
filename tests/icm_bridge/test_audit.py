"""Audit log: chain, MACs, checkpoints, tampering detection, fail-closed, expiry, concurrency."""

from __future__ import annotations

import hashlib
import multiprocessing
import random
import shutil
import sqlite3
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest

from icm_bridge import AuditLog, CaseStore, create_store_engine, load_or_create_key
from icm_bridge._audit import chain_hash
from icm_bridge._audit_verify import verify_log
from icm_bridge._schema import audit_events
from tests.icm_bridge.conftest import NOW, Clock, user
from tls_core.errors import AuditUnavailable, ConfigError
from tls_core.protocols import AuditEvent

EVERY = 16
SIZE = 100
TRIALS = 25
Tamper = Callable[[sqlite3.Connection, random.Random], None]


def _log(db: Path, key: Path, clock: Clock | None = None) -> AuditLog:
    engine = create_store_engine(f"sqlite:///{db}")
    return AuditLog(
        engine,
        key=key.read_bytes(),
        anchor=key.with_suffix(".anchor"),
        checkpoint_every=EVERY,
        clock=clock or Clock(),
    )


@pytest.fixture
def base(tmp_path: Path) -> tuple[Path, Path]:
    key = tmp_path / "audit.key"
    key.write_bytes(b"k" * 32)
    db = tmp_path / "base.sqlite"
    log = _log(db, key)
    log.create()
    for i in range(SIZE):
        log.append(
            AuditEvent(f"user{i % 7}", "search", "ok", (f"C-{i % 5}",), {}, {"msisdn": f"+1{i}"}),
            role="agent",
        )
    log.seal()
    log.engine.dispose()
    return db, key


def _trial(
    base: tuple[Path, Path], tmp: Path, tamper: Tamper, seed: int
) -> tuple[bool, int | None]:
    db, key = base
    copy = tmp / f"trial{seed}.sqlite"
    shutil.copy(db, copy)
    anchor = key.with_suffix(".anchor")
    raw = sqlite3.connect(copy)
    tamper(raw, random.Random(seed))
    raw.commit()
    raw.close()
    log = _log(copy, key)
    log.anchor = anchor
    report = log.verify()
    log.engine.dispose()
    return report.ok, report.first_bad_seq


def _edit(raw: sqlite3.Connection, rng: random.Random) -> None:
    seq = rng.randint(1, SIZE)
    raw.execute("UPDATE audit_events SET criteria = ? WHERE seq = ?", ('{"msisdn":"+999"}', seq))
    raw.execute("INSERT INTO t(seq) VALUES (?)", (seq,))


def _delete(raw: sqlite3.Connection, rng: random.Random) -> None:
    seq = rng.randint(1, SIZE - 1)
    raw.execute("DELETE FROM audit_events WHERE seq = ?", (seq,))
    raw.execute("INSERT INTO t(seq) VALUES (?)", (seq,))


def _insert(raw: sqlite3.Connection, rng: random.Random) -> None:
    # Renumber the tail and slip a well-formed event in, re-chaining hashes (no key for MACs).
    seq = rng.randint(1, SIZE)
    raw.execute("UPDATE audit_events SET seq = seq + 1000000 WHERE seq >= ?", (seq,))
    raw.execute("UPDATE audit_events SET seq = seq - 1000000 + 1 WHERE seq >= 1000000")
    raw.execute(
        "INSERT INTO audit_events SELECT ?, at_us, 'ghost', role, action, case_numbers, "
        "object_ids, criteria, outcome, host, pid, hash, mac FROM audit_events WHERE seq = ?",
        (seq, seq + 1),
    )
    _rechain(raw, b"not-the-key")
    raw.execute("INSERT INTO t(seq) VALUES (?)", (seq,))


def _reorder(raw: sqlite3.Connection, rng: random.Random) -> None:
    a, b = sorted(rng.sample(range(1, SIZE + 1), 2))
    raw.execute("UPDATE audit_events SET seq = -1 WHERE seq = ?", (a,))
    raw.execute("UPDATE audit_events SET seq = ? WHERE seq = ?", (a, b))
    raw.execute("UPDATE audit_events SET seq = ? WHERE seq = -1", (b,))
    raw.execute("INSERT INTO t(seq) VALUES (?)", (a,))


def _truncate(raw: sqlite3.Connection, rng: random.Random) -> None:
    keep = rng.randint(0, SIZE - 1)
    raw.execute("DELETE FROM audit_events WHERE seq > ?", (keep,))
    raw.execute("DELETE FROM audit_checkpoints WHERE size > ?", (keep,))
    head = raw.execute("SELECT hash FROM audit_events WHERE seq = ?", (keep,)).fetchone()
    raw.execute("UPDATE audit_head SET seq = ?, hash = ?", (keep, head[0] if head else "0" * 64))
    raw.execute("INSERT INTO t(seq) VALUES (?)", (keep + 1,))


def _rewrite(raw: sqlite3.Connection, rng: random.Random) -> None:
    raw.execute("UPDATE audit_events SET actor = 'nobody' WHERE seq = ?", (rng.randint(1, SIZE),))
    _rechain(raw, b"x" * 32)
    raw.execute("INSERT INTO t(seq) VALUES (1)")


def _rechain(raw: sqlite3.Connection, fake_key: bytes) -> None:
    import hmac

    cols = [r[1] for r in raw.execute("PRAGMA table_info(audit_events)")]
    prev = "0" * 64
    for row in raw.execute("SELECT * FROM audit_events ORDER BY seq").fetchall():
        values = dict(zip(cols, row, strict=True))
        digest = chain_hash(prev, values)
        mac = hmac.digest(fake_key, digest.encode(), "sha256").hex()
        raw.execute(
            "UPDATE audit_events SET hash=?, mac=? WHERE seq=?", (digest, mac, values["seq"])
        )
        prev = digest
    size = raw.execute("SELECT max(seq) FROM audit_events").fetchone()[0]
    raw.execute("UPDATE audit_head SET seq = ?, hash = ?", (size, prev))
    raw.execute("DELETE FROM audit_checkpoints")
    for s in range(EVERY, size + 1, EVERY):
        h = raw.execute("SELECT hash FROM audit_events WHERE seq = ?", (s,)).fetchone()[0]
        mac = hmac.digest(fake_key, f"checkpoint\n{s}\n{h}".encode(), "sha256").hex()
        raw.execute("INSERT INTO audit_checkpoints VALUES (?, ?, 0, ?)", (s, h, mac))


@pytest.mark.parametrize(
    ("tamper", "exact"),
    [
        (_edit, True),
        (_delete, True),
        (_insert, False),
        (_reorder, True),
        (_truncate, True),
        (_rewrite, True),
    ],
    ids=["edit", "delete", "insert", "reorder", "truncate", "whole-chain-rewrite"],
)
def test_tampering_detected_every_trial(base, tmp_path: Path, tamper: Tamper, exact: bool) -> None:
    assert _log(base[0], base[1]).verify().ok
    detected = 0
    expected: list[int] = [0]

    def record(raw: sqlite3.Connection, rng: random.Random) -> None:
        # Each tamper notes in TEMP table t the first seq it damaged.
        raw.execute("CREATE TEMP TABLE t(seq INTEGER)")
        tamper(raw, rng)
        expected[0] = raw.execute("SELECT seq FROM t").fetchone()[0]

    for seed in range(TRIALS):
        ok, first_bad = _trial(base, tmp_path, record, seed)
        if not ok:
            detected += 1
            if exact:
                assert first_bad == expected[0]
            else:
                assert first_bad is not None
                assert first_bad <= expected[0]
    assert detected == TRIALS


def test_show_filters_by_user_case_and_time(base) -> None:
    log = _log(*base)
    assert [r.seq for r in log.show(actor="user3")] == list(range(4, SIZE + 1, 7))
    assert all("C-2" in r.case_numbers for r in log.show(case_number="C-2"))
    assert len(log.show(case_number="C-2")) == SIZE // 5
    assert log.show(case_number="C-%") == []
    assert len(log.show(since=NOW, until=NOW + timedelta(seconds=1))) == SIZE
    assert log.show(since=NOW + timedelta(seconds=1)) == []
    rec = log.show(actor="user0", limit=1)[0]
    assert (rec.seq, rec.role, rec.criteria, rec.at) == (1, "agent", {"msisdn": "+10"}, NOW)


def test_checkpoints_every_interval_and_at_seal(base) -> None:
    raw = sqlite3.connect(base[0])
    sizes = [r[0] for r in raw.execute("SELECT size FROM audit_checkpoints ORDER BY size")]
    raw.close()
    assert sizes == [*range(EVERY, SIZE + 1, EVERY), SIZE]
    assert _log(*base).verify().checkpoints == len(sizes)


def test_expiry_by_signed_tombstone_keeps_verification(base, tmp_path: Path) -> None:
    clock = Clock(NOW)
    log = _log(base[0], base[1], clock)
    clock.now = NOW + timedelta(days=8 * 365)
    log.append(AuditEvent("late", "view", "ok"), role="agent")
    assert log.expire() == SIZE
    report = log.verify()
    assert report.ok
    assert report.size == SIZE + 1
    raw = sqlite3.connect(base[0])
    raw.execute("UPDATE audit_tombstones SET through_seq = through_seq + 1")
    raw.commit()
    raw.close()
    assert not log.verify().ok


def test_fail_closed_when_audit_unwritable(store: CaseStore) -> None:
    store.add_user(None, user("admin", "admin"))
    with store.audit.engine.begin() as conn:
        audit_events.drop(conn)
    with pytest.raises(AuditUnavailable):
        store.add_user("admin", user("x", "agent"))
    assert store.user_count() == 1  # the change was rolled back


def _writer(db: str, key: str, n: int) -> None:
    log = _log(Path(db), Path(key))
    for i in range(n):
        log.append(AuditEvent("w", "search", "ok", (), {}, {"i": str(i)}), role="agent")


def test_concurrent_writer_processes_keep_one_chain(tmp_path: Path) -> None:
    key = tmp_path / "audit.key"
    key.write_bytes(hashlib.sha256(b"seed").digest())
    db = tmp_path / "audit.sqlite"
    _log(db, key).create()
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_writer, args=(str(db), str(key), 40)) for _ in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    report = _log(db, key).verify()
    assert report.ok
    assert report.size == 160


@pytest.mark.parametrize(
    "tamper", [None, _edit, _delete, _insert, _reorder, _truncate, _rewrite],
    ids=["clean", "edit", "delete", "insert", "reorder", "truncate", "whole-chain-rewrite"],
)  # fmt: skip
def test_parallel_verification_agrees_with_sequential(base, tmp_path: Path, tamper) -> None:
    db, key = base
    copy = tmp_path / "copy.sqlite"
    shutil.copy(db, copy)
    if tamper is not None:
        raw = sqlite3.connect(copy)
        raw.execute("CREATE TEMP TABLE t(seq INTEGER)")
        tamper(raw, random.Random(7))
        raw.commit()
        raw.close()
    log = _log(copy, key)
    sequential = log.verify()
    parallel = verify_log(
        log.engine, key.read_bytes(), log.anchor, EVERY, workers=3, min_parallel=1
    )
    assert parallel == sequential
    assert sequential.ok is (tamper is None)


def test_audit_key_file_rules(tmp_path: Path) -> None:
    key = load_or_create_key(tmp_path / "k")
    assert len(key) == 32
    assert load_or_create_key(tmp_path / "k") == key
    assert (tmp_path / "k").stat().st_mode & 0o777 == 0o600
    (tmp_path / "short").write_bytes(b"x")
    with pytest.raises(ConfigError, match="too short"):
        load_or_create_key(tmp_path / "short")
    with pytest.raises(ConfigError, match="directory"):
        load_or_create_key(tmp_path / "missing" / "k")
