"""Garbage collection: what a crashed commit left behind, and files no log references."""

from __future__ import annotations

import shutil
from collections.abc import Mapping
from dataclasses import dataclass

from tls_core.store._delta import commit_files, list_files
from tls_core.store._layout import TABLES, Layout, TableName, is_store_file_name
from tls_core.store._snapshot import Snapshot

__all__ = ["GcReport", "collect_garbage", "unreferenced_files"]


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


def collect_garbage(layout: Layout, snap: Snapshot) -> GcReport:
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
            commit_files(layout, table, remove=stale, metadata={"tls.gc": "uncommitted"})
    orphans, _ = unreferenced_files(layout, active)
    for rel in orphans:
        (layout.root / rel).unlink(missing_ok=True)
    for scratch in (layout.staging, layout.internal / "tmp"):
        if scratch.exists():
            shutil.rmtree(scratch)
    return GcReport(tuple(sorted(owners)), tuple(orphans))
