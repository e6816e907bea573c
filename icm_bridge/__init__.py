"""A thin bridge into a minimal case store: cases, access policy, outbox and audit log.

:class:`CaseStore` implements the seams ``tls_core`` declares in :mod:`tls_core.protocols`;
the ``tls`` command wires them together. See ``docs/case_store.md``, ``docs/access.md`` and
``docs/audit.md``.
"""

from __future__ import annotations

from icm_bridge._audit import CHECKPOINT_EVERY as CHECKPOINT_EVERY
from icm_bridge._audit import RETENTION as RETENTION
from icm_bridge._audit import AuditLog as AuditLog
from icm_bridge._audit import AuditRecord as AuditRecord
from icm_bridge._audit import VerifyReport as VerifyReport
from icm_bridge._audit import load_or_create_key as load_or_create_key
from icm_bridge._db import audit_store_url as audit_store_url
from icm_bridge._db import case_store_url as case_store_url
from icm_bridge._db import create_store_engine as create_store_engine
from icm_bridge._disclosure import RECORD_RETENTION_YEARS as RECORD_RETENTION_YEARS
from icm_bridge._disclosure import Disclosure as Disclosure
from icm_bridge._disclosure import DisclosureRequest as DisclosureRequest
from icm_bridge._disclosure import authorize_external_export as authorize_external_export
from icm_bridge._disclosure import authorize_purge as authorize_purge
from icm_bridge._disclosure import cases_due_for_purge as cases_due_for_purge
from icm_bridge._disclosure import record_disclosure as record_disclosure
from icm_bridge._outbox import Notification as Notification
from icm_bridge._outbox import SmtpSettings as SmtpSettings
from icm_bridge._outbox import deliver_mail as deliver_mail
from icm_bridge._policy import ROLES as ROLES
from icm_bridge._policy import GlobalAction as GlobalAction
from icm_bridge._policy import Policy as Policy
from icm_bridge._policy import Relation as Relation
from icm_bridge._policy import Role as Role
from icm_bridge._policy import State as State
from icm_bridge._policy import load_policy as load_policy
from icm_bridge._records import Case as Case
from icm_bridge._records import NewUser as NewUser
from icm_bridge._records import User as User
from icm_bridge._store import CaseStore as CaseStore

__all__ = [
    "CHECKPOINT_EVERY",
    "RECORD_RETENTION_YEARS",
    "RETENTION",
    "ROLES",
    "AuditLog",
    "AuditRecord",
    "Case",
    "CaseStore",
    "Disclosure",
    "DisclosureRequest",
    "GlobalAction",
    "NewUser",
    "Notification",
    "Policy",
    "Relation",
    "Role",
    "SmtpSettings",
    "State",
    "User",
    "VerifyReport",
    "audit_store_url",
    "authorize_external_export",
    "authorize_purge",
    "case_store_url",
    "cases_due_for_purge",
    "create_store_engine",
    "deliver_mail",
    "load_or_create_key",
    "load_policy",
    "record_disclosure",
]
