"""Layout detection: fingerprint a file's header (or content) against every layout.

Never the file name, never positions alone: a headered layout is scored on the header names it
requires and on how much of the header it knows; a headerless one on its field counts and on
content probes (is field 1 an Asterisk ``"Name" <number>`` caller id?).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from penlink_adapters._layout import Layout, norm_name
from penlink_adapters._registry import builtin_layouts
from penlink_adapters._source import Row, SourceInfo, inspect_source, sample_rows
from tls_core.errors import DetectionError

__all__ = [
    "MIN_CONFIDENCE",
    "Candidate",
    "best_candidate",
    "detect",
    "detect_source",
    "score_layout",
]

MIN_CONFIDENCE: Final = 0.6
"""Below this confidence a candidate is not taken as the file's layout."""

_TYPE_LINE = re.compile(r"^(INTEGER|VARCHAR\(\d+\)|UNIQUEIDENTIFIER|TEXT|BIGINT|CHAR\(\d+\))$")


@dataclass(frozen=True)
class Candidate:
    """How well one layout fits a file, and why."""

    layout: Layout
    """The layout scored."""
    confidence: float
    """0 (nothing fits) to 1 (every required and every present column known)."""
    reasons: tuple[str, ...]
    """Human-readable evidence for and against."""
    delimiter: str
    """The delimiter that fit best."""
    header_index: int | None
    """Headered layouts: 0-based index, among the first rows, of the header row."""
    header: tuple[str, ...]
    """The header as written (headered layouts), or the layout's names."""
    missing: tuple[str, ...]
    """Layout columns absent from the header (drift or another layout)."""
    unknown: tuple[str, ...]
    """Header columns the layout does not know (drift or another layout)."""

    def as_dict(self) -> dict[str, object]:
        """A JSON-ready summary."""
        return {
            "layout": self.layout.name,
            "version": self.layout.version,
            "verified": self.layout.verified,
            "confidence": round(self.confidence, 3),
            "reasons": list(self.reasons),
            "missing": list(self.missing),
            "unknown": list(self.unknown),
        }


def detect(path: str | Path, *, layouts: Iterable[Layout] | None = None) -> list[Candidate]:
    """Score every layout against a file, best first.

    Args:
        path: The return file.
        layouts: Layouts to consider; every shipped layout by default.

    Returns:
        Candidates with confidence above zero, best first.

    Raises:
        ReadError: the file cannot be read.
    """
    return detect_source(inspect_source(path), layouts=layouts)


def detect_source(info: SourceInfo, *, layouts: Iterable[Layout] | None = None) -> list[Candidate]:
    """:func:`detect` for a file already inspected (no second pass over its bytes)."""
    pool = list(layouts) if layouts is not None else list(builtin_layouts().values())
    samples: dict[str, list[Row]] = {}
    scored = []
    for layout in pool:
        for delim in layout.delimiters:
            if delim not in samples:
                samples[delim] = sample_rows(info, delim)
        best = max(
            (score_layout(layout, samples[d], d) for d in layout.delimiters),
            key=lambda c: c.confidence,
        )
        if best.confidence > 0:
            scored.append(best)
    scored.sort(key=lambda c: (-c.confidence, not c.layout.verified, c.layout.name))
    return scored


def best_candidate(info: SourceInfo, candidates: Sequence[Candidate]) -> Candidate:
    """Return the best candidate, or raise if none fits or the file is a refused kind.

    Raises:
        DetectionError: naming the closest layouts and what differed, or why it is refused.
    """
    if not candidates or candidates[0].confidence < MIN_CONFIDENCE:
        close = "; ".join(_describe(c) for c in candidates[:3]) or "no layout matched at all"
        raise DetectionError(
            f"no known layout fits this file (closest: {close})",
            file=info.path,
            reason="unknown_layout",
            hint="pass --layout NAME or --layout path/to/layout.toml (see docs/layouts.md)",
        )
    best = candidates[0]
    if best.layout.refuse:
        raise DetectionError(
            f"file recognized as {best.layout.title or best.layout.name}: {best.layout.refuse}",
            file=info.path,
            reason="refused_layout",
            hint="this is not a call-detail or subscriber return; read the matching CDR file",
        )
    return best


