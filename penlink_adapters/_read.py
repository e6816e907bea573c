"""Reading a carrier return into the canonical schema: :func:`read_return`, :func:`scan_return`."""

from __future__ import annotations

import dataclasses
import functools
import threading
import weakref
import zoneinfo
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from pathlib import Path
from typing import Any, Final, TypeAlias, TypeVar

import polars as pl
import pyarrow as pa

from penlink_adapters._ahead import Threads, read_ahead, start
from penlink_adapters._assemble import (
    Provenance,
    RejectRow,
    complete,
    normalize,
    prepare,
    rejects_table,
    schema_for,
)
from penlink_adapters._convert import ConvertContext, convert_calls, convert_parties
from penlink_adapters._detect import (
    MIN_CONFIDENCE,
    Candidate,
    best_candidate,
    detect_source,
    score_layout,
)
from penlink_adapters._fast import iter_plain_chunks
from penlink_adapters._identify import IdentifierMemo
from penlink_adapters._layout import Layout
from penlink_adapters._registry import get_layout_or_raise
from penlink_adapters._report import ReadReport, TargetSource
from penlink_adapters._rows import CHUNK_ROWS, Chunk, RowSorter, make_plan
from penlink_adapters._source import (
    SourceInfo,
    inspect_source,
    iter_rows,
    sample_rows,
    sha256_of,
)
from tls_core.errors import ConfigError, ReadError
from tls_core.schema import REJECTS

__all__ = ["ReturnScan", "read_return", "scan_return"]

HELD_WHILE_HASHING: Final = 16
"""Chunks a two-thread scan holds, as tables, while its helper thread still hashes the file
(memory: that many chunks more, at most, early in the read: about 18 MB each for chunks of
150,000 call records, whose strings are copies). Over a 10 M-row return on the 2-core VM of
``benchmarks/RESULTS.md``, 16 held took 3-5% less time than 4 (0.2 GiB more at peak), and 32
no less than 16."""

_END: Final = object()
_R = TypeVar("_R")

_Prepared: TypeAlias = tuple[pa.Table, pl.DataFrame, Chunk]
"""A chunk's canonical table but its record ids (its hash left empty), its rejected rows, and
the chunk."""


def read_return(
    path: str | Path,
    *,
    layout: str | Path | Layout = "auto",
    source_tz: str | None = None,
    target: str | None = None,
    region: str | None = None,
    sha256: str | None = None,
    threads: Threads = 2,
) -> tuple[pa.Table, pa.Table, ReadReport]:
    """Read one carrier return file into canonical records.

    Args:
        path: The return (CSV, TXT or XLSX).
        layout: ``"auto"`` to detect, a shipped layout name, a path to a layout TOML file,
            or a :class:`~penlink_adapters.Layout`.
        source_tz: IANA zone of the file's local times; required by local-time layouts.
        target: The target identifier of the legal process, as written.
        region: Region of national numbers, overriding the layout's (ISO alpha-2).
        sha256: The file's hex SHA-256, when the caller has hashed it already: it is taken
            as the content hash (provenance, report) and the file is not hashed again. The
            caller vouches for it; nothing checks it.
        threads: ``2`` (default): the chunks ahead are cut into fields, converted to typed
            columns, their identifiers normalized and the columns cast to the schema in three
            helper threads, each step a chunk ahead of the next, while the caller's thread
            adds the record ids and rejects of the current one (on two cores, wall time
            falls towards half the CPU time); ``1``: all in the caller's thread. The result
            is the same.

    Returns:
        The canonical table (``CALL_RECORDS``, ``SUBSCRIBER_RECORDS`` or ``MISC_RECORDS``),
        the ``REJECTS`` table and the :class:`ReadReport`.

    Raises:
        DetectionError: no layout fits, or the file is a refused kind (a CUCM CMR file).
        ReadError: the layout needs a zone and none was given, or the file is malformed.
        ConfigError: an unknown layout name or zone.
    """
    scan = scan_return(
        path,
        layout=layout,
        source_tz=source_tz,
        target=target,
        region=region,
        sha256=sha256,
        threads=threads,
    )
    parts = list(scan)
    records = pa.concat_tables([p[0] for p in parts]) if parts else scan.schema.empty_table()
    rejects = pa.concat_tables([p[1] for p in parts]) if parts else REJECTS.empty_table()
    return records, rejects, scan.report()


