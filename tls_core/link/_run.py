"""``link()``: the nightly run; ``alerts()`` and ``hubs()``: what the last run found.

A run reads only the records of batch-case links it has not processed before (its cost
follows the new batches), merges their aggregates into the kept ``identifier_cases`` state and
recomputes the small steps after it; the result equals a full relink. When records left a case
since the last run (``unlink``, ``purge``) or the state is missing, the run is a full relink.
Alerts already delivered are not delivered again unless they grew (see :func:`changes`).
"""

from __future__ import annotations

import hashlib
import shutil
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final, Literal

import pyarrow as pa

from tls_core.link._alerts import Alert, fold_alerts
from tls_core.link._identifier_cases import create_identifier_cases
from tls_core.link._pairs import merge_identifier_cases_sql, run_pair_steps
from tls_core.link._records import alerts_from_table, alerts_to_table
from tls_core.link._state import (
    Delivered,
    LinkState,
    load_delivered,
    load_state,
    lock_path,
    save_delivered,
    save_state,
)
from tls_core.link._steps import fetch_arrow, materialize, register
from tls_core.link._suppress import Hub, LinkSettings, load_suppression
from tls_core.protocols import AuditEvent, AuditSink, LinkNotice, LinkNotifier
from tls_core.store import Repository, Snapshot

__all__ = ["GROWTH_FACTOR", "LinkMode", "LinkRun", "alerts", "changes", "hubs", "link"]

LinkMode = Literal["full", "incremental"]
"""``full``: every record was read; ``incremental``: only records of new batch-case links."""

LINK_MEMORY: Final = "1536MB"
"""DuckDB memory limit of a link run (issue 6: <= 2 GiB peak); larger steps spill to disk."""

GROWTH_FACTOR: Final = 2
"""A delivered alert is delivered again (as an update) when its evidence weight reaches this
many times the weight delivered, or when it gains an identifier or a link type."""

_LINKS_SCHEMA: Final = pa.schema([("batch_id", pa.string()), ("case_id", pa.string())])


@dataclass(frozen=True)
class LinkRun:
    """What one link run did."""

    snapshot_version: int
    """Registry version of the snapshot linked."""
    mode: LinkMode
    """``full`` or ``incremental``."""
    links_processed: int
    """Batch-case links whose records were read by this run."""
    occurrences: int
    """Occurrence rows produced by this run."""
    alerts: tuple[Alert, ...]
    """Every current alert."""
    new: tuple[Alert, ...]
    """Alerts never delivered before."""
    updated: tuple[Alert, ...]
    """Alerts delivered before that grew."""
    hubs: tuple[Hub, ...]
    """Suppressed identifiers (``tls hubs``)."""
    notified: int
    """Notifications queued through the notifier."""


def link(
    repo: Repository,
    *,
    actor: str,
    notifier: LinkNotifier | None = None,
    audit: AuditSink | None = None,
    full: bool = False,
    settings: LinkSettings | None = None,
) -> LinkRun:
    """Link what is new since the last run, deliver new and grown alerts, audit the run.

    Args:
        repo: The repository.
        actor: Who runs the link (audited as ``link-run``).
        notifier: Delivers alerts to both case owners; without one nothing is marked
            delivered (a later run with a notifier delivers them).
        audit: Where the ``link-run`` event goes (``ok`` or ``failed``).
        full: Ignore the kept state and relink everything.
        settings: Suppression settings (defaults: :class:`LinkSettings`).

    Raises:
        LinkError: a step failed (names the step and its SQL).
        ConflictError: another link run held the lock for a minute.
    """
    settings = settings if settings is not None else LinkSettings()
    try:
        run = _locked_run(repo, actor, notifier, full, settings)
    except Exception:  # every failure is audited, not only the typed ones
        if audit is not None:
            audit.append(AuditEvent(actor, "link-run", "failed", criteria={"full": str(full)}))
        raise
    if audit is not None:
        audit.append(_run_event(actor, run, full))
    return run


def _run_event(actor: str, run: LinkRun, full: bool) -> AuditEvent:
    touched = sorted({c for a in (*run.new, *run.updated) for c in (a.case_a, a.case_b)})
    return AuditEvent(
        actor,
        "link-run",
        "ok",
        tuple(touched),
        object_ids={
            "snapshot_version": str(run.snapshot_version),
            "mode": run.mode,
            "alerts": str(len(run.alerts)),
            "new": str(len(run.new)),
            "updated": str(len(run.updated)),
        },
        criteria={"full": str(full)},
    )


