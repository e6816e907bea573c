"""pytest-benchmark suite for the audit log (not part of the default test run).

Run: .venv/bin/python -m pytest benchmarks/test_bench_audit.py --benchmark-only
The 4-process throughput and the 1 M-event verification are in ``benchmarks.audit_scale``.
"""

from __future__ import annotations

import itertools
import os

from benchmarks.audit_scale import _setup
from icm_bridge import AuditLog, CaseStore, create_store_engine
from tls_core.protocols import AuditEvent, QueryNotice


def test_notify_query_one_event_per_call(benchmark, tmp_path):
    repo, key = tmp_path / "repo", tmp_path / "audit.key"
    _setup(repo, key, 1)
    store = CaseStore.open(repo, audit_key=key, create=False)
    counter = itertools.count()

    def one() -> int:
        i = next(counter)
        return store.notify_query(QueryNotice("searcher0", {"msisdn": f"+1{i}"}, (f"C-{i % 50}",)))

    assert benchmark.pedantic(one, rounds=500, iterations=1, warmup_rounds=20) == 1
    assert store.audit.verify().ok


def test_verify_50k_events(benchmark, tmp_path):
    engine = create_store_engine(f"sqlite:///{tmp_path / 'audit.sqlite'}")
    log = AuditLog(engine, key=os.urandom(32), anchor=tmp_path / "anchor")
    log.create()
    events = [
        (AuditEvent(f"u{i % 97}", "search", "ok", (f"C-{i % 1000}",), {}, {"q": str(i)}), "agent")
        for i in range(50_000)
    ]
    for start in range(0, len(events), 10_000):
        log.append_many(events[start : start + 10_000])
    report = benchmark.pedantic(log.verify, rounds=3, iterations=1)
    assert report.ok
    assert report.size == 50_000
