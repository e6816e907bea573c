"""The TLS repository: open it, commit batches, read snapshots, verify, purge."""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from tls_core.errors import ConfigError, StoreError
from tls_core.protocols import AccessPolicy, AuditSink
from tls_core.retention import IntoCaseFacts
from tls_core.store._commit import (
    BatchSpec,
    CommitStep,
    IntoRecords,
    PurgeStep,
    StepHook,
    case_rows,
    commit_new_batch,
    op_row,
    publish_table,
)
from tls_core.store._delta import DeltaLogs, commit_files, create_tables
from tls_core.store._files import FileChecker
from tls_core.store._gc import GcReport, collect_garbage
from tls_core.store._ingest import ingest_files
from tls_core.store._ingest_report import IngestReport, IntoPaths, ProgressCallback
from tls_core.store._layout import (
    FORMAT_VERSION,
    RECORD_TABLES,
    Layout,
    RecordType,
    TableName,
    check_case_id,
    check_hex_id,
    check_sha256,
    resolve_root,
)
from tls_core.store._lock import commit_lock
from tls_core.store._lookup import StoredSources
from tls_core.store._purge import PurgeReport, current_links, purge_batches
from tls_core.store._record_index import RecordIdIndex
from tls_core.store._snapshot import Snapshot, take_snapshot
from tls_core.store._verify import VerifyReport, verify_repository

__all__ = ["CommitReport", "LinkReport", "Repository"]


@dataclass(frozen=True)
class CommitReport:
    """The outcome of :meth:`Repository.commit_batch`."""

    batch_id: str
    """The new batch, or the earlier batch of the same source when nothing was loaded."""
    record_type: RecordType
    """Which record table the batch is in."""
    source_sha256: str
    """SHA-256 of the source file."""
    case_ids: tuple[str, ...]
    """Cases the caller named."""
    linked_cases: tuple[str, ...]
    """Cases newly associated with the batch by this call."""
    received: int
    """Record rows received."""
    loaded: int
    """Record rows stored."""
    duplicates: int
    """Record rows not stored because an equal record (natural key) is stored or repeated."""
    rejected: int
    """Reject rows stored."""
    noop: bool
    """True when the same source was already stored for every named case: nothing changed."""
    version: int
    """Registry version after the call (the snapshot version that shows it)."""
    table_versions: Mapping[TableName, int]
    """Version of each table this call committed to."""


@dataclass(frozen=True)
class LinkReport:
    """The outcome of :meth:`Repository.unlink`."""

    batch_id: str
    """The batch."""
    case_id: str
    """The case."""
    changed: bool
    """False when the batch was not linked to the case."""
    version: int
    """Registry version after the call."""


