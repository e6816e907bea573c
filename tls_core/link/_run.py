"""``link()``: the nightly run; ``alerts()`` and ``hubs()``: what the last run found.

A run reads only the records of batch-case links it has not processed before (its cost
follows the new batches), merges their aggregates into the kept ``identifier_cases`` state,
recomputes the pair steps for the identifiers whose rows changed only, and re-folds only the
case pairs they touch, carrying the other alerts over (:mod:`tls_core.link._carry`); the result
equals a full relink. When records left a case
since the last run (``unlink``, ``purge``) or the state is missing, the run is a full relink.
Alerts already delivered are not delivered again unless they grew (see :func:`changes`).
"""

from __future__ import annotations

import hashlib
import json
import shutil
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final, Literal

import pyarrow as pa
import pyarrow.compute as pc

from tls_core.link._alerts import Alert, fold_table
from tls_core.link._batches import batch_identifiers, collect_batches
from tls_core.link._carry import Changes, carry_alerts
from tls_core.link._changed import run_changed_steps
from tls_core.link._identifier_cases import create_identifier_cases
from tls_core.link._judge import GROWTH_FACTOR, deliver, judge
from tls_core.link._kept_cases import DamagedState, KeptCases
from tls_core.link._kept_weights import KeptWeights
from tls_core.link._pairs import (
    changed_cases_sql,
    changed_identifiers_sql,
    kept_rows_sql,
    merge_identifier_cases_sql,
    run_pair_steps,
)
from tls_core.link._records import AlertRows, alerts_from_table, alerts_to_table
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
from tls_core.link._steps import fetch_arrow, materialize, register
from tls_core.link._suppress import Hub, HubRows, LinkSettings, load_suppression
from tls_core.protocols import AuditEvent, AuditSink, LinkNotifier
from tls_core.store import Repository, Snapshot

__all__ = ["GROWTH_FACTOR", "LinkMode", "LinkRun", "alerts", "hubs", "link"]

LinkMode = Literal["full", "incremental"]
"""``full``: every record was read; ``incremental``: only records of new batch-case links."""

LINK_MEMORY: Final = "1536MB"
"""DuckDB memory limit of a link run (issue 6: <= 2 GiB peak); larger steps spill to disk."""

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
    con = _without_calls(snap).connect(memory_limit=LINK_MEMORY, temp_dir=spill)
    try:
        rows = state.cases.read_all()
        register(con, "identifier_cases", rows, copy=False)
        _register_suppression(con, settings)
        run_pair_steps(con, hub_cases=settings.hub_cases, rows=rows)
        return _hubs(con, settings)
    finally:
        con.close()
        shutil.rmtree(spill, ignore_errors=True)


def _without_calls(snap: Snapshot) -> Snapshot:
    """``snap`` without its call-record files, for steps that never read a call record.

    Opening a view checks (hashes) every file of it first: at 50 M records that is about 3 GB
    hashed in a fresh process for nothing. A link run reads call records one by one only for
    records stored twice (``record_refs``); otherwise it reads the per-batch aggregates, which
    are built from their own batches' checked files (:func:`batch_identifiers`).
    """
    return replace(snap, files={**snap.files, "call_records": ()})


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
) -> tuple[_Computed, KeptCases, KeptWeights]:
    """Compute the run; write its ``identifier_cases`` and weights rows into the kept files.

    A kept file found damaged while read (its size was right) makes the run a full relink.
    """
    for prior in (state, None):
        shutil.rmtree(spill, ignore_errors=True)  # left by a killed run, or the failed try
        try:
            computed = _compute(snap, prior, settings, spill)
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
    computed: _Computed,
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


