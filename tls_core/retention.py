"""Retention: records of closed cases go 20 years after the end of the closing fiscal year.

This module is the one definition of the rule: the repository's purge and the case store's
list of cases due for purge both use it (they must never disagree about a case).

The case facts come in as a plain mapping (the case store is another package's business). A
batch is purged only when every case it is linked to is purgeable; a record stored in a purged
batch survives when a batch that is not purged references it (``record_refs``), so records
that also belong to an open case are never touched.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Final

__all__ = [
    "RETENTION_YEARS",
    "CaseFacts",
    "IntoCaseFacts",
    "is_purgeable",
    "last_closing_day_due",
    "retention_end",
]

RETENTION_YEARS: Final = 20
_FY_LAST_MONTH: Final = 9  # the US federal fiscal year ends on 30 September


@dataclass(frozen=True)
class CaseFacts:
    """What retention needs to know about one case."""

    closed_on: date | None
    """Day the case closed (None while it is open)."""
    legal_hold: bool
    """A legal hold suspends every purge of the case."""
    open: bool
    """True while the case is open (or reopened)."""


IntoCaseFacts = CaseFacts | tuple[date | None, bool, bool]
"""A :class:`CaseFacts` or the tuple ``(closed_on, legal_hold, open)``."""


def retention_end(closed_on: date) -> date:
    """Last day the records of a case closed on ``closed_on`` are kept.

    Examples:
        >>> retention_end(date(2005, 9, 30))
        datetime.date(2025, 9, 30)
        >>> retention_end(date(2005, 10, 1))
        datetime.date(2026, 9, 30)
    """
    fy_end_year = closed_on.year + (1 if closed_on.month > _FY_LAST_MONTH else 0)
    return date(fy_end_year + RETENTION_YEARS, _FY_LAST_MONTH, 30)


def last_closing_day_due(today: date) -> date:
    """The last closing day whose records may be purged on ``today``.

    A case closed on day ``d`` (not open, not on legal hold) is purgeable on ``today`` exactly
    when ``d <= last_closing_day_due(today)``: the rule as one cutoff, for a database query.

    Examples:
        >>> last_closing_day_due(date(2026, 9, 30))
        datetime.date(2005, 9, 30)
        >>> last_closing_day_due(date(2026, 10, 1))
        datetime.date(2006, 9, 30)
    """
    fy_end = date(today.year, _FY_LAST_MONTH, 30)
    last_ended = today.year if today > fy_end else today.year - 1
    return date(last_ended - RETENTION_YEARS, _FY_LAST_MONTH, 30)


def is_purgeable(facts: IntoCaseFacts | None, *, today: date) -> bool:
    """True when a case's records may be purged on ``today``; unknown cases never are."""
    if facts is None:
        return False
    if not isinstance(facts, CaseFacts):
        facts = CaseFacts(*facts)
    if facts.open or facts.legal_hold or facts.closed_on is None:
        return False
    return today > retention_end(facts.closed_on)


def purgeable_batches(
    links: Mapping[str, set[str]], facts: Mapping[str, IntoCaseFacts], *, today: date
) -> set[str]:
    """Batches all of whose (one or more) linked cases are purgeable."""
    ok = {
        c
        for c in {c for cs in links.values() for c in cs}
        if is_purgeable(facts.get(c), today=today)
    }
    return {b for b, cases in links.items() if cases and cases <= ok}
