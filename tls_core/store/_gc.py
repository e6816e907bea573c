"""Garbage collection: what a crashed commit left behind, and files no log references."""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from tls_core.store._delta import DeltaLogs, commit_files, list_files
from tls_core.store._layout import TABLES, Layout, TableName, is_store_file_name
from tls_core.store._snapshot import Snapshot

__all__ = ["REGISTRY_COMPACT_AT", "GcReport", "collect_garbage", "unreferenced_files"]

REGISTRY_COMPACT_AT: Final = 64
"""Registry files that trigger a compaction into one file."""


@dataclass(frozen=True)
class GcReport:
    """What garbage collection removed."""

    uncommitted_batches: tuple[str, ...]
    """Owners (batch or operation ids) whose rows were committed to a table without a marker."""
    deleted_files: tuple[str, ...]
    """Store files deleted because no log references them (repository-relative paths)."""


def unreferenced_files(
    layout: Layout, active: Mapping[TableName, frozenset[str]] | None = None
) -> tuple[list[str], list[str]]:
    """Return ``(store files, foreign files)`` present in table directories but in no log.

    Store files are orphans of crashed commits or files a rewrite removed; foreign files are
    anything the store never writes. Neither is ever read.

    Args:
        layout: The repository.
        active: Names of the files each log references (listed afresh when None).
    """
    orphans: list[str] = []
    foreign: list[str] = []
    for table in TABLES:
        if active is None:
            names = frozenset(f.name for f in list_files(layout, table)[1])
        else:
            names = active[table]
        for entry in sorted(layout.table(table).iterdir()):
            if entry.name == "_delta_log" or entry.name in names:
                continue
            rel = str(entry.relative_to(layout.root))
            ours = is_store_file_name(entry.name) and entry.is_file() and not entry.is_symlink()
            (orphans if ours else foreign).append(rel)
    return orphans, foreign


def collect_garbage(layout: Layout, snap: Snapshot, logs: DeltaLogs | None = None) -> GcReport:
    """Remove uncommitted rows from the logs, then delete unreferenced store files.

    Must run under the commit lock: a commit in progress looks exactly like a crashed one.
    Foreign files are left where they are (they are never read; ``verify`` reports them).
    """
    owners: set[str] = set()
    active: dict[TableName, frozenset[str]] = {}
    for table in TABLES:
        stale = snap.uncommitted(table)
        active[table] = snap.listed_names(table) - {f.name for f in stale}
        if stale:
            owners.update(f.owner_id for f in stale)
            meta = {"tls.gc": "uncommitted"}
            commit_files(layout, table, remove=stale, metadata=meta, logs=logs)
    orphans, _ = unreferenced_files(layout, active)
    for rel in orphans:
        (layout.root / rel).unlink(missing_ok=True)
    for scratch in (layout.staging, layout.internal / "tmp"):
        if scratch.exists():
            shutil.rmtree(scratch)
    _compact_registry(layout, snap, logs)
    return GcReport(tuple(sorted(owners)), tuple(orphans))


def _compact_registry(layout: Layout, snap: Snapshot, logs: DeltaLogs | None) -> None:
    """Rewrite the registry as one file once it has many, so a snapshot reads few files.

    One Delta commit removes the old files and adds the new one: readers see the same rows
    before and after. A reader that listed the old files just before finds one missing and
    takes its snapshot again (see :func:`take_snapshot`).
    """
    from tls_core.store._commit import publish_table

    old = snap.files["registry"]
    if len(old) < REGISTRY_COMPACT_AT:
        return
    merged = publish_table(layout, "registry", snap.registry, uuid.uuid4().hex)
    meta = {"tls.op": "compact"}
    commit_files(layout, "registry", add=[merged], remove=old, metadata=meta, logs=logs)
    for data_file in old:
        (layout.table("registry") / data_file.name).unlink(missing_ok=True)