class Repository:
    """A TLS repository directory of Delta tables (see ``docs/storage.md``).

    Open with :meth:`open`. Writers serialize on a lock file; readers take a :meth:`snapshot`.
    """

    def __init__(self, layout: Layout, *, lock_timeout: float, step_hook: StepHook | None) -> None:
        self._layout = layout
        self._lock_timeout = lock_timeout
        self._hook = step_hook
        self._checker = FileChecker(layout)
        self._index = RecordIdIndex(layout)
        self._stored = StoredSources(layout, self._checker)  # kept while the registry holds

    @classmethod
    def open(
        cls,
        path: str | os.PathLike[str],
        *,
        create: bool = True,
        lock_timeout: float = 60.0,
        step_hook: StepHook | None = None,
    ) -> Repository:
        """Open the repository at ``path``, creating it when missing and ``create`` is true.

        Args:
            path: The repository directory.
            create: Create the directory and its tables when they do not exist.
            lock_timeout: Seconds a writer waits for another before :class:`ConflictError`.
            step_hook: Called with each :data:`CommitStep` name as a commit passes it
                (for crash tests and progress).

        Raises:
            StoreError: no repository there and ``create`` is false, or a non-empty directory
                that is not a repository.
            IntegrityError: a directory of the repository is a symbolic link.
        """
        layout = resolve_root(path, create=create)
        layout.check_no_symlinks()
        if not layout.format_file.is_file():
            if not create:
                raise StoreError(
                    "not a TLS repository", file=str(layout.root), reason="no_repository"
                )
            if any(not _may_precede(p.name) for p in layout.root.iterdir()):
                raise StoreError(
                    "refusing to turn a non-empty directory into a TLS repository",
                    file=str(layout.root),
                    reason="not_empty",
                    hint="name a new or empty directory",
                )
            _initialize(layout, lock_timeout)
        found = layout.format_file.read_text().strip()
        if found != FORMAT_VERSION:
            raise StoreError(
                f"repository format {found!r}, this library reads {FORMAT_VERSION!r}",
                file=str(layout.format_file),
                reason="format_version",
            )
        return cls(layout, lock_timeout=lock_timeout, step_hook=step_hook)

    @property
    def root(self) -> Path:
        """The repository directory."""
        return self._layout.root

    def snapshot(self) -> Snapshot:
        """Return the current snapshot: registry version and the exact visible files."""
        self._layout.check_no_symlinks()
        return take_snapshot(self._layout, self._checker)

    def commit_batch(
        self,
        records: IntoRecords,
        rejects: IntoRecords | None = None,
        *,
        source_sha256: str,
        source_name: str,
        case_ids: Iterable[str],
        record_type: RecordType = "call",
        actor: str,
    ) -> CommitReport:
        """Commit one source file's canonical records (and rejects) as one atomic batch.

        Args:
            records: Canonical records (schema of ``record_type``), a table or a stream of
                record batches (committed in bounded memory).
            rejects: Rows of the ``REJECTS`` schema, if any.
            source_sha256: SHA-256 of the source file (every row must carry it).
            source_name: Display name of the source file.
            case_ids: Cases the batch belongs to (one or more).
            record_type: ``call``, ``subscriber`` or ``misc``.
            actor: Who commits.

        Returns:
            The report. The same source for the same cases is a no-op reporting the earlier
            batch; for other cases only the association is added.

        Raises:
            ConfigError: an invalid id, hash, case id or record type.
            SchemaError: a record batch does not match the canonical schema.
            ConflictError: another writer kept the lock for ``lock_timeout`` seconds.
        """
        spec = _spec(source_sha256, source_name, case_ids, record_type, actor)
        with commit_lock(self._layout.lock_file, timeout=self._lock_timeout):
            logs = DeltaLogs(self._layout)
            snap = take_snapshot(self._layout, self._checker, logs)
            earlier = _earlier_batch(snap, spec)
            if earlier is not None:
                return self._associate(snap, earlier, spec)
            snap = self._clean_snapshot(snap, logs)
            hook = self._hook or _no_hook
            batch_id, counts, versions = commit_new_batch(
                self._layout, snap, self._index, records, rejects, spec, hook, logs
            )
        return CommitReport(
            batch_id=batch_id,
            record_type=spec.record_type,
            source_sha256=spec.source_sha256,
            case_ids=spec.case_ids,
            linked_cases=spec.case_ids,
            received=counts.received,
            loaded=counts.loaded,
            duplicates=counts.received - counts.loaded,
            rejected=counts.rejected,
            noop=False,
            version=versions["registry"],
            table_versions=versions,
        )

    def ingest(
        self,
        paths: IntoPaths,
        *,
        case_ids: Iterable[str],
        actor: str,
        layout: str | os.PathLike[str] = "auto",
        source_tz: str | None = None,
        target: str | None = None,
        region: str | None = None,
        record_type: RecordType | None = None,
        access: AccessPolicy | None = None,
        audit: AuditSink | None = None,
        progress: ProgressCallback | None = None,
    ) -> list[IngestReport]:
        """Read carrier return files and commit each as one atomic, idempotent batch.

        Each file is hashed first; content already stored (same SHA-256) is a no-op, or only
        adds the case association, without being read. Otherwise it is read with
        :func:`penlink_adapters.scan_return` and streamed into :meth:`commit_batch` in
        bounded memory. Files are ingested in order, each atomically: when one fails, the
        error names it, the files before it stay committed and nothing of it is visible.

        Args:
            paths: One return file or several (CSV, TXT or XLSX).
            case_ids: Cases the records belong to (one or more).
            actor: Who ingests.
            layout: ``"auto"`` to detect, a shipped layout name or a layout TOML path.
            source_tz: IANA zone of the file's local times (local-time layouts need it).
            target: Target identifier of the legal process (None: inferred as ``tls read``).
            region: Region of national numbers, overriding the layout's (ISO alpha-2).
            record_type: ``call``, ``subscriber`` or ``misc``; None takes the layout's
                (a subscriber layout may be stored as ``misc``, for an unverified source).
            access: When given, ``actor`` needs the ``ingest`` permission on every case,
                checked before any file is opened.
            audit: When given, each file's start and outcome (ok, failed; denied) is audited.
            progress: Called with :class:`IngestProgress` events while files are hashed and
                read.

        Returns:
            One report per file, in order.

        Raises:
            AccessDenied: ``access`` denies ``ingest`` on a case (nothing is read).
            DetectionError: no layout fits a file.
            ReadError: a file cannot be read (missing zone, malformed, unreadable).
            ConfigError: an invalid case id, layout, zone or record type.
            StoreError: the commit failed (disk full, conflict, ...); nothing of it is visible.
        """
        return ingest_files(
            self,
            self._layout,
            self._stored,
            paths,
            case_ids=case_ids,
            actor=actor,
            layout_name=layout,
            source_tz=source_tz,
            target=target,
            region=region,
            record_type=record_type,
            access=access,
            audit=audit,
            progress=progress,
        )

    def unlink(self, batch_id: str, case_id: str, *, actor: str) -> LinkReport:
        """Remove the association of a batch with a case (the records stay stored).

        Raises:
            ConfigError: an invalid id, or no such committed batch.
        """
        check_hex_id(batch_id)
        check_case_id(case_id)
        with commit_lock(self._layout.lock_file, timeout=self._lock_timeout):
            snap = self._clean_snapshot()
            if batch_id not in snap.batch_ids:
                raise ConfigError(
                    "no committed batch with this id", value=batch_id, reason="no_batch"
                )
            if case_id not in current_links(snap).get(batch_id, set()):
                return LinkReport(batch_id, case_id, False, snap.version)
            spec = _registry_spec(snap, batch_id, actor)
            version = self._link_op(batch_id, (case_id,), spec, linked=False)
        return LinkReport(batch_id, case_id, True, version)

    def verify(self) -> VerifyReport:
        """Check every committed file's SHA-256, every log, symlinks and unreferenced files."""
        return verify_repository(self._layout)

    def collect_garbage(self) -> GcReport:
        """Remove what crashed commits left (uncommitted rows, unreferenced files)."""
        with commit_lock(self._layout.lock_file, timeout=self._lock_timeout):
            return collect_garbage(self._layout, take_snapshot(self._layout, self._checker))

    def purge(
        self, case_facts: Mapping[str, IntoCaseFacts], *, today: date, actor: str
    ) -> PurgeReport:
        """Physically remove the batches of cases past retention (rerunnable after a crash).

        Args:
            case_facts: ``case_id -> (closed_on, legal_hold, open)`` for the cases concerned;
                a case missing here is never purged.
            today: The date retention is evaluated on.
            actor: Who purges.
        """
        with commit_lock(self._layout.lock_file, timeout=self._lock_timeout):
            snap = self._clean_snapshot()
            report = purge_batches(
                self._layout,
                snap,
                case_facts,
                today=today,
                actor=actor,
                hook=self._hook or _no_hook,
            )
            collect_garbage(self._layout, take_snapshot(self._layout, self._checker))
            if report.batch_ids:
                # Derived caches (search index, link state) may hold purged values: drop them;
                # they are rebuilt from what remains.
                shutil.rmtree(self._layout.cache, ignore_errors=True)
        return report

    def _clean_snapshot(
        self, snap: Snapshot | None = None, logs: DeltaLogs | None = None
    ) -> Snapshot:
        snap = snap or take_snapshot(self._layout, self._checker, logs)
        report = collect_garbage(self._layout, snap, logs)
        if report.uncommitted_batches:
            snap = take_snapshot(self._layout, self._checker, logs)
        return snap

    def _associate(self, snap: Snapshot, batch_id: str, spec: BatchSpec) -> CommitReport:
        linked = current_links(snap).get(batch_id, set())
        missing = tuple(c for c in spec.case_ids if c not in linked)
        version = snap.version
        if missing:
            self._clean_snapshot(snap)
            version = self._link_op(batch_id, missing, spec, linked=True)
        return CommitReport(
            batch_id=batch_id,
            record_type=spec.record_type,
            source_sha256=spec.source_sha256,
            case_ids=spec.case_ids,
            linked_cases=missing,
            received=0,
            loaded=0,
            duplicates=0,
            rejected=0,
            noop=not missing,
            version=version,
            table_versions={},
        )

    def _link_op(
        self, batch_id: str, case_ids: tuple[str, ...], spec: BatchSpec, *, linked: bool
    ) -> int:
        op_id = uuid.uuid4().hex
        rows = case_rows(batch_id, case_ids, linked=linked, op_id=op_id)
        layout = self._layout
        commit_files(
            layout, "case_batches", add=[publish_table(layout, "case_batches", rows, op_id)]
        )
        op = "link" if linked else "unlink"
        marker = op_row(
            op_id,
            op,
            batch_id,
            BatchSpec(spec.source_sha256, spec.source_name, case_ids, spec.record_type, spec.actor),
        )
        return commit_files(
            layout, "registry", add=[publish_table(layout, "registry", marker, op_id)]
        )


