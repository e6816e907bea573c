"""``link()``: the nightly run; ``alerts()`` and ``hubs()``: what the last run found.

A run reads only the records of batch-case links it has not processed before (its cost
follows the new batches), merges their aggregates into the kept ``identifier_cases`` state,
recomputes the pair steps for the identifiers whose rows changed only, and re-folds only the
case pairs they touch, carrying the other alerts over (:mod:`tls_core.link._carry`); the result
equals a full relink. When records left a case since the last run (``unlink``, ``purge``)
or the state is missing, the run is a full relink. Alerts already delivered are not delivered
again unless they grew (see :func:`changes`). The computation itself is
:func:`tls_core.link._compute.compute`; this module locks, keeps the state, judges and
delivers.
"""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tls_core.link._alerts import Alert
from tls_core.link._batches import collect_batches
from tls_core.link._compute import (
    LINK_MEMORY,
    SORTED_HUBS,
    Computed,
    LinkMode,
    compute,
    register_suppression,
    removals,
    without_calls,
)
from tls_core.link._judge import GROWTH_FACTOR, deliver, judge
from tls_core.link._kept_cases import DamagedState, KeptCases
from tls_core.link._kept_weights import KeptWeights
from tls_core.link._pairs import run_pair_steps
from tls_core.link._records import AlertRows, alerts_from_table
from tls_core.link._state import (
    LinkState,
    delivered_digest,
    load_delivered,
    load_state,
    lock_path,
    mark_judged,
    save_delivered,
    save_state,
    state_folder,
)
from tls_core.link._steps import fetch_arrow, register
from tls_core.link._suppress import Hub, HubRows, LinkSettings
from tls_core.protocols import AuditEvent, AuditSink, LinkNotifier
from tls_core.store import Repository, Snapshot

__all__ = ["GROWTH_FACTOR", "LinkMode", "LinkRun", "alerts", "hubs", "link"]


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
    alerts: AlertRows
    """The alerts this run made or changed (a full run: every alert); :func:`alerts` lists
    every current alert."""
    alert_count: int
    """How many alerts are current after the run."""
    new: AlertRows
    """Alerts never delivered before: among :attr:`alerts`, or among every current alert when
    the run delivers and the delivery record changed since the last delivering run (then
    every alert is judged again)."""
    updated: AlertRows
    """Alerts delivered before that grew (judged as :attr:`new`)."""
    hubs: HubRows
    """Suppressed identifiers (``tls hubs``), built as :class:`Hub` objects on first use."""
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
    progress: Callable[[str], None] | None = None,
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
        progress: Told the phase the run enters (``waiting for the lock``, ``linking``,
            ``saving the state``, ``delivering alerts``), e.g. for a progress display.

    Raises:
        LinkError: a step failed (names the step and its SQL).
        ConflictError: another link run held the lock for a minute.
    """
    settings = settings if settings is not None else LinkSettings()
    try:
        run = _locked_run(repo, actor, notifier, full, settings, progress or _silent)
    except Exception:  # every failure is audited, not only the typed ones
        if audit is not None:
            audit.append(AuditEvent(actor, "link-run", "failed", criteria={"full": str(full)}))
        raise
    if audit is not None:
        audit.append(_run_event(actor, run, full))
    return run


def _silent(_phase: str) -> None:
    """The progress function when nobody listens."""


def _run_event(actor: str, run: LinkRun, full: bool) -> AuditEvent:
    touched = sorted(run.new.case_ids() | run.updated.case_ids())
    return AuditEvent(
        actor,
        "link-run",
        "ok",
        tuple(touched),
        object_ids={
            "snapshot_version": str(run.snapshot_version),
            "mode": run.mode,
            "alerts": str(run.alert_count),
            "changed": str(len(run.alerts)),
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
    if state is None or state.removals != removals(repo.snapshot()):
        return []
    found = alerts_from_table(state.alerts)
    return [a for a in found if case is None or case in (a.case_a, a.case_b)]


def hubs(repo: Repository, *, settings: LinkSettings | None = None) -> list[Hub]:
    """Return the identifiers suppressed as hubs, from the last run's state, most cases first."""
    state = load_state(repo.root)
    snap = repo.snapshot()
    if state is None or state.removals != removals(snap):
        return []  # no run yet, or the run predates an unlink or purge
    settings = settings if settings is not None else LinkSettings()
    spill = lock_path(repo.root).parent / f"spill-hubs-{uuid.uuid4().hex}"
    con = without_calls(snap).connect(memory_limit=LINK_MEMORY, temp_dir=spill)
    try:
        rows = state.cases.read_all()
        register(con, "identifier_cases", rows, copy=False)
        register_suppression(con, settings)
        run_pair_steps(con, hub_cases=settings.hub_cases, rows=rows)
        return _hubs(con, settings)
    finally:
        con.close()
        shutil.rmtree(spill, ignore_errors=True)