def scan_return(
    path: str | Path,
    *,
    layout: str | Path | Layout = "auto",
    source_tz: str | None = None,
    target: str | None = None,
    region: str | None = None,
    chunk_rows: int = CHUNK_ROWS,
    sha256: str | None = None,
    threads: Threads = 2,
    memo: IdentifierMemo | None = None,
) -> ReturnScan:
    """Prepare a streaming read: iterate the result for ``(records, rejects)`` per chunk.

    Memory follows ``chunk_rows``, not the file size (with ``threads=2``, three chunks more
    are in flight, and up to :data:`HELD_WHILE_HASHING` more early on, while the file is
    hashed). Arguments are those of :func:`read_return`; the report is available from
    :meth:`ReturnScan.report` once iteration is over. ``memo``: the identifier memo to use
    (default: a new one), so that scans of several files in turn normalize the values they
    share once; one memo serves one scan at a time, and one region (:meth:`IdentifierMemo.bind`).

    Raises:
        ConfigError: ``threads`` is neither 1 nor 2 (and see :func:`read_return`).
    """
    return ReturnScan(
        path,
        layout,
        source_tz,
        target,
        region,
        chunk_rows,
        sha256=sha256,
        threads=threads,
        memo=memo,
    )


class _Turns:
    """While the file is hashed, the helper threads' steps of a scan take turns.

    The tables are handed out only once the hash is known (their provenance names it; up to
    :data:`HELD_WHILE_HASHING` chunks are made and held meanwhile), so it is the scan's critical
    path: on two cores, SHA-256 in one thread and the cut, conversion and normalization in
    three more shared the cores evenly, and the hash (0.7 s of CPU for a 10 M-row file) took
    1.05-1.4 s. One step at a time leaves it a core of its own (0.90-0.97 s; polars' own
    threads, which the conversion's queries wake, still share it); the steps and the caller's
    thread share the other until the hash is known, then run side by side again. A step
    holds its turn only while it computes, never while it waits for the step before it (the
    conversion waits for the cut without its turn), so no step waits for a turn that a
    waiting one holds.
    """

    def __init__(self, hashing: Future[str] | None) -> None:
        self._hashing = hashing
        self._lock = threading.Lock()

    def run(self, step: Callable[..., _R], *args: Any) -> _R:
        """``step(*args)``, in turn while the file is being hashed."""
        if self._hashing is None or self._hashing.done():
            return step(*args)
        with self._lock:
            return step(*args)

    def each(self, items: Iterator[_R]) -> Iterator[_R]:
        """``items``, each computed in turn while the file is being hashed."""
        while True:
            item = self.run(next, items, _END)
            if item is _END:
                return
            yield item


