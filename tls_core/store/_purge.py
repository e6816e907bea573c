"""The retention purge: rewrite what must go, commit, then delete the old files."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date

import pyarrow as pa

from tls_core.retention import IntoCaseFacts, purgeable_batches
from tls_core.store._commit import BatchSpec, StepHook, case_rows, op_row, publish_table
from tls_core.store._delta import commit_files
from tls_core.store._files import DataFile
from tls_core.store._layout import RECORD_TABLES, STORED_SCHEMAS, Layout, TableName
from tls_core.store._lookup import links_of
from tls_core.store._snapshot import Snapshot

__all__ = ["PurgeReport", "current_links", "purge_batches"]


@dataclass(frozen=True)
class PurgeReport:
    """What a retention purge removed."""

    batch_ids: tuple[str, ...]
    """Batches whose every linked case is past retention, purged by this run (a purged batch
    is unlinked from its cases, so a later run does not list it again)."""
    records_removed: int
    """Record rows physically removed by this run."""
    records_kept: int
    """Rows of purged batches kept because a batch that stays references them."""
    rejects_removed: int
    """Reject rows removed by this run."""


def current_links(snap: Snapshot) -> dict[str, set[str]]:
    """Map every committed batch to the cases it is currently linked to."""
    return links_of(snap.batch_ids, snap.read("case_batches"))


def purge_batches(
    layout: Layout,
    snap: Snapshot,
    facts: Mapping[str, IntoCaseFacts],
    *,
    today: date,
    actor: str,
    hook: StepHook,
) -> PurgeReport:
    """Purge every batch all of whose cases are past retention (idempotent, rerunnable)."""
    import pyarrow.compute as pc

    doomed = purgeable_batches(current_links(snap), facts, today=today)
    refs = snap.read("record_refs")
    keep = pc.filter(
        refs.column("record_id"),
        pc.invert(pc.is_in(refs.column("batch_id"), pa.array(sorted(doomed), pa.string()))),
    )
    removed = kept = 0
    for table in RECORD_TABLES.values():
        r, k = _rewrite(layout, snap, table, doomed, keep)
        removed, kept = removed + r, kept + k
    hook("records_rewritten")
    rejects_removed = _drop(layout, snap, "rejects", doomed)
    _drop(layout, snap, "record_refs", doomed)
    hook("rejects_dropped")
    _mark(layout, snap, doomed, current_links(snap), actor)
    hook("purge_marked")
    return PurgeReport(tuple(sorted(doomed)), removed, kept, rejects_removed)


def _rewrite(
    layout: Layout, snap: Snapshot, table: TableName, doomed: set[str], keep: pa.ChunkedArray
) -> tuple[int, int]:
    import pyarrow.compute as pc

    old: list[DataFile] = []
    new: list[DataFile] = []
    removed = kept = 0
    for data_file in (f for f in snap.files[table] if f.owner_id in doomed):
        rows = pa.Table.from_batches(list(snap.scan([data_file])), schema=STORED_SCHEMAS[table])
        survivors = rows.filter(pc.is_in(rows.column("record_id"), keep))
        kept += len(survivors)
        if len(survivors) == len(rows):
            continue
        old.append(data_file)
        removed += len(rows) - len(survivors)
        if len(survivors):
            new.append(publish_table(layout, table, survivors, data_file.owner_id))
    if old:
        commit_files(layout, table, add=new, remove=old, metadata={"tls.op": "purge"})
    return removed, kept


def _drop(layout: Layout, snap: Snapshot, table: TableName, doomed: set[str]) -> int:
    old = [f for f in snap.files[table] if f.owner_id in doomed]
    if not old:
        return 0
    rows = sum(len(b) for b in snap.scan(old))
    commit_files(layout, table, remove=old, metadata={"tls.op": "purge"})
    return rows


def _mark(
    layout: Layout, snap: Snapshot, doomed: set[str], links: dict[str, set[str]], actor: str
) -> None:
    """Unlink each purged batch from its cases, then commit the ``purge`` marker (last)."""
    registry = snap.registry.to_pylist()
    done = {r["batch_id"] for r in registry if r["op"] == "purge"}
    commits = {r["batch_id"]: r for r in registry if r["op"] == "commit"}
    todo = sorted(doomed - done)
    if not todo:
        return
    op_id = uuid.uuid4().hex
    rows = []
    for batch_id in todo:
        c = commits[batch_id]
        spec = BatchSpec(
            c["source_sha256"], c["source_name"], tuple(c["case_ids"]), c["record_type"], actor
        )
        rows.append(op_row(op_id, "purge", batch_id, spec))
    marker = pa.concat_tables(rows)
    unlinks = pa.concat_tables(
        [case_rows(b, sorted(links[b]), linked=False, op_id=op_id) for b in todo]
    )
    if len(unlinks):
        cases_file = publish_table(layout, "case_batches", unlinks, op_id)
        commit_files(layout, "case_batches", add=[cases_file], metadata={"tls.op": "purge"})
    commit_files(layout, "registry", add=[publish_table(layout, "registry", marker, op_id)])
