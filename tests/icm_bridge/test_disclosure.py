"""Disclosures (Form 191 fields) linked to export and audit; retention and legal hold."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from icm_bridge import (
    CaseStore,
    DisclosureRequest,
    authorize_external_export,
    authorize_purge,
    cases_due_for_purge,
    record_disclosure,
)
from tests.icm_bridge.conftest import NOW, Clock
from tls_core.errors import AccessDenied, CaseStoreError
from tls_core.retention import CaseFacts, is_purgeable

SHA = "ab" * 32


def _request(**kw: object) -> DisclosureRequest:
    fields: dict[str, object] = {
        "case_number": "C-1",
        "receiving_agency": "Example County Sheriff",
        "requester": "Det. Roe",
        "purpose": "joint investigation",
        "records": ("r1", "r2"),
        "export_sha256": SHA,
        "secondary_recipient": None,
    }
    fields.update(kw)
    return DisclosureRequest(**fields)  # type: ignore[arg-type]


def test_disclosure_links_record_export_and_audit(office: CaseStore) -> None:
    office.open_case("alice", "C-1", owner="alice")
    made = record_disclosure(office, "alice", _request())
    assert (made.operator, made.records, made.disclosed) == ("alice", ("r1", "r2"), NOW)
    [entry] = [r for r in office.audit.show(actor="alice") if r.action == "disclose"]
    assert entry.seq == made.audit_seq
    assert entry.object_ids["disclosure"] == str(made.disclosure_id)
    assert entry.object_ids["export_sha256"] == SHA
    grant = authorize_external_export(
        office, "alice", "C-1", disclosure_id=made.disclosure_id, export_sha256=SHA
    )
    assert grant == made


def test_external_export_refused_without_matching_disclosure(office: CaseStore) -> None:
    office.open_case("alice", "C-1", owner="alice")
    office.open_case("alice", "C-2", owner="alice")
    made = record_disclosure(office, "alice", _request())
    wrong = [
        ("C-1", None, SHA),
        ("C-2", made.disclosure_id, SHA),
        ("C-1", made.disclosure_id, "cd" * 32),
    ]
    for number, ident, sha in wrong:
        with pytest.raises(CaseStoreError, match="disclosure record"):
            authorize_external_export(
                office, "alice", number, disclosure_id=ident, export_sha256=sha
            )
    refused = [r.outcome for r in office.audit.show(actor="alice") if r.action == "export-external"]
    assert refused == ["failed"] * 3


def test_disclosure_needs_form_fields_and_permission(office: CaseStore) -> None:
    office.open_case("alice", "C-1", owner="alice")
    with pytest.raises(CaseStoreError, match="purpose"):
        record_disclosure(office, "alice", _request(purpose=" "))
    with pytest.raises(CaseStoreError, match="no records"):
        record_disclosure(office, "alice", _request(records=()))
    for outsider in ("bob", "opla", "opr"):
        with pytest.raises(AccessDenied):
            record_disclosure(office, outsider, _request())


def test_retention_twenty_years_after_close_and_legal_hold(office: CaseStore) -> None:
    for number in ("C-1", "C-2", "C-3"):
        office.open_case("alice", number, owner="alice")
    office.close_case("alice", "C-1")  # on 2026-06-01: fiscal year 2026 ends 2026-09-30
    office.close_case("alice", "C-2")
    office.set_hold("sup", "C-2", True)
    assert cases_due_for_purge(office, NOW + timedelta(days=19 * 365)) == []
    last_day_kept = datetime(2046, 9, 30, 23, 59, tzinfo=UTC)
    assert cases_due_for_purge(office, last_day_kept) == []
    later = datetime(2046, 10, 1, 0, 1, tzinfo=UTC)
    assert cases_due_for_purge(office, later) == ["C-1"]
    # The store's clock stays at NOW (training current); the retention check uses ``later``.
    with pytest.raises(CaseStoreError, match="not due"):
        authorize_purge(office, "chief", "C-2", later)  # legal hold
    with pytest.raises(CaseStoreError, match="not due"):
        authorize_purge(office, "chief", "C-1", NOW)  # within retention
    with pytest.raises(AccessDenied):
        authorize_purge(office, "alice", "C-1", later)  # owners do not purge
    authorize_purge(office, "chief", "C-1", later)
    outcomes = [
        r.outcome for r in office.audit.show(actor="chief") if r.action == "purge-authorize"
    ]
    assert outcomes == ["failed", "failed", "ok"]


_CLOSINGS = {
    "FY-A": datetime(2026, 6, 1, 12, 0, tzinfo=UTC),
    "FY-B": datetime(2026, 9, 30, 23, 59, 59, tzinfo=UTC),  # last second of fiscal year 2026
    "FY-C": datetime(2026, 10, 1, 0, 0, tzinfo=UTC),  # first second of fiscal year 2027
    "FY-D": datetime(2026, 12, 31, 18, 0, tzinfo=UTC),
}


@settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    query=st.datetimes(
        min_value=datetime(2045, 1, 1), max_value=datetime(2048, 1, 1), timezones=st.just(UTC)
    )
    | st.sampled_from(
        [
            datetime(y, m, d, h, tzinfo=UTC)
            for y in (2046, 2047)
            for m, d in ((9, 30), (10, 1))
            for h in (0, 23)
        ]
    )
)
def test_case_store_and_repository_agree_on_who_is_due(
    closed_office: CaseStore, query: datetime
) -> None:
    """The case store lists exactly the cases the repository's retention rule would purge."""
    due = set(cases_due_for_purge(closed_office, query))
    expected = {
        number
        for number, closed in _CLOSINGS.items()
        if is_purgeable(CaseFacts(closed.date(), False, False), today=query.date())
    }
    assert due == expected


@pytest.fixture
def closed_office(office: CaseStore, clock: Clock) -> CaseStore:
    for number, closed in _CLOSINGS.items():
        clock.now = closed
        office.open_case("alice", number, owner="alice")
        office.close_case("alice", number)
    clock.now = NOW
    return office
