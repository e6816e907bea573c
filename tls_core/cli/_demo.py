"""``tls demo``: the whole product on synthetic data, end to end, in under a minute.

Creates a repository and an embedded case store under ``--out``, the demo's fictional agents,
supervisors and auditor (:mod:`tls_core.cli._demo_cast`), one case per synthetic return (one
of them restricted); writes the synthetic returns in every shipped layout with planted links,
hubs and faults (:func:`penlink_adapters.write_scenario`); ingests them; links; prints the
alerts; runs a search that notifies another case's owner and an OPR search that notifies no
one; verifies the audit log; and writes the link-chart report.
"""

from __future__ import annotations

import json
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Final, Literal

import typer

from tls_core.cli._app import app
from tls_core.cli._demo_cast import ADMIN, OPR, PEOPLE, create_cast, owner_of
from tls_core.cli._demo_show import Shower
from tls_core.cli._report import write_user_report
from tls_core.errors import ConfigError

if TYPE_CHECKING:
    from icm_bridge import CaseStore
    from penlink_adapters import Scenario
    from tls_core.link import LinkRun
    from tls_core.store import IngestReport, Repository

__all__ = ["demo"]

Scale = Literal["small", "medium", "large"]
_CALLS: Final[dict[str, int]] = {"small": 40, "medium": 5_000, "large": 60_000}
_MARKER: Final = "tls-demo.json"
_SEARCHER: Final = "a.okafor"


@dataclass(frozen=True)
class _Paths:
    out: Path
    returns: Path
    repo: Path
    audit_key: Path
    report: Path


@app.command("demo")
def demo(
    out: Annotated[Path, typer.Option("--out", help="Demo directory (replaced if a demo).")] = Path(
        "tls-demo"
    ),
    scale: Annotated[
        str, typer.Option("--scale", help="small | medium | large (calls per case).")
    ] = "small",
    seed: Annotated[int, typer.Option("--seed", help="Seed of the synthetic returns.")] = 7,
    quiet: Annotated[bool, typer.Option("--quiet", help="No progress bars.")] = False,
) -> None:
    """Run the whole product on synthetic returns and write the link-chart report."""
    if scale not in _CALLS:
        raise ConfigError(
            "unknown --scale", value=scale, reason="bad_scale", hint="small, medium or large"
        )
    started = time.perf_counter()
    paths = _prepare(out)
    show = Shower(quiet=quiet)
    scenario = _write_returns(paths, seed, _CALLS[scale], show)
    store = _open_store(paths, [c["case_id"] for c in scenario.cases])
    try:
        _run(paths, scenario, store, show)
    finally:
        store.audit.seal()
        store.engine.dispose()
        store.audit.engine.dispose()
    show.done(paths.report / "report.html", time.perf_counter() - started)


def _run(paths: _Paths, scenario: Scenario, store: CaseStore, show: Shower) -> None:
    from tls_core.store import Repository

    repo = Repository.open(paths.repo)
    reports = _ingest(repo, paths, scenario, store, show)
    show.ingested(reports)
    run = _link(repo, store)
    show.alerts(run, _owners(scenario), scenario.links)
    _searches(repo, store, scenario, show)
    store.audit.seal()  # a signed checkpoint over everything so far
    show.audit(store.verify_audit(OPR))
    _report(repo, store, paths)


def _prepare(out: Path) -> _Paths:
    """Create the demo directory; replace it only if an earlier demo wrote it."""
    if out.exists():
        if not (out / _MARKER).is_file() and any(out.iterdir()):
            raise ConfigError(
                "refusing to write the demo into a non-empty directory",
                file=str(out),
                reason="not_empty",
                hint="name a new directory with --out",
            )
        shutil.rmtree(out)
    out.mkdir(parents=True)
    (out / _MARKER).write_text(json.dumps({"written_by": "tls demo"}) + "\n")
    return _Paths(out, out / "returns", out / "repo", out / "audit.key", out / "report")


def _write_returns(paths: _Paths, seed: int, calls: int, show: Shower) -> Scenario:
    from penlink_adapters import write_scenario

    with show.status("Writing synthetic returns in every shipped layout"):
        scenario = write_scenario(paths.returns, seed=seed, calls_per_case=calls)
    show.scenario(scenario)
    return scenario


def _open_store(paths: _Paths, case_ids: list[str]) -> CaseStore:
    from icm_bridge import CaseStore

    store = CaseStore.open(paths.repo, audit_key=paths.audit_key)
    create_cast(store, case_ids, store.today())
    return store


def _ingest(
    repo: Repository, paths: _Paths, scenario: Scenario, store: CaseStore, show: Shower
) -> list[IngestReport]:
    reports: list[IngestReport] = []
    with show.progress(len(scenario.cases)) as advance:
        for i, case in enumerate(scenario.cases):
            args: dict[str, Any] = case["read_args"]
            reports += repo.ingest(
                [paths.returns / case["file"]],
                case_ids=[case["case_id"]],
                actor=owner_of(i),
                source_tz=args.get("tz"),
                target=args.get("target"),
                access=store,
                audit=store,
            )
            advance(case["file"])
    return reports


def _link(repo: Repository, store: CaseStore) -> LinkRun:
    from tls_core.link import link

    return link(repo, actor=ADMIN, notifier=store, audit=store)


def _searches(repo: Repository, store: CaseStore, scenario: Scenario, show: Shower) -> None:
    """An agent's search notifies the other case's owner; the same search by OPR notifies none."""
    from tls_core.search import search

    planted = next(x for x in scenario.links if x["type"] == "common_target")
    other = owner_of([c["case_id"] for c in scenario.cases].index(planted["case_b"]))
    store.mark_read(other)  # start the owner's queue empty so the demo shows what is new
    for actor in (_SEARCHER, OPR):
        found = search(
            repo,
            planted["identifier"],
            actor=actor,
            access=store,
            directory=store,
            notifier=store,
            audit=store,
        )
        show.search(actor, found, other, store.notifications(other))


def _report(repo: Repository, store: CaseStore, paths: _Paths) -> None:
    viewer = "a.berg"  # owns C04, linked to the restricted C05: his report shows a pointer
    write_user_report(
        repo,
        store,
        viewer,
        paths.report,
        title=f"TLS demo: link chart as seen by {_name(viewer)}",
        synthetic=True,
    )


def _owners(scenario: Scenario) -> dict[str, str]:
    return {c["case_id"]: owner_of(i) for i, c in enumerate(scenario.cases)}


def _name(user_id: str) -> str:
    return next(p.name for p in PEOPLE if p.user_id == user_id)
