"""The cross-case linker: occurrences -> shared identifiers -> case-pair links -> alerts.

Small portable SQL steps over one repository snapshot, each named after the table it produces;
see ``docs/linking.md``. Importing is cheap: DuckDB is imported when a step runs.
"""

from __future__ import annotations

from tls_core.link._occurrences import OCCURRENCE_COLUMNS as OCCURRENCE_COLUMNS
from tls_core.link._occurrences import ROLES as ROLES
from tls_core.link._occurrences import OccurrenceScope as OccurrenceScope
from tls_core.link._occurrences import Role as Role
from tls_core.link._occurrences import create_occurrences as create_occurrences
from tls_core.link._occurrences import device_ids_table as device_ids_table
from tls_core.link._occurrences import occurrences_sql as occurrences_sql

__all__ = [
    "OCCURRENCE_COLUMNS",
    "ROLES",
    "OccurrenceScope",
    "Role",
    "create_occurrences",
    "device_ids_table",
    "occurrences_sql",
]