def _locked_run(
    repo: Repository,
    actor: str,
    notifier: LinkNotifier | None,
    full: bool,
    settings: LinkSettings,
    progress: Callable[[str], None],
) -> LinkRun:
    from tls_core.store._lock import commit_lock

    lock = lock_path(repo.root)
    lock.parent.mkdir(parents=True, exist_ok=True)
    progress("waiting for the lock")
    with commit_lock(lock, timeout=60.0):
        progress("linking")
        snap = repo.snapshot()
        state = None if full else load_state(repo.root)
        spill = lock.parent / "spill"  # one run at a time holds the lock: a fixed name is safe
        try:
            computed, kept, weights = _compute_and_keep(repo.root, snap, state, settings, spill)
            collect_batches(snap)
        finally:
            shutil.rmtree(spill, ignore_errors=True)
        progress("saving the state")
        save_state(
            repo.root,
            LinkState(
                snap.version,
                computed.links,
                computed.removals,
                kept,
                computed.table,
                computed.hubs,
                weights,
                settings=computed.settings,
            ),
        )
        progress("delivering alerts")
        new, updated, notified = _judge_and_deliver(repo, state, computed, notifier, actor)
    return LinkRun(
        snapshot_version=snap.version,
        mode=computed.mode,
        links_processed=computed.processed,
        occurrences=computed.occurrences,
        alerts=AlertRows(computed.table if computed.all_alerts else computed.changed),
        alert_count=len(AlertRows(computed.table)),
        new=new,
        updated=updated,
        hubs=HubRows(computed.hubs, settings.hub_cases),
        notified=notified,
    )


def _compute_and_keep(
    root: Path, snap: Snapshot, state: LinkState | None, settings: LinkSettings, spill: Path
) -> tuple[Computed, KeptCases, KeptWeights]:
    """Compute the run; write its ``identifier_cases`` and weights rows into the kept files.

    A kept file found damaged while read (its size was right) makes the run a full relink.
    """
    for prior in (state, None):
        shutil.rmtree(spill, ignore_errors=True)  # left by a killed run, or the failed try
        try:
            computed = compute(snap, prior, settings, spill)
            folder = state_folder(root)
            if computed.appended and prior is not None:
                cases, weights = prior.cases, prior.weights
            else:
                cases, weights = KeptCases(folder, ()), KeptWeights(folder, ())
            fresh = not computed.appended
            return (
                computed,
                cases.append(computed.cases, fresh=fresh),
                weights.append(computed.weights, fresh=fresh),
            )
        except DamagedState:
            if prior is None:
                raise
    raise AssertionError("unreachable")  # pragma: no cover


def _judge_and_deliver(
    repo: Repository,
    state: LinkState | None,
    computed: Computed,
    notifier: LinkNotifier | None,
    actor: str,
) -> tuple[AlertRows, AlertRows, int]:
    """Split alerts into new and updated, deliver them, record what was delivered.

    Only the alerts this run changed are judged, unless the run delivers and the delivery
    record is not the one every kept alert was judged against (then all are).
    """
    judged = (
        state is not None
        and state.judged is not None
        and state.judged == delivered_digest(repo.root)
    )
    current = computed.table if computed.all_alerts else computed.changed
    if notifier is not None and not judged:
        current = computed.table
    delivered = load_delivered(repo.root)
    new, updated = judge(current, delivered)
    if notifier is None:
        return new, updated, 0
    try:
        notified = deliver(notifier, actor, new, updated, delivered)
    finally:
        # What was queued is recorded even if a later notice failed: never sent twice.
        save_delivered(repo.root, delivered)
    digest = delivered_digest(repo.root)
    if digest is not None:
        mark_judged(repo.root, digest)
    return new, updated, notified


def _hubs(con: Any, settings: LinkSettings) -> list[Hub]:
    sql = SORTED_HUBS.format(hubs="SELECT * FROM hubs")
    return list(HubRows(fetch_arrow(con, "hubs", sql), settings.hub_cases))
