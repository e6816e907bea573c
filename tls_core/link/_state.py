"""What a link run keeps for the next one, under the repository's ``_tls`` directory.

``_tls/cache/link/`` is a rebuildable cache (delete it and the next run is a full relink):
``manifest.json`` (format, snapshot version, the batch-case links processed, a digest of the
suppression settings, the digest of the delivery record the alerts were judged against, the
SHA-256 of each file), ``identifier_cases-<sha256>.arrow`` segments (the aggregate state: a
full run's rows, then each incremental run appends its delta rows, un-merged; an
incremental run reads only in part, :mod:`tls_core.link._kept_cases`),
``hubs.arrow`` and ``identifier_weights-<sha256>.arrow`` segments
(:mod:`tls_core.link._kept_weights`; an incremental run recomputes only the
identifiers it changed) and ``alerts.arrow`` (the current alerts,
:data:`tls_core.schema.LINK_ALERTS`).
``_tls/link/delivered.json`` is not a cache: it records which alerts were delivered, so
that deleting the cache never re-delivers them.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import pyarrow as pa

from tls_core.link._kept_cases import (
    MAX_SEGMENTS,
    KeptCases,
    Segment,
    read_mapped,
    replace_file,
    write_ipc,
)
from tls_core.link._kept_weights import KeptWeights
from tls_core.store._layout import Layout

__all__ = [
    "MAX_SEGMENTS",
    "Delivered",
    "KeptCases",
    "KeptWeights",
    "LinkState",
    "Segment",
    "delivered_digest",
    "load_delivered",
    "load_state",
    "lock_path",
    "mark_judged",
    "save_delivered",
    "save_state",
    "state_folder",
]

_FORMAT: Final = "4"


@dataclass(frozen=True)
class LinkState:
    """The state after a link run."""

    snapshot_version: int
    """Registry version of the snapshot linked."""
    links: frozenset[tuple[str, str]]
    """``(batch_id, case_id)`` links whose records are counted in :attr:`identifier_cases`."""
    removals: str
    """Digest of the registry's ``unlink`` and ``purge`` operations: when it changes, records
    left cases and the next run is a full relink."""
    cases: KeptCases
    """The kept ``identifier_cases`` rows (read on demand, in part)."""
    alerts: pa.Table
    """The alerts of that run (``LINK_ALERTS``)."""
    hubs: pa.Table
    """The ``hubs`` table of that run (every suppressed identifier in two or more cases)."""
    weights: KeptWeights
    """The ``identifier_weights`` of every identifier (how many cases hold it), un-merged."""
    settings: str = ""
    """Digest of the suppression settings the run used: when it changes, every alert is
    recomputed."""
    judged: str | None = None
    """Digest of ``delivered.json`` after the run delivered (:func:`mark_judged`): while the
    file is unchanged, every alert not recomputed since was judged against it already. None
    when the run had no notifier or its delivery failed."""


@dataclass(frozen=True)
class Delivered:
    """An alert as last delivered: what it listed, and how much evidence it had."""

    signature: frozenset[tuple[str, str, str]]
    """``(kind, identifier, link_type)`` of each evidence item."""
    weight: int
    """:attr:`Alert.weight` when delivered."""


def _cache(root: Path) -> Path:
    return Layout(root).cache / "link"


def _internal(root: Path) -> Path:
    return Layout(root).internal / "link"


def lock_path(root: Path) -> Path:
    """The lock file that serializes link runs."""
    return _internal(root) / "lock"


def load_state(root: Path) -> LinkState | None:
    """Return the kept state, or None when there is none or it fails its check."""
    folder = _cache(root)
    try:
        manifest = json.loads((folder / "manifest.json").read_text())
        if manifest.get("format") != _FORMAT:
            return None
        tables = {name: _read_checked(folder, name, manifest) for name in _TABLES}
        segments = tuple(Segment(str(h), int(n), int(b)) for h, n, b in manifest["segments"])
        cases = KeptCases(folder, segments)
        cases.check_sizes()  # the bytes are checked when read
        weights = KeptWeights(
            folder, tuple(Segment(str(h), int(n), int(b)) for h, n, b in manifest["weights"])
        )
        weights.check_sizes()
    except (OSError, ValueError, KeyError, TypeError, pa.ArrowException):
        return None
    return LinkState(
        snapshot_version=int(manifest["snapshot_version"]),
        links=frozenset((str(b), str(c)) for b, c in manifest["links"]),
        removals=str(manifest["removals"]),
        cases=cases,
        alerts=tables["alerts"],
        hubs=tables["hubs"],
        weights=weights,
        settings=str(manifest["settings"]),
        judged=manifest.get("judged"),
    )


def state_folder(root: Path) -> Path:
    """The directory of the kept state (created)."""
    folder = _cache(root)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def save_state(root: Path, state: LinkState) -> None:
    """Write the state: data files first, the manifest last (atomically replaced).

    The ``identifier_cases`` files of ``state.cases`` are written already
    (:meth:`KeptCases.append`).
    """
    folder = state_folder(root)
    hashes = {}
    for name in _TABLES:
        table = {"alerts": state.alerts, "hubs": state.hubs}
        hashes[name] = _write(folder / f"{name}.arrow", table[name])
    manifest = {
        "format": _FORMAT,
        "snapshot_version": state.snapshot_version,
        "links": sorted([b, c] for b, c in state.links),
        "removals": state.removals,
        "settings": state.settings,
        "judged": state.judged,
        "sha256": hashes,
        "weights": [[x.sha256, x.rows, x.size] for x in state.weights.segments],
        "segments": [[x.sha256, x.rows, x.size] for x in state.cases.segments],
    }
    replace_file(folder / "manifest.json", json.dumps(manifest).encode())
    keep = {"manifest.json", *(f"{n}.arrow" for n in _TABLES)}
    keep |= state.cases.names() | state.weights.names()
    for entry in folder.iterdir():  # files of earlier states (or formats)
        if entry.name not in keep:
            entry.unlink(missing_ok=True)


def mark_judged(root: Path, digest: str) -> None:
    """Record in the manifest that every current alert was judged against ``digest``.

    ``digest`` is :func:`delivered_digest` of the delivery record just written.
    """
    path = _cache(root) / "manifest.json"
    manifest = json.loads(path.read_text())
    manifest["judged"] = digest
    replace_file(path, json.dumps(manifest).encode())


def delivered_digest(root: Path) -> str | None:
    """SHA-256 of ``delivered.json``, or None when there is none."""
    try:
        return hashlib.sha256((_internal(root) / "delivered.json").read_bytes()).hexdigest()
    except FileNotFoundError:
        return None


def load_delivered(root: Path) -> dict[str, Delivered]:
    """Return ``{alert_id: Delivered}``."""
    path = _internal(root) / "delivered.json"
    if not path.exists():
        return {}
    data: dict[str, Any] = json.loads(path.read_text())
    return {
        key: Delivered(frozenset(tuple(s) for s in value["signature"]), int(value["weight"]))
        for key, value in data.items()
    }


def save_delivered(root: Path, delivered: dict[str, Delivered]) -> None:
    """Write the delivery record atomically."""
    folder = _internal(root)
    folder.mkdir(parents=True, exist_ok=True)
    data = {
        key: {"signature": sorted(list(s) for s in d.signature), "weight": d.weight}
        for key, d in sorted(delivered.items())
    }
    replace_file(folder / "delivered.json", json.dumps(data).encode())


_TABLES: Final = ("alerts", "hubs")


def _read_checked(folder: Path, name: str, manifest: dict[str, Any]) -> pa.Table:
    return _read(folder / f"{name}.arrow", str(manifest["sha256"][name]))


def _read(path: Path, sha256: str) -> pa.Table:
    return read_mapped(path, sha256)


def _write(path: Path, table: pa.Table) -> str:
    return write_ipc(path, table)
