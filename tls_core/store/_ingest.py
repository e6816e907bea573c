"""``Repository.ingest``: carrier return files in, one atomic, idempotent batch per file.

For each file, in order: hash it (one streaming pass), look the hash up in the registry (an
earlier batch of the same content is a no-op, or only a case association), and only then read
it with :func:`penlink_adapters.scan_return`, streaming its chunks into
:meth:`Repository.commit_batch`. Rejected rows are spilled to a scratch file of the repository
while the records stream, so memory follows the chunk size, not the file size.

Atomicity is per file: a failing file raises a typed error naming it, after the files before
it in the same call were committed (each is its own batch); nothing of the failing file is
visible. With an :class:`~tls_core.protocols.AccessPolicy`, the ``ingest`` permission is
checked on every named case before any file is opened; with an
:class:`~tls_core.protocols.AuditSink`, each file's start and outcome are audited.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

import pyarrow as pa

from tls_core.errors import AccessDenied, ConfigError, TlsError
from tls_core.protocols import AccessPolicy, AuditEvent, AuditSink, Outcome
from tls_core.schema import REJECTS
from tls_core.store._ingest_report import (
    IngestProgress,
    IngestReport,
    IntoPaths,
    ProgressCallback,
)
from tls_core.store._layout import RECORD_TABLES, Layout, RecordType, check_case_id
from tls_core.store._lookup import Stored, StoredSources
from tls_core.store._prefetch import Prefetch
from tls_core.store._source import (
    PREFETCH,
    Hashed,
    Identity,
    NextFile,
    check_unchanged,
    hash_file,
)

if TYPE_CHECKING:
    from penlink_adapters import IdentifierMemo, ReturnScan
    from tls_core.store._repository import CommitReport, Repository

__all__ = ["ingest_files"]


@dataclass(frozen=True)
class _Options:
    case_ids: tuple[str, ...]
    actor: str
    layout: str | os.PathLike[str]
    source_tz: str | None
    target: str | None
    region: str | None
    record_type: RecordType | None
    audit: AuditSink | None
    progress: ProgressCallback | None
    call: _Call | None = None
    """What the files of the call share: the identifier memo, the next file's early read."""


def ingest_files(
    repo: Repository,
    layout: Layout,
    stored: StoredSources,
    paths: IntoPaths,
    *,
    case_ids: Iterable[str],
    actor: str,
    layout_name: str | os.PathLike[str] = "auto",
    source_tz: str | None = None,
    target: str | None = None,
    region: str | None = None,
    record_type: RecordType | None = None,
    access: AccessPolicy | None = None,
    audit: AuditSink | None = None,
    progress: ProgressCallback | None = None,
) -> list[IngestReport]:
    """Ingest ``paths`` one by one; see :meth:`Repository.ingest`."""
    opts = _options(case_ids, actor, record_type, audit, progress)
    opts = replace(opts, layout=layout_name, source_tz=source_tz, target=target, region=region)
    files = _paths(paths)
    _check_access(access, opts, files)
    call = _Call(files)
    opts = replace(opts, call=call)
    reports: list[IngestReport] = []
    try:
        for position, path in enumerate(files):
            call.position = position
            reports.append(_ingest_one(repo, layout, stored, path, opts))
    finally:
        call.close()
    return reports