@dataclass(frozen=True)
class _Computed:
    mode: LinkMode
    links: frozenset[tuple[str, str]]
    removals: str
    settings: str
    processed: int
    occurrences: int
    cases: pa.Table
    """``identifier_cases`` rows to keep: all of them, or (:attr:`appended`) the delta."""
    appended: bool
    """:attr:`cases` are to be appended to the kept rows (an incremental run's delta)."""
    weights: pa.Table
    """``identifier_weights`` rows to keep: all, or (:attr:`appended`) the changed ones."""
    changed: pa.Table
    """``LINK_ALERTS`` rows of the alerts made or changed (unused when :attr:`all_alerts`)."""
    all_alerts: bool
    table: pa.Table
    hubs: pa.Table


def _compute(
    snap: Snapshot, state: LinkState | None, settings: LinkSettings, spill: Path
) -> _Computed:
    removals = _removals(snap)
    # Bounded memory: DuckDB's joins and aggregations spill beyond the limit.
    reads = snap if snap.files["record_refs"] else _without_calls(snap)
    con = reads.connect(memory_limit=LINK_MEMORY, temp_dir=spill)
    try:
        current = _current_links(con)
        digest = _register_suppression(con, settings)
        incremental = (
            state is not None
            and state.removals == removals
            and state.links <= current
            and state.snapshot_version <= snap.version
        )
        known = state.links if incremental and state is not None else frozenset()
        scope = current - known
        batches = batch_identifiers(
            snap, {b for b, _ in scope}, memory_limit=LINK_MEMORY, spill=spill / "batches"
        )
        carry = incremental and state is not None and state.settings == digest
        if incremental and state is not None:
            rows = _delta_cases(con, scope, known, "delta_identifier_cases", batches)
            if carry:
                prior = _register_prior(con, state)  # kept alive while the steps read it
                run_changed_steps(con, hub_cases=settings.hub_cases)
            else:
                prior = (state.cases.read_all(),)
                register(con, "prior_identifier_cases", prior[0], copy=False)
                materialize(con, "changed_identifiers", changed_identifiers_sql())
                materialize(con, "identifier_cases", merge_identifier_cases_sql())
        else:  # a full run's delta is the whole table: no copy
            rows = _delta_cases(con, scope, known, "identifier_cases", batches)
        occurrences = int(pc.sum(rows.column("records")).as_py() or 0)
        _linked = run_pair_steps(  # kept alive while the steps read them
            con,
            hub_cases=settings.hub_cases,
            changed_only=carry,
            weights_ready=carry,
            rows=None if incremental else rows,
        )
        changed, table = _alerts_table(con, state if carry else None, snap.version)
        # The rows to keep, as made: those of a full run, or a carrying run's delta (a run
        # re-folding every alert merged identifier_cases in DuckDB instead).
        made = rows if carry or not incremental else None
        cases, weights, hubs = _new_state(con, state if carry else None, made)
        return _Computed(
            mode="incremental" if incremental else "full",
            links=current,
            removals=removals,
            settings=digest,
            processed=len(scope),
            occurrences=occurrences,
            cases=cases,
            appended=carry,
            weights=weights,
            changed=changed,
            all_alerts=not carry,
            table=table,
            hubs=hubs,
        )
    finally:
        con.close()


def _alerts_table(con: Any, state: LinkState | None, version: int) -> tuple[pa.Table, pa.Table]:
    """Rows of the alerts made or changed, and of every alert (``state``: carry its alerts)."""
    evidence = fetch_arrow(con, "alert_evidence", "SELECT * FROM alert_evidence")
    created = datetime.now(UTC)
    if state is None:
        table = alerts_to_table(fold_table(evidence), version, created)
        return table, table
    materialize(con, "changed_cases", changed_cases_sql())
    changes = Changes(
        identifiers=fetch_arrow(con, "changed_identifiers", "SELECT * FROM changed_identifiers"),
        cases=fetch_arrow(con, "changed_cases", "SELECT * FROM changed_cases"),
        hubs=fetch_arrow(con, "hubs", "SELECT identifier, kind FROM hubs"),
    )
    carried = carry_alerts(state.alerts, changes, evidence, version, created)
    return carried.changed, carried.table


