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
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Final, Literal

from penlink_adapters._detect import Candidate
from penlink_adapters._layout import Layout, norm_name
from penlink_adapters._source import Row

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
    """A batch of record rows as text columns, with their line numbers and fields."""

    columns: dict[str, list[str | None]]
    rows: list[int]
    fields: list[list[str]]


@dataclass
class RowSorter:
    """Streams rows into chunks of records, counting every other row."""

    plan: Plan
    chunk_rows: int = 100_000
    total: int = 0
    skipped: Counter[str] = field(default_factory=Counter)
    bad_rows: list[tuple[int, str, str]] = field(default_factory=list)
    """(line, detail, raw line) of rows with the wrong number of fields."""
    preamble_target: str | None = None
    _seen: set[bytes] = field(default_factory=set)

    def chunks(self, rows: Iterable[Row]) -> Iterator[Chunk]:
        """Yield record chunks; skipped and malformed rows are counted on the way."""
        batch: list[Row] = []
        for position, row in enumerate(rows):
            self.total += 1
            kind = self._skip_kind(position, row[1])
            if kind is not None:
                self.skipped[kind] += 1
                continue
            if not self._fields_ok(row):
                continue
            batch.append(row)
            if len(batch) >= self.chunk_rows:
                yield self._chunk(batch)
                batch = []
        if batch:
            yield self._chunk(batch)

    def raw_line(self, fields: list[str]) -> str:
        """A row as text without its content columns (for rejects)."""
        return self.plan.delimiter.join(
            f for i, f in enumerate(fields) if i not in self.plan.content
        )

    def _skip_kind(self, position: int, fields: list[str]) -> SkipKind | None:
        plan = self.plan
        if plan.header_index is not None:
            if position < plan.header_index:
                self._scan_preamble(fields)
                return "preamble"
            if position < plan.header_index + plan.layout.header_lines:
                return "header"
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
        digest = hashlib.blake2b("\x1f".join(fields).encode(), digest_size=16).digest()
        if digest in self._seen:
            return "duplicate"
        self._seen.add(digest)
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
        layout = self.plan.layout
        n = len(fields)
        if layout.header:
            want = len(self.plan.header)
            ok = n == want or (n == want + 1 and not fields[-1].strip())
            expected = str(want)
        else:
            ok = n in layout.field_counts
            expected = "/".join(map(str, layout.field_counts))
        if not ok:
            self.bad_rows.append((line, f"{n} fields, expected {expected}", self.raw_line(fields)))
        return ok

    def _chunk(self, batch: list[Row]) -> Chunk:
        columns: dict[str, list[str | None]] = {}
        for name, i in self.plan.index.items():
            columns[name] = [f[i] if i < len(f) else None for _, f in batch]
        return Chunk(columns, [line for line, _ in batch], [f for _, f in batch])


def _folded(fields: list[str]) -> list[str]:
    return [norm_name(f) for f in fields]


def _filled(fields: list[str]) -> int:
    return sum(1 for f in fields if f.strip())
