"""The cross-case linker: occurrences -> shared identifiers -> case-pair links -> alerts.

Small portable SQL steps over one repository snapshot, each named after the table it produces
(``docs/linking.md``). :func:`link` is the nightly, incremental run; :func:`alerts` and
:func:`hubs` report what it found. Importing is cheap: DuckDB is imported when a step runs.
"""

from __future__ import annotations

from tls_core.link._alerts import TYPE_WEIGHT as TYPE_WEIGHT
from tls_core.link._alerts import Alert as Alert
from tls_core.link._alerts import Evidence as Evidence
from tls_core.link._alerts import evidence_strength as evidence_strength
from tls_core.link._identifier_cases import identifier_cases_sql as identifier_cases_sql
from tls_core.link._judge import GROWTH_FACTOR as GROWTH_FACTOR
from tls_core.link._occurrences import OCCURRENCE_COLUMNS as OCCURRENCE_COLUMNS
from tls_core.link._occurrences import ROLES as ROLES
from tls_core.link._occurrences import OccurrenceScope as OccurrenceScope
from tls_core.link._occurrences import Role as Role
from tls_core.link._occurrences import create_occurrences as create_occurrences
from tls_core.link._occurrences import device_ids_table as device_ids_table
from tls_core.link._occurrences import occurrences_sql as occurrences_sql
from tls_core.link._pairs import alerts_sql as alerts_sql
from tls_core.link._pairs import case_pair_links_sql as case_pair_links_sql
from tls_core.link._pairs import hubs_sql as hubs_sql
from tls_core.link._pairs import identifier_weights_sql as identifier_weights_sql
from tls_core.link._pairs import shared_identifiers_sql as shared_identifiers_sql
from tls_core.link._records import AlertRows as AlertRows
from tls_core.link._run import LinkMode as LinkMode
from tls_core.link._run import LinkRun as LinkRun
from tls_core.link._run import alerts as alerts
from tls_core.link._run import hubs as hubs
from tls_core.link._run import link as link
from tls_core.link._suppress import DEFAULT_HUB_CASES as DEFAULT_HUB_CASES
from tls_core.link._suppress import Hub as Hub
from tls_core.link._suppress import HubReason as HubReason
from tls_core.link._suppress import HubRows as HubRows
from tls_core.link._suppress import LinkSettings as LinkSettings

__all__ = [
    "DEFAULT_HUB_CASES",
    "GROWTH_FACTOR",
    "OCCURRENCE_COLUMNS",
    "ROLES",
    "TYPE_WEIGHT",
    "Alert",
    "AlertRows",
    "Evidence",
    "Hub",
    "HubReason",
    "HubRows",
    "LinkMode",
    "LinkRun",
    "LinkSettings",
    "OccurrenceScope",
    "Role",
    "alerts",
    "alerts_sql",
    "case_pair_links_sql",
    "create_occurrences",
    "device_ids_table",
    "evidence_strength",
    "hubs",
    "hubs_sql",
    "identifier_cases_sql",
    "identifier_weights_sql",
    "link",
    "occurrences_sql",
    "shared_identifiers_sql",
]