class _Call:
    """What the files of one call share, read one after the other.

    One identifier memo: a return repeats its target and contacts, and so do the returns of
    one legal process, so each distinct value is normalized once per call, not once per file
    (a file of another region starts it afresh, :meth:`~penlink_adapters.IdentifierMemo.bind`).
    It is made when a first file is read, so a call whose files are all stored imports no
    adapter. And the next file's early start (:class:`~tls_core.store._source.NextFile`):
    hashed while the file before it is read, its read begun when that read ends (one at a
    time, so the memo serves one scan at a time).
    """

    def __init__(self, files: list[Path]) -> None:
        self.files = files
        self.position = 0
        self._memo: IdentifierMemo | None = None
        self._next: tuple[int, NextFile[ReturnScan]] | None = None

    def memo(self) -> IdentifierMemo:
        """The memo (made on first use)."""
        if self._memo is None:
            from penlink_adapters import IdentifierMemo

            self._memo = IdentifierMemo()
        return self._memo

    def hash_next(self, opts: _Options) -> None:
        """The current file begins: hash the next one meanwhile (its read waits)."""
        after = self.position + 1
        if after < len(self.files) and self._next is None:
            nxt = NextFile(self.files[after], lambda path, sha: _open_scan(path, sha, opts))
            self._next = (after, nxt)

    def begin_next(self) -> None:
        """The read of the current file ended: begin reading the next one (hashed meanwhile)."""
        if self._next is not None:
            self._next[1].begin()

    def take_next(self) -> NextFile[ReturnScan] | None:
        """The current file's early start, if one was begun (the caller closes it)."""
        if self._next is None or self._next[0] != self.position:
            return None
        nxt, self._next = self._next[1], None
        return nxt

    def close(self) -> None:
        """Stop an early read that no file took (a failing file ends the call)."""
        if self._next is not None:
            self._next[1].close()
            self._next = None


def _paths(paths: IntoPaths) -> list[Path]:
    if isinstance(paths, str | os.PathLike):
        return [Path(paths)]
    files = [Path(p) for p in paths]
    if not files:
        raise ConfigError("no file to ingest", reason="no_file")
    return files


def _options(
    case_ids: Iterable[str],
    actor: str,
    record_type: RecordType | None,
    audit: AuditSink | None,
    progress: ProgressCallback | None,
) -> _Options:
    cases = tuple(dict.fromkeys(check_case_id(c) for c in case_ids))
    if not cases:
        raise ConfigError("an ingest needs at least one case", reason="no_case")
    if not actor:
        raise ConfigError("an actor is required", reason="no_actor")
    if record_type is not None and record_type not in RECORD_TABLES:
        raise ConfigError(
            f"unknown record type, expected one of {sorted(RECORD_TABLES)}",
            value=str(record_type),
            reason="bad_record_type",
        )
    return _Options(cases, actor, "auto", None, None, None, record_type, audit, progress)


def _check_access(access: AccessPolicy | None, opts: _Options, paths: Sequence[Path]) -> None:
    """Every named case must allow ``ingest`` before any file is opened."""
    if access is None:
        return
    for case in opts.case_ids:
        try:
            access.check(opts.actor, "ingest", case)
        except AccessDenied:
            files = {"files": "; ".join(p.name for p in paths)}
            _audit(opts, "ingest", "denied", files)
            raise


def _audit(opts: _Options, action: str, outcome: Outcome, ids: Mapping[str, str]) -> None:
    if opts.audit is not None:
        opts.audit.append(
            AuditEvent(opts.actor, action, outcome, opts.case_ids, dict(ids), _criteria(opts))
        )


def _criteria(opts: _Options) -> dict[str, str]:
    given = {
        "layout": str(opts.layout),
        "source_tz": opts.source_tz,
        "target": opts.target,
        "region": opts.region,
        "record_type": opts.record_type,
    }
    return {k: v for k, v in given.items() if v is not None}


def _ingest_one(
    repo: Repository, layout: Layout, stored: StoredSources, path: Path, opts: _Options
) -> IngestReport:
    _audit(opts, "ingest-start", "ok", {"file": path.name})
    try:
        report = _run(repo, layout, stored, path, opts)
    except Exception as err:
        reason = err.reason if isinstance(err, TlsError) else type(err).__name__
        _audit(opts, "ingest", "failed", {"file": path.name, "error": str(reason)})
        if isinstance(err, TlsError) and err.file is None:
            err.file = str(path)
        raise
    ids = {
        "file": path.name,
        "sha256": report.sha256,
        "batch_id": report.batch_id,
        "loaded": str(report.loaded),
        "duplicates": str(report.duplicates),
        "rejected": str(sum(report.rejected.values())),
        "noop": str(report.noop).lower(),
    }
    _audit(opts, "ingest", "ok", ids)
    return report


