"""Pin the public surface and keep imports cheap."""

from __future__ import annotations

import subprocess
import sys

import tls_core.identifiers
import tls_core.schema


def test_identifiers_exports():
    assert sorted(tls_core.identifiers.__all__) == sorted(
        [
            "GRADE_STRENGTH",
            "REASONS",
            "STATUSES",
            "Identifier",
            "IntoValues",
            "KindOption",
            "Reason",
            "Status",
            "esn_dec_to_hex",
            "esn_hex_to_dec",
            "imei_check_digit",
            "imsi_parts",
            "match_grade",
            "meid_to_pesn",
            "normalize",
            "normalize_value",
        ]
    )
    for name in tls_core.identifiers.__all__:
        assert hasattr(tls_core.identifiers, name)


def test_schema_exports_resolve():
    for name in tls_core.schema.__all__:
        assert hasattr(tls_core.schema, name)


def test_importing_is_cheap():
    code = (
        "import sys, tls_core.identifiers, tls_core.schema, tls_core.errors, tls_core.cli;"
        "heavy = [m for m in ('numba', 'duckdb', 'polars', 'deltalake') if m in sys.modules];"
        "print(heavy)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_report_exports():
    import tls_core.report

    assert sorted(tls_core.report.__all__) == sorted(
        [
            "Chart",
            "ChartEdge",
            "ChartLinkType",
            "ChartNode",
            "CommonContact",
            "Contact",
            "Evidence",
            "NodeKind",
            "PngOption",
            "ReportCase",
            "ReportData",
            "ReportFiles",
            "ReportIdentifier",
            "ReportLink",
            "RestrictedPointer",
            "TimelineEvent",
            "TopContacts",
            "build_chart",
            "check_report_data",
            "write_report",
        ]
    )
    for name in tls_core.report.__all__:
        assert hasattr(tls_core.report, name)


def test_link_exports():
    import tls_core.link

    assert sorted(tls_core.link.__all__) == sorted(
        [
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
    )
    for name in tls_core.link.__all__:
        assert hasattr(tls_core.link, name)


def test_importing_the_linker_is_cheap():
    code = (
        "import sys, tls_core.link;"
        "heavy = [m for m in ('numba', 'duckdb', 'polars', 'deltalake') if m in sys.modules];"
        "print(heavy)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
