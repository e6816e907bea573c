"""What :meth:`Repository.ingest` reports: per-file reports and progress events."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, TypeAlias

from tls_core.store._layout import RecordType

__all__ = ["IngestPhase", "IngestProgress", "IngestReport", "IntoPaths", "ProgressCallback"]

IngestPhase = Literal["hash", "read", "done"]
"""Where an ingest of one file is: ``hash`` (the SHA-256 pass), ``read`` (parsing and
staging), ``done`` (committed, or found already stored)."""

IntoPaths: TypeAlias = "str | os.PathLike[str] | Iterable[str | os.PathLike[str]]"
"""One path or several."""


@dataclass(frozen=True)
class IngestProgress:
    """Progress of the ingest of one file (for progress bars)."""

    file: str
    """The file."""
    phase: IngestPhase
    """What is being done."""
    rows_read: int
    """Record and reject rows read so far."""
    bytes_done: int
    """Bytes hashed (``hash``), or an estimate of bytes read from the line reached (``read``)."""
    bytes_total: int
    """Size of the file."""


ProgressCallback = Callable[[IngestProgress], None]
"""Receives :class:`IngestProgress` events; must be quick and must not raise."""


@dataclass(frozen=True)
class IngestReport:
    """The outcome of ingesting one file (``tls ingest --json`` prints :meth:`to_json`).

    For a file that was read, ``loaded + duplicates + skipped + sum(rejected) == rows_total``.
    A file already stored is not read: its counts are zero and ``noop`` (or only the new case
    association) says what happened.
    """

    file: str
    """The file as given."""
    sha256: str
    """SHA-256 of its bytes."""
    batch_id: str
    """The batch holding its records (the earlier batch when it was already stored)."""
    case_ids: tuple[str, ...]
    """Cases named by the caller."""
    linked_cases: tuple[str, ...]
    """Cases newly associated with the batch by this call."""
    target: str | None
    """Target identifier used: given, or inferred as ``tls read`` does (None if unknown)."""
    layout: str | None
    """Layout name (None when the file was already stored and so not read)."""
    record_type: RecordType
    """Which record table holds the batch."""
    rows_total: int
    """Rows in the file (0 when not read)."""
    loaded: int
    """Records stored by this call."""
    duplicates: int
    """Exact duplicate rows of the file, plus records equal on their natural key to one
    already stored or repeated in the file (not stored twice)."""
    skipped: int
    """Non-record rows: preamble, headers, blank, page and total lines."""
    rejected: Mapping[str, int] = field(default_factory=dict)
    """Rejected rows by reason code (stored in the rejects table)."""
    noop: bool = False
    """True when the same content was already stored for every named case."""
    version: int = 0
    """Registry version after this file (the snapshot version that shows it)."""
    warnings: tuple[str, ...] = ()
    """Warnings of the read (drift, dropped content columns, unknown codes)."""

    def to_json(self) -> dict[str, Any]:
        """The ``tls ingest --json`` object of this file."""
        return {
            "file": self.file,
            "sha256": self.sha256,
            "batch_id": self.batch_id,
            "case_ids": list(self.case_ids),
            "target": self.target,
            "layout": self.layout,
            "record_type": self.record_type,
            "loaded": self.loaded,
            "duplicates": self.duplicates,
            "skipped": self.skipped,
            "rejected": dict(self.rejected),
            "noop": self.noop,
            "version": self.version,
        }