def _describe(c: Candidate) -> str:
    detail = []
    if c.missing:
        detail.append("missing " + ", ".join(c.missing[:4]))
    if c.unknown:
        detail.append("unexpected " + ", ".join(c.unknown[:4]))
    if not detail:
        detail.extend(c.reasons[-1:])
    return f"{c.layout.name} {c.confidence:.2f}: {'; '.join(detail)}"


def score_layout(layout: Layout, rows: Sequence[Row], delimiter: str) -> Candidate:
    """Score one layout against the first rows of a file split on ``delimiter``."""
    if layout.header:
        return _score_headered(layout, rows, delimiter)
    return _score_headerless(layout, rows, delimiter)


def _score_headered(layout: Layout, rows: Sequence[Row], delimiter: str) -> Candidate:
    required = [norm_name(n) for n in layout.required] or [
        norm_name(a[0]) for a in layout.columns.values()
    ]
    known = {norm_name(n) for n in layout.source_names()}
    best: tuple[float, int, list[str]] | None = None
    for index, (_, fields) in enumerate(rows[: layout.max_preamble + 1]):
        folded = {norm_name(f) for f in fields} - {""}
        if not folded:
            continue
        req = sum(1 for n in required if n in folded) / len(required)
        coverage = 1.0 if layout.open_header else len(folded & known) / len(folded)
        score = 0.7 * req + 0.3 * coverage
        if layout.header_lines == 2:
            types = rows[index + 1][1] if index + 1 < len(rows) else []
            typed = sum(1 for t in types if _TYPE_LINE.match(t.strip().upper()))
            score *= 1.0 if types and typed >= len(types) * 0.8 else 0.7
        if best is None or score > best[0]:
            best = (score, index, fields)
    if best is None or best[0] == 0:
        return Candidate(layout, 0.0, ("no header row found",), delimiter, None, (), (), ())
    score, index, fields = best
    present = {norm_name(f) for f in fields}
    missing = _missing_columns(layout, present)
    unknown = tuple(
        f for f in fields if norm_name(f) and norm_name(f) not in known and not layout.open_header
    )
    reasons = [
        f"header at row {index + 1} split on {delimiter!r}",
        f"{sum(1 for n in required if n in present)}/{len(required)} required columns",
    ]
    if missing:
        reasons.append("missing: " + ", ".join(missing))
    if unknown:
        reasons.append("not in layout: " + ", ".join(unknown))
    return Candidate(
        layout, round(score, 4), tuple(reasons), delimiter, index, tuple(fields), missing, unknown
    )


def _missing_columns(layout: Layout, present: set[str]) -> tuple[str, ...]:
    out = [n for n in layout.required if norm_name(n) not in present]
    if "*" in layout.optional:
        return tuple(out)
    optional = {norm_name(n) for n in layout.optional}
    for aliases in layout.columns.values():
        if any(norm_name(a) in present or norm_name(a) in optional for a in aliases):
            continue
        if aliases[0] not in out:
            out.append(aliases[0])
    return tuple(out)


def _score_headerless(layout: Layout, rows: Sequence[Row], delimiter: str) -> Candidate:
    data = [f for _, f in rows if any(x.strip() for x in f)][:50]
    if not data:
        return Candidate(layout, 0.0, ("empty file",), delimiter, None, (), (), ())
    counts = sum(1 for f in data if len(f) in layout.field_counts) / len(data)
    reasons = [f"{counts:.0%} of rows have {'/'.join(map(str, layout.field_counts))} fields"]
    probe_scores = []
    for probe in layout.probes:
        col = layout.names.index(probe.column)
        values = [f[col] for f in data if len(f) > col]
        share = sum(1 for v in values if re.fullmatch(probe.pattern, v)) / len(data)
        probe_scores.append(min(1.0, share / probe.min_share))
        reasons.append(f"{probe.column} matches its pattern in {share:.0%} of rows")
    probes = sum(probe_scores) / len(probe_scores) if probe_scores else 0.5
    score = (0.4 * counts + 0.6 * probes) * (counts if counts < 0.5 else 1.0)
    if min(probe_scores, default=1.0) < 0.5:
        score *= 0.5
    return Candidate(layout, round(score, 4), tuple(reasons), delimiter, None, layout.names, (), ())