def _run(
    repo: Repository, layout: Layout, stored: StoredSources, path: Path, opts: _Options
) -> IngestReport:
    ahead = opts.call.take_next() if opts.call is not None else None
    if opts.call is not None:
        opts.call.hash_next(opts)
    try:
        started = ahead.take(opts.progress) if ahead is not None else None
        hashed = hash_file(path, opts.progress) if started is None else started[0]
        sha, size = hashed[0], hashed[1]
        earlier = stored.find(sha, opts.record_type)
        if earlier is not None:
            report = _associate(repo, path, sha, earlier, opts)
        else:
            report = _read_and_commit(repo, layout, path, hashed, opts, started)
    finally:
        if ahead is not None:
            ahead.close()  # read to the end (nothing to stop), or not needed after all
    if opts.progress is not None:
        opts.progress(IngestProgress(str(path), "done", report.rows_total, size, size))
    return report


def _associate(
    repo: Repository, path: Path, sha: str, earlier: Stored, opts: _Options
) -> IngestReport:
    """Already stored: a no-op, or the association of the batch with the cases missing."""
    version = earlier.version
    added: tuple[str, ...] = ()
    if not set(opts.case_ids) <= earlier.cases:
        commit = repo.commit_batch(
            iter(()),
            source_sha256=sha,
            source_name=earlier.source_name,
            case_ids=opts.case_ids,
            record_type=earlier.record_type,
            actor=opts.actor,
        )
        version, added = commit.version, commit.linked_cases
    return _stored_report(path, sha, earlier.batch_id, earlier.record_type, added, version, opts)


def _stored_report(
    path: Path,
    sha: str,
    batch_id: str,
    record_type: RecordType,
    added: tuple[str, ...],
    version: int,
    opts: _Options,
) -> IngestReport:
    return IngestReport(
        file=str(path),
        sha256=sha,
        batch_id=batch_id,
        case_ids=opts.case_ids,
        linked_cases=added,
        target=opts.target,
        layout=None,
        record_type=record_type,
        rows_total=0,
        loaded=0,
        duplicates=0,
        skipped=0,
        noop=not added,
        version=version,
    )


def _read_and_commit(
    repo: Repository,
    layout: Layout,
    path: Path,
    hashed: Hashed,
    opts: _Options,
    started: tuple[Hashed, ReturnScan | None, Prefetch | None] | None = None,
) -> IngestReport:
    sha, size, lines, seen = hashed
    scan, prefetch = (None, None) if started is None else started[1:]
    if scan is None:
        scan, prefetch = _open_scan(path, sha, opts), None
    check_unchanged(path, seen)  # the adapters took ``sha`` on trust: see it still holds
    record_type = _record_type(scan, opts.record_type, path)
    feed = _Feed(scan, layout, path, (size, lines, seen), opts, prefetch)
    try:
        commit = repo.commit_batch(
            feed.records(),
            feed.rejects(),
            source_sha256=sha,
            source_name=path.name,
            case_ids=opts.case_ids,
            record_type=record_type,
            actor=opts.actor,
        )
    finally:
        feed.close()
    if not feed.finished:  # another process stored the same content meanwhile
        return _stored_report(
            path, sha, commit.batch_id, record_type, commit.linked_cases, commit.version, opts
        )
    return _read_report(path, scan, commit, opts)


def _open_scan(path: Path, sha: str, opts: _Options) -> ReturnScan:
    from penlink_adapters import scan_return

    return scan_return(
        path,
        layout=opts.layout if isinstance(opts.layout, str) else Path(opts.layout),
        source_tz=opts.source_tz,
        target=opts.target,
        region=opts.region,
        sha256=sha,
        memo=None if opts.call is None else opts.call.memo(),
    )


def _record_type(scan: ReturnScan, wanted: RecordType | None, path: Path) -> RecordType:
    own = scan.layout.record_type
    if wanted is None or wanted == own:
        return own
    if {wanted, own} == {"subscriber", "misc"}:
        return wanted  # same fields; the kind says whether the source is verified
    raise ConfigError(
        f"layout {scan.layout.name} holds {own} records, not {wanted} records",
        file=str(path),
        value=wanted,
        reason="record_type_mismatch",
        hint="omit --kind to take it from the layout, or pass --layout",
    )


