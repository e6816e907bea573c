"""A small synthetic report: four cases (one restricted), planted links and two hubs.

Numbers are in the 555-01xx fictional range; IMEIs use a test TAC. No real data.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tls_core.report import (
    CommonContact,
    Contact,
    Evidence,
    ReportCase,
    ReportData,
    ReportIdentifier,
    ReportLink,
    RestrictedPointer,
    TimelineEvent,
    TopContacts,
)

T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)

SEATTLE_TARGET = "+12065550101"
HOUSTON_TARGET = "+17135550102"
SHARED_CONTACT = "+13125550103"
SWAPPED_IMEI = "490154203237518"
VOICEMAIL = "+12065550199"
PIZZA = "+17135550188"


def sample_data(*, synthetic: bool = True) -> ReportData:
    cases = (
        ReportCase("SE-2026-0001", "Seattle pharmacy diversion", "Agent Ada Example", "Seattle"),
        ReportCase("HO-2026-0002", "Houston wire fraud", "Agent Ben Sample", "Houston"),
        ReportCase("CH-2026-0003", "Chicago cargo theft", "Agent Cy Test", "Chicago"),
        ReportCase(
            "NY-2026-0004", "New York counterfeit", "Agent Di Demo", "New York", restricted=True
        ),
    )
    identifiers = (
        ReportIdentifier(SEATTLE_TARGET, "phone"),
        ReportIdentifier(HOUSTON_TARGET, "phone"),
        ReportIdentifier(SHARED_CONTACT, "phone"),
        ReportIdentifier(SWAPPED_IMEI, "imei"),
        ReportIdentifier(
            VOICEMAIL,
            "phone",
            suppressed=True,
            suppressed_reason="voicemail access number (curated)",
            cases=("SE-2026-0001", "HO-2026-0002", "CH-2026-0003"),
        ),
        ReportIdentifier(
            PIZZA,
            "phone",
            suppressed=True,
            suppressed_reason="learned weight: in 40% of cases",
            cases=("HO-2026-0002", "NY-2026-0004"),
        ),
    )
    links = (
        ReportLink(
            "SE-2026-0001",
            "HO-2026-0002",
            ("direct_contact", "common_contact"),
            0.92,
            (
                Evidence(
                    HOUSTON_TARGET,
                    "phone",
                    "direct_contact",
                    "exact",
                    41,
                    388,
                    T0,
                    T0 + timedelta(days=20),
                ),
                Evidence(
                    SHARED_CONTACT,
                    "phone",
                    "common_contact",
                    "exact",
                    17,
                    9,
                    T0 + timedelta(days=2),
                    T0 + timedelta(days=18),
                ),
            ),
            alert_id="A-0001",
        ),
        ReportLink(
            "HO-2026-0002",
            "CH-2026-0003",
            ("device_continuity",),
            0.55,
            (
                Evidence(
                    SWAPPED_IMEI,
                    "imei",
                    "device_continuity",
                    "imei_tac_snr",
                    120,
                    64,
                    T0 + timedelta(days=5),
                    T0 + timedelta(days=25),
                ),
            ),
            alert_id="A-0002",
        ),
        ReportLink(
            "SE-2026-0001",
            "CH-2026-0003",
            ("common_contact",),
            0.3,
            (
                Evidence(
                    SHARED_CONTACT,
                    "phone",
                    "common_contact",
                    "national_number",
                    17,
                    2,
                    T0 + timedelta(days=2),
                    T0 + timedelta(days=9),
                ),
            ),
        ),
    )
    timeline = tuple(
        TimelineEvent(case, ident, T0 + timedelta(days=day), count)
        for case, ident, day, count in (
            ("SE-2026-0001", HOUSTON_TARGET, 0, 5),
            ("SE-2026-0001", HOUSTON_TARGET, 6, 12),
            ("HO-2026-0002", HOUSTON_TARGET, 3, 40),
            ("SE-2026-0001", SHARED_CONTACT, 2, 3),
            ("CH-2026-0003", SHARED_CONTACT, 9, 2),
            ("HO-2026-0002", SWAPPED_IMEI, 5, 30),
            ("CH-2026-0003", SWAPPED_IMEI, 25, 64),
        )
    )
    return ReportData(
        title="Deconfliction report: synthetic demo",
        generated_utc=datetime(2026, 4, 1, 2, 0, tzinfo=UTC),
        cases=cases,
        identifiers=identifiers,
        links=links,
        restricted=(
            RestrictedPointer(SHARED_CONTACT, "phone", "Supervisor Eve Example", "New York"),
        ),
        timeline=timeline,
        top_contacts=(
            TopContacts(
                "SE-2026-0001",
                SEATTLE_TARGET,
                (
                    Contact(HOUSTON_TARGET, "phone", 41),
                    Contact(SHARED_CONTACT, "phone", 17),
                    Contact(VOICEMAIL, "phone", 9),
                ),
            ),
            TopContacts(
                "HO-2026-0002",
                HOUSTON_TARGET,
                (Contact(SEATTLE_TARGET, "phone", 388), Contact(SHARED_CONTACT, "phone", 9)),
            ),
        ),
        common_contacts=(
            CommonContact(
                SHARED_CONTACT,
                "phone",
                (SEATTLE_TARGET, HOUSTON_TARGET),
                ("SE-2026-0001", "HO-2026-0002"),
                26,
            ),
        ),
        synthetic=synthetic,
    )


def expected_edges(data: ReportData) -> set[tuple[str, str, str]]:
    """Chart edges computed from the data, independently of the chart code."""
    edges = set()
    for link in data.links:
        for row in link.evidence:
            edges.add((link.case_a, row.identifier, row.link_type))
            edges.add((link.case_b, row.identifier, row.link_type))
    for ident in data.identifiers:
        if ident.suppressed:
            edges.update((case, ident.canonical, "suppressed") for case in ident.cases)
    return edges