_COMPANIONS = ("cases.sqlite", "audit.sqlite", "audit.key", "audit.key.anchor")
"""Files the case store (``icm_bridge``) keeps in the repository directory by default."""
_COMPANION_ENDS = ("", "-wal", "-shm", "-journal", "-writer.lock")


def _may_precede(name: str) -> bool:
    """Whether a file may already be in a directory that becomes a repository.

    Our own directories, and the embedded case and audit stores (with their SQLite journals):
    ``tls user add`` may create them before the first ``tls ingest`` creates the tables.
    """
    if name in ("_tls", "tables"):
        return True
    return any(name == c + end for c in _COMPANIONS for end in _COMPANION_ENDS)


def _no_hook(step: CommitStep | PurgeStep) -> None:
    del step


def _initialize(layout: Layout, lock_timeout: float) -> None:
    layout.internal.mkdir(exist_ok=True)
    with commit_lock(layout.lock_file, timeout=lock_timeout):
        if layout.format_file.is_file():
            return
        create_tables(layout)
        tmp = layout.internal / f"format.{uuid.uuid4().hex}"
        tmp.write_text(FORMAT_VERSION + "\n")
        os.replace(tmp, layout.format_file)


def _spec(
    source_sha256: str, source_name: str, case_ids: Iterable[str], record_type: str, actor: str
) -> BatchSpec:
    cases = tuple(dict.fromkeys(check_case_id(c) for c in case_ids))
    if not cases:
        raise ConfigError("a batch must belong to at least one case", reason="no_case")
    if record_type not in RECORD_TABLES:
        raise ConfigError(
            f"unknown record type, expected one of {sorted(RECORD_TABLES)}",
            value=str(record_type),
            reason="bad_record_type",
        )
    if not actor:
        raise ConfigError("an actor is required", reason="no_actor")
    return BatchSpec(check_sha256(source_sha256), str(source_name), cases, record_type, actor)


def _earlier_batch(snap: Snapshot, spec: BatchSpec) -> str | None:
    """The committed, not purged batch of the same source and record type, if any."""
    rows = snap.registry.to_pylist()
    purged = {r["batch_id"] for r in rows if r["op"] == "purge"}
    for row in rows:
        if (
            row["op"] == "commit"
            and row["source_sha256"] == spec.source_sha256
            and row["record_type"] == spec.record_type
            and row["batch_id"] not in purged
        ):
            return str(row["batch_id"])
    return None


def _registry_spec(snap: Snapshot, batch_id: str, actor: str) -> BatchSpec:
    for row in snap.registry.to_pylist():
        if row["op"] == "commit" and row["batch_id"] == batch_id:
            return BatchSpec(
                row["source_sha256"],
                row["source_name"],
                tuple(row["case_ids"]),
                row["record_type"],
                actor,
            )
    raise ConfigError("no committed batch with this id", value=batch_id, reason="no_batch")
