"""Smoke test of the scale suite (benchmarks/scale.py) on a tiny size: every measure of ours
runs (in-process here, to stay short) and lands in the section; a failing child process is
recorded, not raised.

No timing is asserted. pandas and Splink (extra ``bench``) are not needed: their baselines
are switched off here.
"""

from __future__ import annotations

from benchmarks import scale


def test_tiny_run_reports_every_measure(tmp_path):
    body = scale.main(
        ["--sizes", "3k", "--repeat", "1", "--cases", "4", "--files", "2", "--lookups", "3",
         "--no-naive", "--no-splink", "--no-write", "--quiet", "--in-process",
         "--scratch", str(tmp_path)]
    )  # fmt: skip
    assert "### 3,000 call records" in body
    for label in ("`Repository.ingest`", "`link(repo, full=True)`", "plain DuckDB untyped",
                  "`link(repo)` incremental", "`search()` typical"):  # fmt: skip
        row = next(line for line in body.splitlines() if line.startswith(f"| {label}"))
        assert row.endswith("| 1 |"), row  # one good round, no error
    assert "3,000 rows loaded, 0 rejected" in body
    assert "| ingest >= 1.5 M rows/s at 10 M (5) | 3,000 |" in body


def test_failing_child_is_recorded(tmp_path):
    result = scale.run_child("link_duckdb", {"root": str(tmp_path / "missing")}, cap=60)
    assert set(result) == {"error"}
    assert result["error"]


def test_sizes_parse():
    assert [scale.parse_size(s) for s in ("100k", "1M", "10M", "2500")] == [
        100_000,
        1_000_000,
        10_000_000,
        2_500,
    ]


def test_interrupted_data_build_resumes(tmp_path):
    from benchmarks import _scale_data as data
    from tls_core.store import Repository

    plan = data.make_plan(600, 3, seed=5)
    root = tmp_path / f"repo-{plan.records}-{plan.cases}-{plan.seed}"
    first = data.Plan(
        plan.records, 1, plan.seed, plan.first_case, plan.sizes[:1], plan.partners[:1]
    )
    data.commit_plan(root, first)  # a build stopped after its first case
    assert data.cached_repo(tmp_path, plan) == root
    registry = Repository.open(root).snapshot().read("registry")
    shas = registry.column("source_sha256").to_pylist()
    assert sorted(shas) == sorted(data.source_sha(plan, c) for c in range(plan.cases))
    assert root.with_suffix(".done").exists()
