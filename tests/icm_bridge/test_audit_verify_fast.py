"""The verification fast path: precomputed HMAC pads, rows SQLite cannot join exactly."""

from __future__ import annotations

import hmac
import sqlite3
from pathlib import Path

import pytest

from icm_bridge import AuditLog, create_store_engine
from icm_bridge._audit_verify import _hmac_pads
from tests.icm_bridge.conftest import Clock
from tls_core.protocols import AuditEvent


@pytest.mark.parametrize("size", [32, 63, 64, 65, 200])
def test_hmac_pads_give_hmac_sha256(size: int) -> None:
    key = bytes(range(size % 256)) * (size // 256) + bytes(range(size % 256))
    inner, outer = _hmac_pads(key)
    for message in [b"", b"0" * 64, "é\x00\x1f".encode() * 50]:
        i = inner.copy()
        i.update(message)
        o = outer.copy()
        o.update(i.digest())
        assert o.hexdigest() == hmac.digest(key, message, "sha256").hex()


def _log(db: Path) -> AuditLog:
    engine = create_store_engine(f"sqlite:///{db}")
    anchor = db.with_name("anchor")
    return AuditLog(engine, key=b"k" * 32, anchor=anchor, checkpoint_every=4, clock=Clock())


@pytest.mark.parametrize(
    ("statement", "seq"),
    [
        (None, None),
        # text past a NUL, which SQLite's printf would not see
        ("UPDATE audit_events SET actor = actor || char(0) || 'x' WHERE seq = 5", 5),
        # the same bytes stored as a BLOB instead of text
        ("UPDATE audit_events SET actor = CAST(actor AS BLOB) WHERE seq = 6", 6),
        # an integer column holding a REAL (integral REALs turn back into integers)
        ("UPDATE audit_events SET pid = pid + 0.5 WHERE seq = 7", 7),
        # the row holding a NUL, edited after its NUL
        ("UPDATE audit_events SET actor = 'nul' || char(0) || 'other' WHERE seq = 4", 4),
    ],
    ids=["clean", "after-nul", "blob", "real", "nul-row"],
)
def test_rows_sqlite_cannot_join_verify_and_tampering_is_caught(
    tmp_path: Path, statement: str | None, seq: int | None
) -> None:
    db = tmp_path / "a.sqlite"
    log = _log(db)
    log.create()
    for i in range(10):
        actor = "nul\x00actor" if i == 3 else f"user{i}"  # printf stops at NUL: Python joins it
        log.append(AuditEvent(actor, "search", "ok", ("C-1",), {}, {"q": f"a{i}"}), role="r")
    log.seal()
    log.engine.dispose()
    if statement is not None:
        raw = sqlite3.connect(db)
        raw.execute(statement)
        raw.commit()
        raw.close()
    report = _log(db).verify()
    if seq is None:
        assert report.ok
        assert report.size == 10
    else:
        assert (report.ok, report.first_bad_seq, report.reason) == (False, seq, "hash")