class ReturnScan:
    """A streaming read of one return file (see :func:`scan_return`)."""

    def __init__(
        self,
        path: str | Path,
        layout: str | Path | Layout,
        source_tz: str | None,
        target: str | None,
        region: str | None,
        chunk_rows: int,
        fast: bool = True,
        sha256: str | None = None,
        threads: Threads = 2,
        memo: IdentifierMemo | None = None,
    ) -> None:
        if threads not in (1, 2):
            raise ConfigError(
                f"threads must be 1 or 2, not {threads!r}",
                value=str(threads),
                reason="bad_threads",
                hint="pass threads=1 (caller's thread only) or threads=2 (read ahead)",
            )
        # With two threads, the file is hashed in a helper thread while it is checked and
        # read: only the tables wait for the hash (their provenance names it).
        later = sha256 is None and threads == 2
        # Set when no one will want the hash: the scan failed, was left unfinished or dropped.
        stop = threading.Event()
        hashing = start(functools.partial(sha256_of, stop=stop), path) if later else None
        self._hashing: Future[str] | None = hashing
        self._stop = stop
        try:
            self._info: SourceInfo = inspect_source(path, sha256=sha256, hash_now=not later)
            self.candidate = _choose(self._info, layout)
            self.layout: Layout = self.candidate.layout
            self.plan = make_plan(self.layout, self.candidate)
            self._zone = _check_zone(self._info, self.layout, source_tz)
        except BaseException:
            stop.set()
            raise
        self.schema: pa.Schema = schema_for(self.layout)
        # The tables are made with an empty hash, put in when known (_named). Only the
        # preparing step's thread repeats values through it (Provenance.repeated's cache).
        self._unnamed = Provenance(self._info.path, "", self.layout)
        self._provenance: Provenance | None = None  # named: made once the hash is known
        self._warnings = list(self.plan.warnings)
        if self.candidate.confidence < MIN_CONFIDENCE:
            self._warnings.append(
                f"the file does not look like layout {self.layout.label} "
                f"(confidence {self.candidate.confidence:.2f}); check `tls detect`"
            )
        if source_tz and self._zone is None:
            self._warnings.append(f"--tz {source_tz} ignored: the layout's times are UTC")
        self._given = target
        self._region = region or self.layout.region
        self._sorter = RowSorter(self.plan, chunk_rows=chunk_rows, source=self._info.path)
        self._loaded = 0
        self._rejected: Counter[str] = Counter()
        self._targets: set[str | None] = set()
        self._ctx: ConvertContext | None = None
        self._memo = IdentifierMemo() if memo is None else memo
        self._done = False
        self._fast = fast
        self._threads = threads
        weakref.finalize(self, stop.set)

    @property
    def info(self) -> SourceInfo:
        """What the first pass over the file told, its SHA-256 included.

        Raises:
            ReadError: the file could not be read to hash it.
        """
        if self._hashing is not None:  # waits for the helper thread's hash
            sha = self._hashing.result()
            if not sha:  # stopped (the read was left unfinished): hashed now, as asked
                sha = sha256_of(self._info.path)
            self._info = dataclasses.replace(self._info, sha256=sha)
            self._hashing = None
        return self._info

    def __iter__(self) -> Iterator[tuple[pa.Table, pa.Table]]:
        """Yield ``(records, rejects)`` per chunk of rows.

        A read left unfinished (an error, or the caller stopped early) stops the helper
        thread's hash of the file: :attr:`info` hashes it again if asked.
        """
        try:
            yield from self._read()
        finally:
            if not self._done:
                self._stop.set()

    def _read(self) -> Iterator[tuple[pa.Table, pa.Table]]:
        self._memo.bind(self._region)
        if self._threads == 2:  # four steps, each a chunk ahead of the next (see _ahead)
            turn = _Turns(self._hashing)
            cut = read_ahead(turn.each(self._chunks()), stage=2)
            converted = read_ahead((turn.run(self._convert, c) for c in cut), stage=1)
            staged = read_ahead(turn.run(self._prepare, *step) for step in converted)
        else:
            staged = (self._prepare(*self._convert(chunk)) for chunk in self._chunks())
        yield from self._tables(staged)
        bad: list[RejectRow] = [
            (line, "bad_row", None, d, raw) for line, d, raw in self._sorter.bad_rows
        ]
        if bad:
            self._rejected["bad_row"] += len(bad)
            yield self.schema.empty_table(), rejects_table(bad, self._named_provenance())
        self._done = True

    def _tables(self, staged: Iterator[_Prepared]) -> Iterator[tuple[pa.Table, pa.Table]]:
        """The records and rejects of each of ``staged``, in order, naming the file's hash.

        The tables are made without the hash and named once it is known (:func:`_named`: the
        one column replaced, nothing else copied). While a helper thread still hashes the
        file, up to :data:`HELD_WHILE_HASHING` chunks are made and held: the tables' thread
        works meanwhile, and so do the steps before it.
        """
        held: list[tuple[pa.Table, pa.Table]] = []
        for rest, bad, chunk in staged:
            held.append(self._assemble(rest, bad, chunk))
            hashing = self._hashing is not None and not self._hashing.done()
            if not hashing or len(held) > HELD_WHILE_HASHING:
                yield from self._with_hash(held)
                held = []
        yield from self._with_hash(held)

    def _with_hash(
        self, tables: list[tuple[pa.Table, pa.Table]]
    ) -> Iterator[tuple[pa.Table, pa.Table]]:
        """``tables`` naming the file's hash (waits for it)."""
        for records, rejects in tables:
            prov = self._named_provenance()
            yield _named(records, prov), _named(rejects, prov)

    def _named_provenance(self) -> Provenance:
        """The provenance naming the file's hash (waits for it; made once)."""
        if self._provenance is None:
            self._provenance = Provenance(self.info.path, self.info.sha256, self.layout)
        return self._provenance

    def _chunks(self) -> Iterator[Chunk]:
        info = self._info  # the hash may still be running: not needed to read
        if info.plain and self._fast and len(self.plan.delimiter.encode()) == 1:
            return iter_plain_chunks(info, self._sorter)
        return self._sorter.chunks(iter_rows(info, self.plan.delimiter))

    def _convert(self, chunk: Chunk) -> tuple[pl.DataFrame, Chunk]:
        """Typed columns of a chunk: one step of the chain that may run a chunk ahead."""
        if self._ctx is None:
            self._ctx = ConvertContext(self._zone, self._given or self._sorter.preamble_target)
        convert = convert_calls if self.layout.record_type == "call" else convert_parties
        converted = convert(
            chunk.frame, self.layout, self._ctx, trimmed=chunk.trimmed, empties=chunk.empties
        )
        return converted, chunk

    def _prepare(self, converted: pl.DataFrame, chunk: Chunk) -> _Prepared:
        """Identifiers of a chunk, then its table but the record ids.

        One step of the chain of the identifier memo: the table's casts run ahead of the
        caller's thread, the busiest.
        """
        normalized = normalize(converted, self.layout, self._region, self._memo)
        rest, bad = prepare(normalized, self._unnamed)
        return rest, bad, chunk

    def _assemble(
        self, rest: pa.Table, bad: pl.DataFrame, chunk: Chunk
    ) -> tuple[pa.Table, pa.Table]:
        """The canonical table and the rejects, their hash left empty: in the caller's thread."""
        records = complete(rest, self._unnamed)
        fields = chunk.fields_of(bad["_row"].to_list()) if len(bad) else {}
        rejects: list[RejectRow] = [
            (line, reason, column, detail, self._sorter.raw_line(fields[line]))
            for line, reason, column, detail in bad.iter_rows()
        ]
        self._loaded += records.num_rows
        self._rejected.update(r[1] for r in rejects)
        if self.layout.record_type == "call" and records.num_rows:
            self._targets.update(records.column("target_raw").unique().to_pylist())
        return records, rejects_table(rejects, self._unnamed)

    def report(self) -> ReadReport:
        """The read report.

        Raises:
            ReadError: the scan has not been iterated to the end.
        """
        if not self._done:
            raise ReadError("the scan has not been read to the end", file=self._info.path)
        target, source = self._target()
        warnings = list(self._warnings)
        if self._ctx is not None:
            warnings += [f"{n} {what}" for what, n in self._ctx.quirks.items()]
            warnings += [
                f"unknown code {code!r} in {n} rows (not in the layout's table)"
                for code, n in sorted(self._ctx.unknown_codes.items())
            ]
        skipped = self._sorter.skipped
        utc = self.layout.epoch or self.layout.zone == "utc"
        return ReadReport(
            path=self.info.path,
            sha256=self.info.sha256,
            layout=self.layout.name,
            layout_version=self.layout.version,
            record_type=self.layout.record_type,
            confidence=self.candidate.confidence,
            encoding=self.info.encoding,
            target=target,
            target_source=source,
            rows_total=self._sorter.total,
            loaded=self._loaded,
            duplicates=skipped["duplicate"],
            skipped=sum(skipped.values()),
            skipped_by=dict(sorted(skipped.items())),
            rejected=dict(sorted(self._rejected.items())),
            warnings=tuple(warnings),
            dropped_columns=self.plan.dropped,
            tz_source=self._tz_source(),
            tz_name="UTC" if utc else self._zone,
        )

    def _tz_source(self) -> str | None:
        if self.layout.epoch or self.layout.zone == "utc":
            return "carrier_utc"
        if self.layout.zone == "offset":
            return "data_offset"
        # offset_or_local: rows say which, per row; the report names the declared zone if any.
        return "declared_zone" if self._zone else None

    def _target(self) -> tuple[str | None, TargetSource | None]:
        if self._given:
            return self._given, "given"
        if self._sorter.preamble_target:
            return self._sorter.preamble_target, "preamble"
        if len(self._targets) == 1 and None not in self._targets:
            return next(iter(self._targets)), "rows"
        return None, None


