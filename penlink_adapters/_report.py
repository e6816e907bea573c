"""The read report: what happened to every row of one return file.

:meth:`ReadReport.to_json` is the contract of ``tls read --json`` (scripts rely on it): one
object with at least ``layout``, ``target``, ``rows_total``, ``loaded``, ``duplicates``,
``skipped``, ``rejected`` (reason code -> count) and ``warnings``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final, Literal, get_args

__all__ = ["REJECT_REASONS", "ReadReport", "RejectReason", "TargetSource"]

RejectReason = Literal[
    "bad_date",
    "dst_ambiguous",
    "dst_nonexistent",
    "lossy_number",
    "missing_identifier",
    "bad_value",
    "bad_row",
]
"""Closed set of reasons a row is rejected (documented in ``docs/layouts.md``):

- ``bad_date``: the time is missing or does not fit the layout's formats;
- ``dst_ambiguous``: a local time that occurs twice (DST fall-back), never guessed;
- ``dst_nonexistent``: a local time that does not exist (DST spring-forward gap);
- ``lossy_number``: an identifier whose digits were lost (e.g. Excel ``1.21355E+10``);
- ``missing_identifier``: no originating, terminating or target identifier (calls), or no
  identifier (subscriber/misc records);
- ``bad_value``: a duration, leg number or coordinate that does not parse or is out of range;
- ``bad_row``: the row has the wrong number of fields for its header or layout.
"""

REJECT_REASONS: Final[tuple[str, ...]] = get_args(RejectReason)

TargetSource = Literal["given", "preamble", "rows"]
"""Where the report's target came from: ``--target``, the file's preamble, or the same
identifier on every loaded row."""


@dataclass(frozen=True)
class ReadReport:
    """Accounting and diagnostics of one read.

    ``loaded + sum(rejected.values()) + skipped == rows_total``; ``duplicates`` is the part of
    ``skipped`` that were exact duplicate rows.
    """

    path: str
    """The file read."""
    sha256: str
    """Hex SHA-256 of its bytes."""
    layout: str
    """Layout name."""
    layout_version: str
    """Layout version."""
    record_type: str
    """``call``, ``subscriber`` or ``misc``."""
    confidence: float | None
    """Detection confidence (None when the layout was given)."""
    encoding: str
    """Codec used to decode the file."""
    target: str | None
    """The target identifier (raw form), if known."""
    target_source: TargetSource | None
    """Where :attr:`target` came from."""
    rows_total: int
    """Rows in the file (a quoted multi-line cell makes one row of several lines)."""
    loaded: int
    """Records in the canonical table."""
    duplicates: int
    """Exact duplicate rows dropped (included in :attr:`skipped`)."""
    skipped: int
    """Non-record rows: preamble, headers, blank, page and total lines, duplicates."""
    skipped_by: Mapping[str, int]
    """:attr:`skipped` by kind."""
    rejected: Mapping[str, int]
    """Rejected rows by reason code (see :data:`REJECT_REASONS`)."""
    warnings: tuple[str, ...]
    """Drift, dropped content columns, unknown codes, unverified layout, ignored options."""
    dropped_columns: tuple[str, ...]
    """Content-of-communication columns dropped."""
    tz_source: str | None
    """How start times became UTC (``carrier_utc``, ``declared_zone``, ``data_offset``)."""
    tz_name: str | None
    """Zone of the times (``UTC`` or the declared zone)."""

    @property
    def balanced(self) -> bool:
        """Whether every row is accounted for."""
        return self.loaded + sum(self.rejected.values()) + self.skipped == self.rows_total

    def to_json(self) -> dict[str, Any]:
        """The ``tls read --json`` object."""
        return {
            "path": self.path,
            "sha256": self.sha256,
            "layout": self.layout,
            "layout_version": self.layout_version,
            "record_type": self.record_type,
            "confidence": self.confidence,
            "encoding": self.encoding,
            "target": self.target,
            "target_source": self.target_source,
            "rows_total": self.rows_total,
            "loaded": self.loaded,
            "duplicates": self.duplicates,
            "skipped": self.skipped,
            "skipped_by": dict(self.skipped_by),
            "rejected": dict(self.rejected),
            "warnings": list(self.warnings),
            "dropped_columns": list(self.dropped_columns),
            "tz_source": self.tz_source,
            "tz_name": self.tz_name,
        }