_ALL_CASES: Final = "SELECT * FROM identifier_cases"  # any order: every reader aggregates
_DELTA: Final = "SELECT * FROM delta_identifier_cases"
_SORTED_HUBS: Final = "SELECT * FROM ({hubs}) h ORDER BY cases DESC, kind, identifier"


def _new_state(
    con: Any, state: LinkState | None, made: pa.Table | None
) -> tuple[pa.Table, pa.Table, pa.Table]:
    """``identifier_cases``, ``identifier_weights`` and ``hubs`` to keep.

    ``made``: the rows to keep when the run made them as Arrow columns (a full run's
    ``identifier_cases``, a carrying run's ``delta_identifier_cases``), else ``None``.

    ``state``: the run saw the changed identifiers only (:mod:`tls_core.link._changed`); its
    delta rows are to be appended to the kept ``identifier_cases`` (un-merged: every reader
    sums them), and so are the changed identifiers' weights (a reader takes the largest); their
    hub rows replace the kept ones.
    """
    if state is None:
        cases = made if made is not None else fetch_arrow(con, "identifier_cases", _ALL_CASES)
        weights = fetch_arrow(con, "identifier_weights", "SELECT * FROM identifier_weights")
        return (
            cases,
            weights,
            fetch_arrow(con, "hubs", _SORTED_HUBS.format(hubs="SELECT * FROM hubs")),
        )
    cases = made if made is not None else fetch_arrow(con, "delta_identifier_cases", _DELTA)
    weights = fetch_arrow(con, "identifier_weights", "SELECT * FROM identifier_weights")
    hubs = fetch_arrow(con, "hubs", _SORTED_HUBS.format(hubs=kept_rows_sql("hubs")))
    return cases, weights, hubs


def _register_prior(con: Any, state: LinkState) -> tuple[pa.Table, ...]:
    """Register the kept rows an incremental run may need (supersets); return them.

    ``prior_identifier_cases`` and ``prior_identifier_weights``: the rows of the delta's
    identifiers only (:meth:`KeptCases.read_changed`); ``prior_hubs``: every hub.
    """
    sql = "SELECT DISTINCT identifier, kind FROM delta_identifier_cases"
    changed = fetch_arrow(con, "delta_identifier_cases", sql)
    sql = "SELECT DISTINCT case_id FROM delta_identifier_cases"
    cases = fetch_arrow(con, "delta_identifier_cases", sql).column(0).combine_chunks()
    identifiers = pc.unique(changed.column("identifier"))
    tables = {
        "prior_identifier_cases": state.cases.read_changed(changed, cases, state.hubs),
        "prior_identifier_weights": state.weights.read(identifiers),
        "prior_hubs": state.hubs,
    }
    for name, table in tables.items():
        register(con, name, table, copy=False)
    return tuple(tables.values())


def _delta_cases(
    con: Any,
    scope: frozenset[tuple[str, str]],
    known: frozenset[tuple[str, str]],
    name: str,
    batches: Mapping[str, pa.Table],
) -> pa.Table:
    """Create step ``name`` (``identifier_cases`` or its delta); return its rows."""
    register(con, "case_scope", _links_table(scope))
    register(con, "case_known", _links_table(known))
    return create_identifier_cases(con, name, batches, scope="delta")


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


def _register_suppression(con: Any, settings: LinkSettings) -> str:
    """Register the suppression tables; return a digest of them and the learned threshold."""
    suppression = load_suppression(settings)
    tables = {
        "common_numbers": suppression.numbers,
        "common_patterns": suppression.patterns,
        "common_kinds": suppression.kinds,
    }
    for name, table in tables.items():
        register(con, name, table)
    content = {name: table.to_pylist() for name, table in tables.items()}
    content["hub_cases"] = [{"value": settings.hub_cases}]
    return hashlib.sha256(json.dumps(content, sort_keys=True).encode()).hexdigest()


def _hubs(con: Any, settings: LinkSettings) -> list[Hub]:
    sql = _SORTED_HUBS.format(hubs="SELECT * FROM hubs")
    return list(HubRows(fetch_arrow(con, "hubs", sql), settings.hub_cases))