def _read_report(
    path: Path, scan: ReturnScan, commit: CommitReport, opts: _Options
) -> IngestReport:
    read = scan.report()
    return IngestReport(
        file=str(path),
        sha256=read.sha256,
        batch_id=commit.batch_id,
        case_ids=opts.case_ids,
        linked_cases=commit.linked_cases,
        target=read.target,
        layout=read.layout,
        record_type=commit.record_type,
        rows_total=read.rows_total,
        loaded=commit.loaded,
        duplicates=read.duplicates + commit.duplicates,
        skipped=read.skipped - read.duplicates,
        rejected=dict(read.rejected),
        noop=commit.noop,
        version=commit.version,
        warnings=read.warnings,
    )


class _Feed:
    """Splits a scan into the record stream and the reject stream ``commit_batch`` takes.

    The commit consumes every record before it asks for the rejects, so rejects are spilled
    to an Arrow IPC file in the repository's scratch directory while the records stream. The
    scratch file is created only once the commit holds the lock (after garbage collection,
    which empties that directory); a killed process leaves it to the next collection. Once
    the file is read to its end, the next file's read (hashed meanwhile) is begun
    (:meth:`_Call.begin_next`) while the commit of this one ends.
    """

    def __init__(
        self,
        scan: ReturnScan,
        layout: Layout,
        path: Path,
        sized: tuple[int, int, Identity],
        opts: _Options,
        prefetch: Prefetch | None = None,
    ) -> None:
        self._scan = scan
        self._layout = layout
        self._path = path
        self._file = str(path)
        self._size, lines, self._seen = sized
        self._lines = max(lines, 1)
        self._opts = opts
        self._progress = opts.progress
        self._spill: Path | None = None
        self._writer: pa.ipc.RecordBatchStreamWriter | None = None
        self._prefetch = prefetch
        self.finished = False

    def records(self) -> Iterator[pa.RecordBatch]:
        """Yield the record batches of the file, spilling rejects on the way.

        The file is read one chunk ahead by a thread (:class:`~tls_core.store._prefetch.Prefetch`):
        the commit stages (encodes and writes) one chunk while the next is read and normalized.
        """
        rows = 0
        if self._prefetch is None:
            self._prefetch = Prefetch(self._scan, PREFETCH)
        for records, rejects in self._prefetch:
            if rejects.num_rows:
                self._spill_rejects(rejects)
            rows += records.num_rows + rejects.num_rows
            self._tick(rows, records, rejects)
            yield from records.to_batches()
        # Read to the end: the file must still be the one hashed, else the commit fails here,
        # before anything is published.
        check_unchanged(self._path, self._seen)
        self.finished = True
        if self._opts.call is not None:
            self._opts.call.begin_next()

    def rejects(self) -> Iterator[pa.RecordBatch]:
        """Yield the spilled rejects (call after :meth:`records` is exhausted)."""
        if self._writer is None or self._spill is None:
            return
        self._writer.close()
        self._writer = None
        with pa.ipc.open_stream(pa.memory_map(str(self._spill))) as reader:
            yield from reader

    def close(self) -> None:
        """Stop the read thread and remove the scratch file."""
        if self._prefetch is not None:
            self._prefetch.close()
        if self._writer is not None:
            self._writer.close()
        if self._spill is not None:
            self._spill.unlink(missing_ok=True)

    def _spill_rejects(self, rejects: pa.Table) -> None:
        if self._writer is None:
            scratch = self._layout.internal / "tmp"
            scratch.mkdir(parents=True, exist_ok=True)
            self._spill = scratch / f"rejects-{uuid.uuid4().hex}.arrows"
            self._writer = pa.ipc.new_stream(str(self._spill), REJECTS)
        self._writer.write_table(rejects.cast(REJECTS))

    def _tick(self, rows: int, records: pa.Table, rejects: pa.Table) -> None:
        if self._progress is None:
            return
        line = max(_max_row(records), _max_row(rejects))
        done = min(self._size, self._size * line // self._lines)
        self._progress(IngestProgress(self._file, "read", rows, done, self._size))


def _max_row(table: pa.Table) -> int:
    import pyarrow.compute as pc

    if not table.num_rows:
        return 0
    value = pc.max(table.column("source_row")).as_py()
    return int(value) if value is not None else 0
