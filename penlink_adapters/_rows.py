"""Sorting raw rows: records to convert, non-record rows to skip, malformed rows to reject.

Every row of the file lands in exactly one bucket, so that ``loaded + rejected + skipped =
rows_total`` holds per file. Skipped rows are counted by kind (:data:`SkipKind`); exact
duplicate rows (a re-export pasted twice) are skipped as ``duplicate``.
"""

from __future__ import annotations

import functools
import hashlib
import re
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Final, Literal

import numpy as np
import polars as pl

from penlink_adapters._detect import Candidate
from penlink_adapters._layout import Layout, norm_name
from penlink_adapters._source import Row

if TYPE_CHECKING:
    from penlink_adapters._line_set import LineSet

__all__ = ["CONTENT_NAMES", "Chunk", "Plan", "RowSorter", "SkipKind", "make_plan"]

SkipKind = Literal["preamble", "header", "blank", "page", "total", "duplicate"]
"""Why a row was skipped: not a record, or an exact duplicate of an earlier row."""

CONTENT_NAMES: Final = frozenset(
    norm_name(n)
    for n in (
        "message",
        "message text",
        "message body",
        "body",
        "content",
        "sms text",
        "text message",
        "msg text",
        "message content",
        "subject",
    )
)
"""Header names taken as content of communications in any layout: dropped and reported."""

_PAGE = re.compile(r"(?i)^page\s+\d+(\s*(of|/)\s*\d+)?$")
_TOTAL = re.compile(r"(?i)^(grand\s+|sub)?totals?\b")
_TARGET = re.compile(
    r"(?i)\b(?:target|msisdn|subscriber number|phone number|usage for)\b[^:#\d(]*[:#]?\s*"
    r"(\+?\(?\d[\d\-\(\) .]{6,}\d)"
)


@dataclass(frozen=True)
class Plan:
    """Where each canonical field is found in a row of this file."""

    layout: Layout
    delimiter: str
    header_index: int | None
    """0-based row index of the (first) header line; None for headerless files."""
    header: tuple[str, ...]
    index: dict[str, int]
    """Canonical field (and ``_g<i>`` call-group part) -> 0-based field index."""
    content: frozenset[int]
    """Indexes of content columns: never read, never copied into a reject."""
    warnings: tuple[str, ...]
    dropped: tuple[str, ...]
    """Names of the content columns dropped."""


def make_plan(layout: Layout, candidate: Candidate) -> Plan:
    """Map canonical fields to field indexes, and report drift and dropped content."""
    names = list(candidate.header if layout.header else layout.names)
    folded = [norm_name(n) for n in names]
    index: dict[str, int] = {}
    for fld, aliases in layout.columns.items():
        for alias in aliases:
            if norm_name(alias) in folded:
                index[fld] = folded.index(norm_name(alias))
                break
    for i, col in enumerate(layout.call_group):
        if norm_name(col) in folded:
            index[f"_g{i}"] = folded.index(norm_name(col))
    declared = {norm_name(c) for c in layout.content_columns}
    content = frozenset(i for i, f in enumerate(folded) if f in CONTENT_NAMES | declared)
    warnings = []
    if layout.header:
        warnings += [f"drift: expected column {m!r} is missing" for m in candidate.missing]
        warnings += [
            f"drift: column {u!r} is not in layout {layout.label}"
            for u in candidate.unknown
            if norm_name(u) not in CONTENT_NAMES | declared
        ]
    dropped = tuple(names[i] for i in sorted(content))
    warnings += [
        f"content column {d!r} dropped (no content of communications is kept)" for d in dropped
    ]
    if not layout.verified:
        warnings.append(f"layout {layout.label} is unverified: check the output against the return")
    return Plan(
        layout,
        candidate.delimiter,
        candidate.header_index,
        tuple(names),
        index,
        content,
        tuple(warnings),
        dropped,
    )


@dataclass
class Chunk:
    """A batch of record rows: text columns named after canonical fields, and ``_row``."""

    frame: pl.DataFrame
    fields_of: Callable[[list[int]], dict[int, list[str]]]
    """Row numbers -> the rows' fields (only called for rejected rows)."""
    trimmed: bool = False
    """True when no field has leading or trailing blanks (stripping them can be skipped)."""
    empties: Mapping[str, int] | None = None
    """Per column, how many of its values are there and empty, when the cut counted them."""


CHUNK_ROWS: Final = 150_000
"""Rows a chunk holds by default. A chunk's fixed costs (some 30 polars queries, Arrow arrays,
Python) are about 8 ms of CPU: 150,000 rows took 5-8% less time than 100,000 over a 10 M-row
return (a block of the plain path, at most 16 MiB, then holds about one chunk)."""