def alerts(repo: Repository, *, case: str | None = None) -> list[Alert]:
    """Return the alerts of the last link run (all, or those involving ``case``).

    No access policy applies here; ``tls alerts`` filters by the acting user. Alerts of a run
    made before records were purged or unlinked are not served (they may rest on records that
    are gone): the result is empty until the next link run.
    """
    state = load_state(repo.root)
    if state is None or state.removals != _removals(repo.snapshot()):
        return []
    found = alerts_from_table(state.alerts)
    return [a for a in found if case is None or case in (a.case_a, a.case_b)]


def hubs(repo: Repository, *, settings: LinkSettings | None = None) -> list[Hub]:
    """Return the identifiers suppressed as hubs, from the last run's state, most cases first."""
    state = load_state(repo.root)
    snap = repo.snapshot()
    if state is None or state.removals != _removals(snap):
        return []  # no run yet, or the run predates an unlink or purge
    settings = settings if settings is not None else LinkSettings()
    spill = lock_path(repo.root).parent / f"spill-hubs-{uuid.uuid4().hex}"
    con = snap.connect(memory_limit=LINK_MEMORY, temp_dir=spill)
    try:
        register(con, "identifier_cases", state.identifier_cases)
        _register_suppression(con, settings)
        run_pair_steps(con, hub_cases=settings.hub_cases)
        return _hubs(con, settings)
    finally:
        con.close()
        shutil.rmtree(spill, ignore_errors=True)


def changes(
    current: Iterable[Alert], delivered: dict[str, Delivered]
) -> tuple[list[Alert], list[Alert]]:
    """Split alerts into ``(new, updated)``; the rest were delivered and have not grown."""
    new, updated = [], []
    for alert in current:
        before = delivered.get(alert.alert_id)
        if before is None:
            new.append(alert)
        elif not alert.signature <= before.signature or (
            alert.weight >= GROWTH_FACTOR * max(before.weight, 1)
        ):
            updated.append(alert)
    return new, updated


def _locked_run(
    repo: Repository,
    actor: str,
    notifier: LinkNotifier | None,
    full: bool,
    settings: LinkSettings,
) -> LinkRun:
    from tls_core.store._lock import commit_lock

    lock = lock_path(repo.root)
    lock.parent.mkdir(parents=True, exist_ok=True)
    with commit_lock(lock, timeout=60.0):
        snap = repo.snapshot()
        state = None if full else load_state(repo.root)
        spill = lock.parent / "spill"  # one run at a time holds the lock: a fixed name is safe
        shutil.rmtree(spill, ignore_errors=True)  # left by a killed run
        try:
            computed = _compute(snap, state, settings, spill)
        finally:
            shutil.rmtree(spill, ignore_errors=True)
        table = alerts_to_table(computed.evidence, snap.version, datetime.now(UTC))
        save_state(
            repo.root,
            LinkState(snap.version, computed.links, computed.removals, computed.cases, table),
        )
        delivered = load_delivered(repo.root)
        new, updated = changes(computed.alerts, delivered)
        try:
            notified = _deliver(notifier, actor, new, updated, delivered)
        finally:
            # What was queued is recorded even if a later notice failed: never sent twice.
            if notifier is not None:
                save_delivered(repo.root, delivered)
    return LinkRun(
        snapshot_version=snap.version,
        mode=computed.mode,
        links_processed=computed.processed,
        occurrences=computed.occurrences,
        alerts=tuple(computed.alerts),
        new=tuple(new),
        updated=tuple(updated),
        hubs=tuple(computed.hubs),
        notified=notified,
    )


@dataclass(frozen=True)
class _Computed:
    mode: LinkMode
    links: frozenset[tuple[str, str]]
    removals: str
    processed: int
    occurrences: int
    cases: pa.Table
    alerts: list[Alert]
    evidence: pa.Table
    hubs: list[Hub]


