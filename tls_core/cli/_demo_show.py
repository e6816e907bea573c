"""What ``tls demo`` prints: rich tables and progress (bars off when not a terminal or quiet)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from tls_core.cli._demo_cast import PEOPLE, RESTRICTED_CASE

if TYPE_CHECKING:
    from icm_bridge import Notification, VerifyReport
    from penlink_adapters import Scenario
    from tls_core.link import LinkRun
    from tls_core.search import SearchResult
    from tls_core.store import IngestReport

__all__ = ["Shower"]


class Shower:
    """Prints each step of the demo on one console."""

    def __init__(self, *, quiet: bool) -> None:
        self.console = Console(highlight=False)
        self.bars = not quiet and self.console.is_terminal

    def status(self, text: str) -> Any:
        """A spinner while ``text`` runs (nothing when bars are off)."""
        return self.console.status(text) if self.bars else nullcontext()

    def scenario(self, scenario: Scenario) -> None:
        """Say what was written."""
        calls = sum(1 for c in scenario.cases if c["case_id"][0] not in "SM")
        self.console.print(
            f"[bold]1.[/] Wrote {len(scenario.cases)} synthetic returns ({calls} call-record "
            f"layouts, a subscriber return, a seized phone book) with {len(scenario.links)} "
            f"planted links, {len(scenario.hubs)} hub numbers and faults, to {scenario.folder}"
        )

    @contextmanager
    def progress(self, total: int) -> Iterator[Callable[[str], None]]:
        """Yield ``advance(name)`` for each file ingested, drawing a bar when allowed."""
        if not self.bars:
            yield lambda name: None
            return
        columns = (
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
        )
        with Progress(*columns, console=self.console, transient=True) as bar:
            task = bar.add_task("Ingesting", total=total)
            yield lambda name: bar.update(task, advance=1, description=f"Ingested {name}")

    def ingested(self, reports: Sequence[IngestReport]) -> None:
        """A table of the ingest reports."""
        table = Table(title="2. Ingest (read, normalize, quality filtration, commit)")
        for col in ("file", "case", "layout", "loaded", "dup", "rejected"):
            table.add_column(col, justify="left" if col in ("file", "case", "layout") else "right")
        rejected: Counter[str] = Counter()
        for r in reports:
            rejected.update(r.rejected)
            table.add_row(
                Path(r.file).name,
                ",".join(r.case_ids),
                r.layout or "",
                str(r.loaded),
                str(r.duplicates),
                str(sum(r.rejected.values())),
            )
        self.console.print(table)
        total = sum(r.loaded for r in reports)
        reasons = ", ".join(f"{k} {v}" for k, v in sorted(rejected.items()))
        self.console.print(
            f"   {total} records stored; {sum(rejected.values())} rows quarantined with a "
            f"reason code ({reasons or 'none'}); duplicates not stored twice."
        )

    def alerts(
        self, run: LinkRun, owners: Mapping[str, str], planted: list[dict[str, str]]
    ) -> None:
        """The alert table, the hubs, and the planted links found."""
        table = Table(title=f"3. Link run ({run.mode}): {len(run.alerts)} cross-case alerts")
        for col in ("cases", "owners", "link types", "shared identifiers", "strength"):
            table.add_column(col)
        for alert in run.alerts:
            names = " / ".join(_owner(owners, c) for c in (alert.case_a, alert.case_b))
            shared = ", ".join(sorted({e.identifier for e in alert.evidence}))
            table.add_row(
                f"{alert.case_a} - {alert.case_b}",
                names,
                ", ".join(alert.link_types),
                shared,
                f"{alert.strength:.2f}",
            )
        self.console.print(table)
        hubs = ", ".join(f"{h.identifier} ({h.reason}, {h.cases} cases)" for h in run.hubs)
        self.console.print(f"   Suppressed hubs (tls hubs): {hubs or 'none'}")
        found = {(a.case_a, a.case_b, t) for a in run.alerts for t in a.link_types}
        hits = sum(1 for p in planted if (*sorted((p["case_a"], p["case_b"])), p["type"]) in found)
        self.console.print(
            f"   Planted links alerted with the right type: {hits}/{len(planted)}; "
            f"{run.notified} notifications queued to case owners."
        )

    def search(
        self, actor: str, found: SearchResult, owner: str, queue: Sequence[Notification]
    ) -> None:
        """One search, and the other owner's notification queue after it."""
        cases = ", ".join(f"{h.case_number} ({h.records} records)" for h in found.cases)
        who = "OPR auditor " + actor if actor.startswith("opr.") else "agent " + actor
        self.console.print(
            f"[bold]4.[/] Search by {who} for {found.query!r} -> {found.canonical}: {cases}; "
            f"{found.notified} owner(s) notified"
        )
        for hit in found.restricted:
            self.console.print(f"   restricted: {hit.message}")
        subjects = "; ".join(n.subject for n in queue) or "empty"
        self.console.print(f"   {owner}'s unread queue: {len(queue)} ({subjects})")

    def audit(self, report: VerifyReport) -> None:
        """The audit verification."""
        state = "verified" if report.ok else f"BROKEN at {report.first_bad_seq}: {report.reason}"
        self.console.print(
            f"[bold]5.[/] Audit log: {report.size} events, {report.checkpoints} signed "
            f"checkpoints, {state}"
        )

    def done(self, report: Path, seconds: float) -> None:
        """Where the report is."""
        self.console.print(
            f"[bold]6.[/] Report: {report} (case {RESTRICTED_CASE} is restricted: others see a "
            f"pointer). Done in {seconds:.1f} s."
        )


def _owner(owners: Mapping[str, str], case: str) -> str:
    if case == RESTRICTED_CASE:
        return "restricted"
    user = owners.get(case)
    return next((p.name for p in PEOPLE if p.user_id == user), "?")
