"""Alerts resting on records that were unlinked or purged are not served (retention)."""

from __future__ import annotations

from datetime import date

from linkkit import ingest_scenario

import penlink_adapters as pla
from tls_core.link import alerts, hubs, link
from tls_core.store import Repository


def _batch_of(repo: Repository, case: str) -> str:
    con = repo.snapshot().connect()
    try:
        rows = con.execute("SELECT batch_id FROM case_links WHERE case_id = $1", [case]).fetchall()
    finally:
        con.close()
    (batch,) = {r[0] for r in rows}
    return str(batch)


def test_unlinked_records_leave_the_alerts_until_the_next_run(tmp_path):
    pla.write_scenario(tmp_path, seed=3)
    repo = Repository.open(tmp_path / "repo")
    truth = ingest_scenario(tmp_path, repo)
    first = link(repo, actor="tester")
    planted = next(x for x in truth["links"] if x["type"] == "common_target")
    assert any({a.case_a, a.case_b} == {planted["case_a"], planted["case_b"]} for a in alerts(repo))
    repo.unlink(_batch_of(repo, planted["case_b"]), planted["case_b"], actor="tester")
    assert alerts(repo) == []  # the kept state predates the unlink: not served
    again = link(repo, actor="tester")
    assert again.mode == "full"
    pairs = [{a.case_a, a.case_b} for a in alerts(repo)]
    assert {planted["case_a"], planted["case_b"]} not in pairs
    assert len(pairs) == len(first.alerts) - 1


def test_a_purge_drops_the_derived_caches(tmp_path):
    pla.write_scenario(tmp_path, seed=4)
    repo = Repository.open(tmp_path / "repo")
    truth = ingest_scenario(tmp_path, repo)
    link(repo, actor="tester")
    cache = repo.root / "_tls" / "cache"
    assert (cache / "link").is_dir()
    case = truth["cases"][0]["case_id"]
    facts = {case: (date(2000, 1, 1), False, False)}  # closed long ago, no hold, not open
    report = repo.purge(facts, today=date(2030, 1, 1), actor="tester")
    assert report.batch_ids
    assert not cache.exists()  # link state and search index may hold purged values
    assert all(case not in (a.case_a, a.case_b) for a in alerts(repo))


def test_hubs_of_a_run_made_before_an_unlink_are_not_served(tmp_path):
    pla.write_scenario(tmp_path, seed=5)
    repo = Repository.open(tmp_path / "repo")
    truth = ingest_scenario(tmp_path, repo)
    link(repo, actor="tester")
    assert hubs(repo)  # the scenario plants hub numbers
    case = truth["cases"][0]["case_id"]
    repo.unlink(_batch_of(repo, case), case, actor="tester")
    assert hubs(repo) == []
    link(repo, actor="tester")
    assert hubs(repo)
    assert not list((repo.root / "_tls" / "link").glob("spill*"))  # spill directories removed
