"""``tls demo``: the whole product end to end on synthetic returns (issue 7)."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from typer.testing import CliRunner

from icm_bridge import CaseStore
from tls_core.cli import app
from tls_core.link import alerts
from tls_core.store import Repository

RUNNER = CliRunner()


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    out = tmp_path_factory.mktemp("demo") / "tls-demo"
    result = RUNNER.invoke(app, ["demo", "--out", str(out), "--quiet"])
    assert result.exit_code == 0, result.output
    return out, result.output


def test_demo_alerts_every_planted_link_and_nothing_through_a_hub(demo_run):
    out, output = demo_run
    truth = json.loads((out / "returns" / "ground_truth.json").read_text())
    found = alerts(Repository.open(out / "repo", create=False))
    pairs = {(a.case_a, a.case_b): set(a.link_types) for a in found}
    for planted in truth["links"]:
        pair = tuple(sorted((planted["case_a"], planted["case_b"])))
        assert planted["type"] in pairs[pair], planted
    assert len(found) == len(truth["links"])
    hubs = {"+1" + h if len(h) == 10 else h for h in truth["hubs"]}
    for alert in found:
        assert not {e.identifier for e in alert.evidence} & hubs
    assert f"Planted links alerted with the right type: {len(truth['links'])}/" in output


def test_demo_search_notifies_the_other_owner_and_opr_search_notifies_no_one(demo_run):
    out, output = demo_run
    lines = [line for line in output.splitlines() if "owner(s) notified" in line]
    assert len(lines) == 2
    assert lines[0].rstrip().endswith("1 owner(s) notified")
    assert lines[1].rstrip().endswith("0 owner(s) notified")
    store = CaseStore.open(out / "repo", audit_key=out / "audit.key", create=False)
    try:
        queue = store.notifications("a.novak", unread_only=False)
        searched = [n for n in queue if "searched" in n.subject]
        assert len(searched) == 1  # the agent's search; the OPR search added nothing
        assert "Dana Okafor" in searched[0].subject
        assert store.verify_audit("opr.hale").ok
        exports = [r for r in store.read_audit("opr.hale") if r.action == "export"]
        assert [r.actor for r in exports] == ["a.berg"]  # the demo's report, audited
    finally:
        store.engine.dispose()
        store.audit.engine.dispose()


def test_demo_report_is_offline_and_hides_the_restricted_case(demo_run):
    out, output = demo_run
    html = (out / "report" / "report.html").read_text()
    assert (out / "report" / "link-chart.svg").is_file()
    assert not re.search(r"""(src|href|url)\s*[=(]\s*["']?\s*(https?:)?//""", html)
    texts: list[str] = []

    class Text(HTMLParser):
        def handle_data(self, data: str) -> None:
            texts.append(data)

    Text().feed(html)
    visible = " ".join(texts)
    assert "C04" in visible  # the viewer's (Tom Berg's) case
    assert "C03" in visible  # the other case of his C12's link, named with its owner
    assert "C01" not in visible  # a link between two cases that are not his: not exported
    assert "C05" not in visible  # restricted, and the viewer is not on its team
    assert "Ana Rivera" in visible  # the pointer names whom to ask
    assert str(out / "report" / "report.html") in output.replace("\n", "")


def test_demo_refuses_a_directory_it_did_not_write(tmp_path):
    (tmp_path / "keep.txt").write_text("not a demo\n")
    result = RUNNER.invoke(app, ["demo", "--out", str(tmp_path), "--quiet"])
    assert result.exit_code != 0
    assert (tmp_path / "keep.txt").read_text() == "not a demo\n"


def test_demo_rejects_an_unknown_scale(tmp_path):
    result = RUNNER.invoke(app, ["demo", "--out", str(tmp_path / "d"), "--scale", "huge"])
    assert result.exit_code != 0
    assert not (tmp_path / "d").exists()


def _report(out: Path, user: str, dest: Path, *extra: str) -> dict[str, object]:
    result = RUNNER.invoke(
        app,
        [
            "--repo",
            str(out / "repo"),
            "--as",
            user,
            "report",
            "--out",
            str(dest),
            "--json",
            *extra,
            "--audit-key",
            str(out / "audit.key"),
        ],
    )
    assert result.exit_code == 0, result.output
    payload: dict[str, object] = json.loads(result.stdout)
    return payload


def test_report_command_honours_the_policy_of_the_user_asking(demo_run, tmp_path):
    out, _ = demo_run
    agent = _report(out, "a.berg", tmp_path / "agent")
    supervisor = _report(out, "sup.rivera", tmp_path / "sup")  # his and C05's owner's supervisor
    agent_html = Path(str(agent["html"])).read_text()
    supervisor_html = Path(str(supervisor["html"])).read_text()
    assert ">C05<" not in agent_html
    assert ">C05<" in supervisor_html
    assert ">C01<" not in agent_html  # C01-C02: neither case is his to export
    assert ">C01<" in supervisor_html  # C01 belongs to a.okafor, under sup.rivera
    assert supervisor["links"] > agent["links"]
    one = _report(out, "a.berg", tmp_path / "one", "--case", "C12")
    assert one["links"] == 1  # C03-C12
    auditor = _report(out, "opr.hale", tmp_path / "opr")  # OPR reads; it exports nothing
    assert (auditor["cases"], auditor["links"]) == (0, 0)


# C05: restricted, not his to see; C04: visible to every agent, but only its owner's side exports it
@pytest.mark.parametrize("case", ["C05", "C04"])
def test_report_command_denies_a_case_the_user_may_not_export(demo_run, tmp_path, case):
    out, _ = demo_run
    result = RUNNER.invoke(
        app,
        [
            "--repo",
            str(out / "repo"),
            "--as",
            "a.novak",
            "report",
            "--case",
            case,
            "--out",
            str(tmp_path / "r"),
            "--audit-key",
            str(out / "audit.key"),
        ],
    )
    assert result.exit_code != 0
    assert not (tmp_path / "r").exists()
