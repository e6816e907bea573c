"""Search, path and per-target analysis over the identifier occurrence index.

:func:`search` finds the records and cases that hold an identifier in any accepted spelling
through a sorted occurrence index (a rebuildable cache keyed by the snapshot, see
``docs/storage.md``), tells the other cases' owners and audits the search; :func:`path` finds
the shortest identifier chains between two cases; :func:`target_profile` summarizes a case's
targets (top contacts, common contacts, first/last activity).

Importing this package is cheap: ``duckdb`` and ``pyarrow.parquet`` are imported on first use.
"""

from __future__ import annotations

from tls_core.search._hits import RecordHit as RecordHit
from tls_core.search._hits import RecordHits as RecordHits
from tls_core.search._index import IndexState as IndexState
from tls_core.search._path import CasePath as CasePath
from tls_core.search._path import PathResult as PathResult
from tls_core.search._path import path as path
from tls_core.search._profile import CommonContact as CommonContact
from tls_core.search._profile import ContactCount as ContactCount
from tls_core.search._profile import TargetProfile as TargetProfile
from tls_core.search._profile import TargetSummary as TargetSummary
from tls_core.search._profile import target_profile as target_profile
from tls_core.search._search import CaseHit as CaseHit
from tls_core.search._search import RestrictedHit as RestrictedHit
from tls_core.search._search import SearchResult as SearchResult
from tls_core.search._search import search as search

__all__ = [
    "CaseHit",
    "CasePath",
    "CommonContact",
    "ContactCount",
    "IndexState",
    "PathResult",
    "RecordHit",
    "RecordHits",
    "RestrictedHit",
    "SearchResult",
    "TargetProfile",
    "TargetSummary",
    "path",
    "search",
    "target_profile",
]