def _named(table: pa.Table, prov: Provenance) -> pa.Table:
    """``table`` (records or rejects) with its ``source_sha256`` column naming ``prov``'s hash."""
    at = table.schema.get_field_index("source_sha256")
    column = prov.repeated(prov.sha256, table.num_rows)
    return table.set_column(at, table.schema.field(at), column)


def _choose(info: SourceInfo, layout: str | Path | Layout) -> Candidate:
    if isinstance(layout, str) and layout == "auto":
        return best_candidate(info, detect_source(info))
    resolved = get_layout_or_raise(layout)
    best = max(
        (score_layout(resolved, sample_rows(info, d), d) for d in resolved.delimiters),
        key=lambda c: c.confidence,
    )
    if resolved.header and best.header_index is None:
        raise ReadError(
            f"no header row of layout {resolved.label} found in the first rows",
            file=info.path,
            reason="no_header",
            hint="check the layout, or run `tls detect` on the file",
        )
    return best_candidate(info, [best]) if resolved.refuse else best


def _check_zone(info: SourceInfo, layout: Layout, source_tz: str | None) -> str | None:
    if layout.epoch or layout.zone in ("utc", "offset"):
        return None
    if source_tz is None:
        if layout.zone == "offset_or_local":
            return None
        raise ReadError(
            f"layout {layout.label} writes local times and no zone was declared",
            file=info.path,
            reason="zone_required",
            hint="pass source_tz (CLI: --tz ZONE), e.g. --tz America/Chicago",
        )
    try:
        zoneinfo.ZoneInfo(source_tz)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ConfigError(
            f"unknown time zone {source_tz!r}",
            value=source_tz,
            reason="unknown_zone",
            hint="use an IANA zone name such as America/New_York or UTC",
        ) from None
    return source_tz
