"""The linker on the synthetic scenario: every planted link, right type, no hub links (issue 6)."""

from __future__ import annotations

import pytest
from linkkit import canonical, ingest_scenario

import penlink_adapters as pla
from tls_core.link import alerts, hubs, link
from tls_core.store import Repository


@pytest.fixture(scope="module")
def scenario(tmp_path_factory):
    folder = tmp_path_factory.mktemp("scenario")
    pla.write_scenario(folder, seed=11)
    repo = Repository.open(folder / "repo")
    truth = ingest_scenario(folder, repo)
    run = link(repo, actor="tester")
    return folder, repo, truth, run


def test_every_planted_link_is_alerted_with_its_type(scenario):
    _, _, truth, run = scenario
    by_pair = {frozenset((a.case_a, a.case_b)): a for a in run.alerts}
    for planted in truth["links"]:
        alert = by_pair[frozenset((planted["case_a"], planted["case_b"]))]
        assert planted["type"] in alert.link_types, planted
        found = {(e.identifier, e.link_type) for e in alert.evidence}
        assert (canonical(planted["identifier"]), planted["type"]) in found, planted


def test_alert_count_is_the_ground_truth_and_no_alert_goes_through_a_hub(scenario):
    _, _, truth, run = scenario
    assert len(run.alerts) == len(truth["links"])
    suppressed = {h.identifier for h in run.hubs}
    for alert in run.alerts:
        assert not {e.identifier for e in alert.evidence} & suppressed
    hub_values = {canonical(h) for h in truth["hubs"]}
    # Every planted hub that two or more cases hold is reported, never silently lost.
    assert {"+12125550199", "911"} <= suppressed <= hub_values


def test_hubs_and_alerts_read_back_the_last_run(scenario):
    _, repo, _, run = scenario
    assert alerts(repo) == list(run.alerts)
    assert hubs(repo) == list(run.hubs)
    some = run.alerts[0]
    assert alerts(repo, case=some.case_b) == [
        a for a in run.alerts if some.case_b in (a.case_a, a.case_b)
    ]


def test_incremental_runs_equal_a_full_relink(tmp_path):
    folder = tmp_path / "s"
    truth = pla.write_scenario(folder, seed=5)
    ids = [c["case_id"] for c in truth.cases]
    incremental = Repository.open(tmp_path / "inc")
    runs = []
    for part in (ids[:5], ids[5:11], ids[11:]):
        ingest_scenario(folder, incremental, only=set(part))
        before = alerts(incremental)
        runs.append(link(incremental, actor="tester"))
        changed = [a for a in alerts(incremental) if a not in before]
        assert list(runs[-1].alerts) == changed  # a full run's: every alert
    assert [r.mode for r in runs] == ["full", "incremental", "incremental"]
    assert runs[-1].links_processed == len(ids[11:])
    current = alerts(incremental)
    full = link(incremental, actor="tester", full=True)
    assert full.mode == "full"
    assert list(full.alerts) == current == alerts(incremental)
    assert full.hubs == runs[-1].hubs
    again = link(incremental, actor="tester")
    assert (again.mode, again.links_processed, again.occurrences) == ("incremental", 0, 0)
    assert (again.alerts, again.alert_count) == ((), len(current))
    assert alerts(incremental) == current