def _compute(
    snap: Snapshot, state: LinkState | None, settings: LinkSettings, spill: Path
) -> _Computed:
    removals = _removals(snap)
    # Bounded memory: DuckDB's joins and aggregations spill beyond the limit.
    con = snap.connect(memory_limit=LINK_MEMORY, temp_dir=spill)
    try:
        current = _current_links(con)
        incremental = (
            state is not None
            and state.removals == removals
            and state.links <= current
            and state.snapshot_version <= snap.version
        )
        known = state.links if incremental and state is not None else frozenset()
        scope = current - known
        if incremental and state is not None:
            occurrences = _delta_cases(con, scope, known, "delta_identifier_cases")
            register(con, "prior_identifier_cases", state.identifier_cases)
            materialize(con, "identifier_cases", merge_identifier_cases_sql())
        else:  # a full run's delta is the whole table: no copy
            occurrences = _delta_cases(con, scope, known, "identifier_cases")
        _register_suppression(con, settings)
        run_pair_steps(con, hub_cases=settings.hub_cases)
        cases = fetch_arrow(con, "identifier_cases", _SORTED_CASES)
        evidence = fetch_arrow(con, "alert_evidence", "SELECT * FROM alert_evidence")
        found, folded = fold_alerts(evidence)
        return _Computed(
            mode="incremental" if incremental else "full",
            links=current,
            removals=removals,
            processed=len(scope),
            occurrences=occurrences,
            cases=cases,
            alerts=found,
            evidence=folded,
            hubs=_hubs(con, settings),
        )
    finally:
        con.close()


_SORTED_CASES: Final = (
    "SELECT * FROM identifier_cases ORDER BY identifier, kind, case_id, role, variant"
)


def _delta_cases(
    con: Any, scope: frozenset[tuple[str, str]], known: frozenset[tuple[str, str]], name: str
) -> int:
    register(con, "case_scope", _links_table(scope))
    register(con, "case_known", _links_table(known))
    create_identifier_cases(con, name, scope="delta")
    (row,) = con.execute(f"SELECT SUM(records) FROM {name}").fetchall()
    return int(row[0] or 0)


def _links_table(links: Iterable[tuple[str, str]]) -> pa.Table:
    ordered = sorted(links)
    return pa.table(
        {"batch_id": [b for b, _ in ordered], "case_id": [c for _, c in ordered]},
        schema=_LINKS_SCHEMA,
    )


def _current_links(con: Any) -> frozenset[tuple[str, str]]:
    table = fetch_arrow(con, "case_links", "SELECT batch_id, case_id FROM case_links")
    batches = table.column("batch_id").to_pylist()
    cases = table.column("case_id").to_pylist()
    return frozenset(zip(batches, cases, strict=True))


def _removals(snap: Snapshot) -> str:
    ops = snap.registry.column("op").to_pylist()
    ids = snap.registry.column("op_id").to_pylist()
    removed = sorted(i for o, i in zip(ops, ids, strict=True) if o in ("unlink", "purge"))
    return hashlib.sha256("\n".join(removed).encode()).hexdigest()


def _register_suppression(con: Any, settings: LinkSettings) -> None:
    suppression = load_suppression(settings)
    register(con, "common_numbers", suppression.numbers)
    register(con, "common_patterns", suppression.patterns)
    register(con, "common_kinds", suppression.kinds)


def _hubs(con: Any, settings: LinkSettings) -> list[Hub]:
    table = fetch_arrow(con, "hubs", "SELECT * FROM hubs ORDER BY cases DESC, kind, identifier")
    found = []
    for row in table.to_pylist():
        detail = row["detail"]
        if row["reason"] == "learned":
            detail = f"in {row['cases']} cases (threshold {settings.hub_cases})"
        found.append(Hub(row["identifier"], row["kind"], row["reason"], detail, row["cases"]))
    return found


def _deliver(
    notifier: LinkNotifier | None,
    actor: str,
    new: list[Alert],
    updated: list[Alert],
    delivered: dict[str, Delivered],
) -> int:
    if notifier is None:
        return 0
    count = 0
    groups: tuple[tuple[Literal["new", "update"], list[Alert]], ...] = (
        ("new", new),
        ("update", updated),
    )
    for status, group in groups:
        for alert in group:
            count += notifier.notify_link(_notice(actor, alert, status))
            delivered[alert.alert_id] = Delivered(alert.signature, alert.weight)
    return count


def _notice(actor: str, alert: Alert, status: Literal["new", "update"]) -> LinkNotice:
    return LinkNotice(
        actor=actor,
        alert_id=alert.alert_id,
        case_a=alert.case_a,
        case_b=alert.case_b,
        status=status,
        link_types=alert.link_types,
        strength=alert.strength,
        identifiers=tuple((e.kind, e.identifier, e.link_type) for e in alert.evidence),
    )