@dataclass
class RowSorter:
    """Streams rows into chunks of records, counting every other row."""

    plan: Plan
    chunk_rows: int = CHUNK_ROWS
    total: int = 0
    skipped: Counter[str] = field(default_factory=Counter)
    bad_rows: list[tuple[int, str, str]] = field(default_factory=list)
    """(line, detail, raw line) of rows with the wrong number of fields."""
    preamble_target: str | None = None
    source: str | None = None
    """The file's path, named by an error of the duplicate rule's line set (a failed spill)."""

    def chunks(self, rows: Iterable[Row]) -> Iterator[Chunk]:
        """Yield record chunks; skipped and malformed rows are counted on the way.

        The duplicate rule is decided for up to a chunk of candidate rows at a time, by the
        plain path's line set (:class:`~penlink_adapters._line_set.LineSet`: memory bounded
        whatever the file size) over each row's 128-bit BLAKE2b digest of its fields.
        """
        from penlink_adapters._line_set import LineSet

        seen: LineSet | None = None
        pending: list[Row] = []
        digests: list[bytes] = []
        try:
            for position, row in enumerate(rows):
                self.total += 1
                kind = self.head_kind(position, row[1]) or self.nonrecord_kind(row[1])
                if kind is not None:
                    self.skipped[kind] += 1
                    continue
                pending.append(row)
                digests.append(_digest(row[1]))
                if len(pending) >= self.chunk_rows:
                    seen = seen or LineSet(source=self.source)
                    yield from self._sorted(pending, digests, seen)
                    pending, digests = [], []
            if pending:
                seen = seen or LineSet(source=self.source)
                yield from self._sorted(pending, digests, seen)
        finally:
            if seen is not None:
                seen.close()

    def _sorted(self, rows: list[Row], digests: list[bytes], seen: LineSet) -> Iterator[Chunk]:
        """The chunk of ``rows`` that are neither repeats of earlier rows nor malformed."""
        words = np.frombuffer(b"".join(digests), dtype="<u8").reshape(-1, 2)
        fresh = seen.fresh(np.ascontiguousarray(words[:, 0]), np.ascontiguousarray(words[:, 1]))
        repeated = len(rows) - int(fresh.sum())
        if repeated:
            self.skipped["duplicate"] += repeated
        batch = [row for row, new in zip(rows, fresh.tolist(), strict=True) if new]
        batch = [row for row in batch if self._fields_ok(row)]
        if batch:
            yield self._chunk(batch)

    def raw_line(self, fields: list[str]) -> str:
        """A row as text without its content columns (for rejects)."""
        return self.plan.delimiter.join(
            f for i, f in enumerate(fields) if i not in self.plan.content
        )

    def head_kind(self, position: int, fields: list[str]) -> SkipKind | None:
        """``preamble`` or ``header`` for the rows up to the end of the header."""
        plan = self.plan
        if plan.header_index is not None:
            if position < plan.header_index:
                self._scan_preamble(fields)
                return "preamble"
            if position < plan.header_index + plan.layout.header_lines:
                return "header"
        return None

    def nonrecord_kind(self, fields: list[str]) -> SkipKind | None:
        """``blank``, repeated ``header``, ``page`` or ``total`` rows; None for a record."""
        plan = self.plan
        first = fields[0].strip() if fields else ""
        if not first:
            rest = [f for f in fields if f and not f.isspace()]
            if not rest:
                return "blank"
            first = rest[0].strip()
        if plan.header and first == plan.header[0].strip() and _folded(fields) == self._header:
            return "header"
        if _PAGE.match(first) and _filled(fields) <= 2:
            return "page"
        if _TOTAL.match(first) and _filled(fields) <= max(3, len(fields) // 2):
            return "total"
        return None

    @functools.cached_property
    def _header(self) -> list[str]:
        return _folded(list(self.plan.header))

    def _scan_preamble(self, fields: list[str]) -> None:
        if self.preamble_target is None:
            found = _TARGET.search(" ".join(fields))
            if found:
                self.preamble_target = found.group(1).strip()

    def _fields_ok(self, row: Row) -> bool:
        line, fields = row
        n = len(fields)
        if not self.count_ok(n, fields[-1] if fields else ""):
            self.bad_rows.append((line, self.count_detail(n), self.raw_line(fields)))
            return False
        return True

    def count_ok(self, n: int, last: str) -> bool:
        """Whether a row of ``n`` fields (last one ``last``) fits the header or layout."""
        if self.plan.layout.header:
            want = len(self.plan.header)
            return n == want or (n == want + 1 and not last.strip())
        return n in self.plan.layout.field_counts

    def count_detail(self, n: int) -> str:
        """The reject detail of a row of ``n`` fields."""
        if self.plan.layout.header:
            return f"{n} fields, expected {len(self.plan.header)}"
        return f"{n} fields, expected {'/'.join(map(str, self.plan.layout.field_counts))}"

    def _chunk(self, batch: list[Row]) -> Chunk:
        columns: dict[str, list[str | None]] = {}
        for name, i in self.plan.index.items():
            columns[name] = [f[i] if i < len(f) else None for _, f in batch]
        frame = pl.DataFrame(
            {**columns, "_row": [line for line, _ in batch]},
            schema={**dict.fromkeys(columns, pl.String), "_row": pl.Int64},
        )
        by_line = dict(batch)

        def fields_of(lines: list[int]) -> dict[int, list[str]]:
            return {line: by_line[line] for line in lines}

        return Chunk(frame, fields_of)


def _digest(fields: list[str]) -> bytes:
    """A row's 128-bit digest (BLAKE2b) of its fields: equal rows, equal digests."""
    return hashlib.blake2b("\x1f".join(fields).encode(), digest_size=16).digest()


def _folded(fields: list[str]) -> list[str]:
    return [norm_name(f) for f in fields]


def _filled(fields: list[str]) -> int:
    return sum(1 for f in fields if f.strip())
