"""tls_core declares the Protocols, CaseStore implements them; tls_core never imports icm_bridge."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

import icm_bridge
from icm_bridge import CaseStore
from tls_core import protocols
from tls_core.errors import AccessDenied
from tls_core.protocols import AuditEvent, Contact

ROOT = Path(__file__).resolve().parents[2]


def test_case_store_implements_every_protocol(office: CaseStore) -> None:
    for proto in (
        protocols.AccessPolicy,
        protocols.CaseDirectory,
        protocols.NotificationSink,
        protocols.AuditSink,
    ):
        assert isinstance(office, proto), proto.__name__


def test_directory_and_visibility_without_oracle(office: CaseStore) -> None:
    office.open_case("alice", "C-1", owner="alice")
    office.open_case("alice", "C-R", owner="alice", restricted=True)
    assert office.owner_contact("bob", "C-1") == Contact(
        "alice", "Alice", "+1 206 555 0100", "alice@example.org", None
    )
    assert office.visible_cases("bob", ["C-1", "C-R", "nope"]) == {"C-1"}
    assert office.visible_cases("sup", ["C-1", "C-R", "nope"]) == {"C-1", "C-R"}
    texts = []
    for number in ("C-R", "nope"):
        try:
            office.owner_contact("bob", number)
        except AccessDenied as err:
            texts.append(str(err).replace(number, "#"))
    assert len(texts) == 2
    assert texts[0] == texts[1]


def test_audit_sink_records_role_and_criteria(office: CaseStore) -> None:
    seq = office.append(AuditEvent("carol", "search", "ok", ("C-9",), {}, {"imsi": "310"}))
    [rec] = office.audit.show(actor="carol")
    assert (rec.seq, rec.role, rec.criteria, rec.case_numbers) == (
        seq,
        "analyst",
        {"imsi": "310"},
        ("C-9",),
    )


def test_denials_are_audited(office: CaseStore) -> None:
    office.open_case("alice", "C-R", owner="alice", restricted=True)
    for number in ("C-R", "missing"):
        with pytest.raises(AccessDenied):
            office.show_case("bob", number)
    outcomes = [(r.action, r.outcome) for r in office.audit.show(actor="bob")]
    assert outcomes == [("case-view", "denied"), ("case-view", "denied")]


def test_tls_core_never_imports_icm_bridge() -> None:
    offenders = []
    for path in (ROOT / "tls_core").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            offenders += [f"{path}:{n}" for n in names if n.split(".")[0] == "icm_bridge"]
    # The CLI is the one place allowed to wire icm_bridge in.
    assert [o for o in offenders if "/cli/" not in o] == []


def test_import_is_cheap() -> None:
    code = (
        "import sys, icm_bridge; "
        "print(sorted(m for m in sys.modules if m.startswith(('psycopg', 'aiosmtpd'))))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_exported_members() -> None:
    assert sorted(icm_bridge.__all__) == sorted(
        name for name in vars(icm_bridge) if not name.startswith("_") and name != "annotations"
    )
    assert set(icm_bridge.__all__) == {
        "CHECKPOINT_EVERY", "RECORD_RETENTION_YEARS", "RETENTION", "ROLES", "AuditLog", "AuditRecord",
        "Case", "CaseStore",
        "GlobalAction", "NewUser", "Notification", "Policy", "Relation", "Role", "SmtpSettings",
        "State", "User", "VerifyReport", "audit_store_url", "case_store_url",
        "create_store_engine", "deliver_mail", "load_or_create_key", "load_policy",
        "Disclosure", "DisclosureRequest", "authorize_external_export", "authorize_purge",
        "cases_due_for_purge", "record_disclosure",
    }  # fmt: skip


def test_denied_checks_through_the_seam_are_audited(office: CaseStore) -> None:
    office.open_case("alice", "C-R", owner="alice", restricted=True)
    office.check("alice", "export", "C-R")
    with pytest.raises(AccessDenied):
        office.check("bob", "export", "C-R")
    [entry] = office.audit.show(actor="bob")
    assert (entry.action, entry.outcome, entry.case_numbers) == ("check-export", "denied", ("C-R",))
