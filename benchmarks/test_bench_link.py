"""pytest-benchmark suite for the cross-case linker (not part of the default test run).

Run: .venv/bin/python -m pytest benchmarks/test_bench_link.py --benchmark-only
The scale run with the plain-DuckDB baseline is ``benchmarks.link_scale``.
"""

from __future__ import annotations

import pytest

from benchmarks.link_scale import build, case_table
from tls_core.link import create_occurrences, link
from tls_core.store import Repository


@pytest.fixture(scope="module")
def twenty_cases(tmp_path_factory):
    """20 cases x 5,000 calls: shared pool, cross-case targets, hubs (see link_scale)."""
    root = tmp_path_factory.mktemp("bench-link") / "repo"
    build(root, 20, 5_000)
    return Repository.open(root, create=False)


@pytest.fixture(scope="module")
def one_device_many_cases(tmp_path_factory):
    """One handset (and its number and contacts) in 200 cases, plus two linked cases."""
    repo = Repository.open(tmp_path_factory.mktemp("bench-hub") / "repo")
    everywhere = case_table(0, 2_000, 1)
    repo.commit_batch(
        everywhere,
        source_sha256=everywhere.column("source_sha256")[0].as_py(),
        source_name="everywhere.csv",
        case_ids=[f"H{n:03d}" for n in range(200)],
        actor="bench",
    )
    for case in (1, 2):
        table = case_table(case, 2_000, 3)
        repo.commit_batch(
            table,
            source_sha256=table.column("source_sha256")[0].as_py(),
            source_name=f"c{case}.csv",
            case_ids=[f"L{case}"],
            actor="bench",
        )
    return repo


def test_full_link_twenty_cases(benchmark, twenty_cases):
    run = benchmark.pedantic(
        lambda: link(twenty_cases, actor="bench", full=True), rounds=3, warmup_rounds=1
    )
    assert run.alerts


def test_incremental_link_nothing_new(benchmark, twenty_cases):
    link(twenty_cases, actor="bench")
    run = benchmark.pedantic(lambda: link(twenty_cases, actor="bench"), rounds=5)
    assert (run.mode, run.links_processed) == ("incremental", 0)


def test_occurrences_step_twenty_cases(benchmark, twenty_cases):
    def step() -> int:
        con = twenty_cases.snapshot().connect()
        try:
            create_occurrences(con)
            return int(con.execute("SELECT count(*) FROM occurrences").fetchall()[0][0])
        finally:
            con.close()

    assert benchmark.pedantic(step, rounds=3, warmup_rounds=1) > 100_000


def test_full_link_one_device_many_cases(benchmark, one_device_many_cases):
    run = benchmark.pedantic(
        lambda: link(one_device_many_cases, actor="bench", full=True), rounds=3, warmup_rounds=1
    )
    assert all(h.cases >= 10 for h in run.hubs)
    assert not any(a.case_a.startswith("H") and a.case_b.startswith("H") for a in run.alerts)
