"""One link run's computation over a snapshot: the steps, from the links to the state to keep.

:func:`compute` decides whether the run is full or incremental (from the kept
:class:`~tls_core.link._state.LinkState`), reads the per-batch aggregates of the links in
scope, creates ``identifier_cases`` (or its delta), runs the pair steps and folds the alerts,
and returns what :mod:`tls_core.link._run` keeps, judges and delivers (:class:`Computed`).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final, Literal

import pyarrow as pa
import pyarrow.compute as pc

from tls_core.link._alerts import fold_table
from tls_core.link._batches import batch_identifiers
from tls_core.link._cached_cases import CachedCases, create_identifier_weights
from tls_core.link._carry import Changes, carry_alerts
from tls_core.link._changed import run_changed_steps
from tls_core.link._identifier_cases import create_identifier_cases
from tls_core.link._pairs import (
    changed_cases_sql,
    changed_identifiers_sql,
    hubs_sql,
    kept_rows_sql,
    merge_identifier_cases_sql,
    run_pair_steps,
)
from tls_core.link._records import alerts_to_table
from tls_core.link._state import LinkState
from tls_core.link._steps import fetch_arrow, materialize, register
from tls_core.link._suppress import LinkSettings, load_suppression
from tls_core.store import Snapshot

__all__ = [
    "LINK_MEMORY",
    "SORTED_HUBS",
    "Computed",
    "LinkMode",
    "compute",
    "register_suppression",
    "removals",
    "without_calls",
]

LinkMode = Literal["full", "incremental"]
"""``full``: every record was read; ``incremental``: only records of new batch-case links."""

LINK_MEMORY: Final = "1536MB"
"""DuckDB memory limit of a link run (issue 6: <= 2 GiB peak); larger steps spill to disk."""

_LINKS_SCHEMA: Final = pa.schema([("batch_id", pa.string()), ("case_id", pa.string())])


def without_calls(snap: Snapshot) -> Snapshot:
    """``snap`` without its call-record files, for steps that never read a call record.

    Opening a view checks (hashes) every file of it first: at 50 M records that is about 3 GB
    hashed in a fresh process for nothing. A link run reads call records one by one only for
    records stored twice (``record_refs``); otherwise it reads the per-batch aggregates, which
    are built from their own batches' checked files (:func:`batch_identifiers`).
    """
    return replace(snap, files={**snap.files, "call_records": ()})


@dataclass(frozen=True)
class Computed:
    """What a run computed: the state to keep and the alerts to judge."""

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


def compute(
    snap: Snapshot, state: LinkState | None, settings: LinkSettings, spill: Path
) -> Computed:
    """Compute a run over ``snap``: incremental from ``state`` when it allows, else full.

    Raises:
        LinkError: a step failed.
        DamagedState: a kept file failed its check while read (the caller relinks fully).
    """
    removed = removals(snap)
    # Bounded memory: DuckDB's joins and aggregations spill beyond the limit.
    reads = snap if snap.files["record_refs"] else without_calls(snap)
    con = reads.connect(memory_limit=LINK_MEMORY, temp_dir=spill)
    try:
        current = _current_links(con)
        digest = register_suppression(con, settings)
        incremental = (
            state is not None
            and state.removals == removed
            and state.links <= current
            and state.snapshot_version <= snap.version
        )
        known = state.links if incremental and state is not None else frozenset()
        scope = current - known
        batches = batch_identifiers(
            snap, {b for b, _ in scope}, memory_limit=LINK_MEMORY, spill=spill / "batches"
        )
        carry = incremental and state is not None and state.settings == digest
        cached, _prior = _create_cases(  # the prior rows are kept alive while steps read them
            con, state if incremental else None, carry, scope, known, batches, settings.hub_cases
        )
        rows = cached.rows
        occurrences = int(pc.sum(rows.column("records")).as_py() or 0)
        _linked = run_pair_steps(  # kept alive while the steps read them
            con,
            hub_cases=settings.hub_cases,
            changed_only=carry,
            weights_ready=carry or not incremental,
            rows=None if incremental else rows,
        )
        changed, table = _alerts_table(con, state if carry else None, snap.version)
        # The rows to keep, as made: those of a full run, or a carrying run's delta (a run
        # re-folding every alert merged identifier_cases in DuckDB instead).
        made = rows if carry or not incremental else None
        cases, weights, hubs = _new_state(con, state if carry else None, made)
        return Computed(
            mode="incremental" if incremental else "full",
            links=current,
            removals=removed,
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


def _create_cases(
    con: Any,
    state: LinkState | None,
    carry: bool,
    scope: frozenset[tuple[str, str]],
    known: frozenset[tuple[str, str]],
    batches: Mapping[str, pa.Table],
    hub_cases: int,
) -> tuple[CachedCases, tuple[pa.Table, ...]]:
    """Create ``identifier_cases`` (and, but for a re-folding incremental run, its weights).

    ``state``: the run is incremental: its rows are ``delta_identifier_cases``; ``carry``:
    the steps of :mod:`tls_core.link._changed` make the changed identifiers' rows and weights,
    else the kept rows are merged with the delta. A full run counts the weights over its keys
    (:func:`create_identifier_weights`) and makes ``hubs``.

    Returns:
        The run's rows, and the kept tables registered in place.
    """
    if state is None:  # a full run's delta is the whole table: no copy
        cached = _delta_cases(con, scope, known, "identifier_cases", batches)
        create_identifier_weights(con, cached)
        materialize(con, "hubs", hubs_sql(), [hub_cases])
        return cached, ()
    cached = _delta_cases(con, scope, known, "delta_identifier_cases", batches)
    if carry:
        prior = _register_prior(con, state)
        run_changed_steps(con, hub_cases=hub_cases)
        return cached, prior
    rows = state.cases.read_all()
    register(con, "prior_identifier_cases", rows, copy=False)
    materialize(con, "changed_identifiers", changed_identifiers_sql())
    materialize(con, "identifier_cases", merge_identifier_cases_sql())
    return cached, (rows,)


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
SORTED_HUBS: Final = "SELECT * FROM ({hubs}) h ORDER BY cases DESC, kind, identifier"


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
            fetch_arrow(con, "hubs", SORTED_HUBS.format(hubs="SELECT * FROM hubs")),
        )
    cases = made if made is not None else fetch_arrow(con, "delta_identifier_cases", _DELTA)
    weights = fetch_arrow(con, "identifier_weights", "SELECT * FROM identifier_weights")
    hubs = fetch_arrow(con, "hubs", SORTED_HUBS.format(hubs=kept_rows_sql("hubs")))
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
) -> CachedCases:
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


def removals(snap: Snapshot) -> str:
    ops = snap.registry.column("op").to_pylist()
    ids = snap.registry.column("op_id").to_pylist()
    removed = sorted(i for o, i in zip(ops, ids, strict=True) if o in ("unlink", "purge"))
    return hashlib.sha256("\n".join(removed).encode()).hexdigest()


def register_suppression(con: Any, settings: LinkSettings) -> str:
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
