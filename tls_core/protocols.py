"""The seams ``tls_core`` needs from a case management system, declared as Protocols.

``tls_core`` never imports ``icm_bridge``: it asks these Protocols who may see which case, who
owns a case and how to reach them, where a notification goes and where an audit event goes.
``icm_bridge`` implements them; the ``tls`` command wires the two together.

Every method that decides access raises :class:`tls_core.errors.AccessDenied` (or its subclass
``TrainingLapsed``) with the same message whether or not the case exists, so callers cannot turn
the seam into an existence oracle; filters such as :meth:`AccessPolicy.visible_cases` drop what
the actor may not observe instead of raising.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol, runtime_checkable

__all__ = [
    "AccessPolicy",
    "Action",
    "AuditEvent",
    "AuditSink",
    "BatchDirectory",
    "CaseDirectory",
    "Contact",
    "LinkNotice",
    "LinkNotifier",
    "NotificationSink",
    "Outcome",
    "QueryNotice",
    "SearchRecorder",
]

Action = Literal[
    "search-hit",
    "view",
    "export",
    "ingest",
    "link",
    "restrict",
    "approve",
    "disclose",
    "purge",
    "manage",
    "hold",
]
"""An action on one case: ``search-hit`` (a case may appear in search results, counts, links
and alerts), ``view``, ``export``, ``ingest``, ``link``, ``restrict`` (and unrestrict),
``approve`` (records), ``disclose`` (outside the department), ``purge``, ``manage`` (close,
team changes), ``hold`` (legal hold)."""

Outcome = Literal["ok", "denied", "failed"]
"""How an audited action ended."""


@dataclass(frozen=True)
class Contact:
    """Who to contact about a case: its owner (or, for a restricted hit, the person to ask)."""

    user_id: str
    """The user's id in the case store."""
    name: str
    """Full name."""
    phone: str | None = None
    """Phone number as entered."""
    email: str | None = None
    """E-mail address."""
    office: str | None = None
    """Office or field location."""


@dataclass(frozen=True)
class AuditEvent:
    """One action to write to the audit log (criteria and ids, never result rows)."""

    actor: str
    """The user id acting."""
    action: str
    """What was done (``search``, ``view``, ``ingest``, ``export``, ``link-run`` ...)."""
    outcome: Outcome
    """``ok``, ``denied`` or ``failed``."""
    case_numbers: tuple[str, ...] = ()
    """Cases concerned."""
    object_ids: Mapping[str, str] = field(default_factory=dict)
    """Other ids: batch, file SHA-256, record ids (joined), disclosure id."""
    criteria: Mapping[str, str] = field(default_factory=dict)
    """Search criteria as given."""


@dataclass(frozen=True)
class QueryNotice:
    """Someone searched for identifiers that other cases hold: their owners are told."""

    actor: str
    """The searcher's user id."""
    criteria: Mapping[str, str]
    """What was searched for."""
    case_numbers: tuple[str, ...]
    """The cases whose records matched (before any visibility filtering)."""


@dataclass(frozen=True)
class LinkNotice:
    """Two cases are likely related: both owners are told (``tls link``).

    Each owner's message names the other case's owner, phone and office, unless the recipient
    may not see the other case: then it only says that a restricted case shares the
    identifiers and whom to contact, never the case number.
    """

    actor: str
    """Who ran the link (audited; not shown as a searcher)."""
    alert_id: str
    """Stable id of the case pair."""
    case_a: str
    """One case."""
    case_b: str
    """The other case."""
    status: Literal["new", "update"]
    """``new``: first delivery; ``update``: the link grew since it was delivered."""
    link_types: tuple[str, ...]
    """The link types of the alert."""
    strength: float
    """The alert's strength in [0, 1)."""
    identifiers: tuple[tuple[str, str, str], ...]
    """``(kind, identifier, link_type)`` of each evidence item, strongest first."""


@runtime_checkable
class AccessPolicy(Protocol):
    """Who may do what on which case."""

    def check(self, actor: str, action: Action, case_number: str) -> None:
        """Return if ``actor`` may perform ``action`` on the case, else raise ``AccessDenied``.

        The training guard runs on every call. A case that does not exist is denied with the
        same message as one the actor may not act on.
        """
        ...

    def visible_cases(
        self, actor: str, case_numbers: Iterable[str], *, action: Action = "search-hit"
    ) -> frozenset[str]:
        """Return the subset of ``case_numbers`` on which ``actor`` may perform ``action``."""
        ...


@runtime_checkable
class CaseDirectory(Protocol):
    """Who owns a case and how to reach them."""

    def owner_contact(self, actor: str, case_number: str) -> Contact:
        """Return the owner's contact if ``actor`` may see the case, else raise ``AccessDenied``."""
        ...

    def restricted_contact(self, actor: str, case_number: str) -> Contact:
        """Return whom ``actor`` should ask about a case they may not see: the owner's supervisor.

        Used for pointer-only hits ("a restricted case holds this; contact ..."): the contact
        never names the case or its owner. Raises ``AccessDenied`` (the same message whether
        the case exists) when the actor is unknown or untrained, or there is no one to name.
        """
        ...


@runtime_checkable
class NotificationSink(Protocol):
    """Where notifications go: the case owners' queues (and e-mail)."""

    def notify_query(self, notice: QueryNotice) -> int:
        """Queue a notification to every other owner of a matched case; return how many.

        Searches by OPR users notify nobody (they are audited all the same).
        """
        ...


@runtime_checkable
class LinkNotifier(Protocol):
    """Where link alerts go: the owners of both cases."""

    def notify_link(self, notice: LinkNotice) -> int:
        """Queue the alert to the owners of both cases; return how many notifications."""
        ...


@runtime_checkable
class AuditSink(Protocol):
    """Where audit events go. Raises ``AuditUnavailable`` when it cannot write (fail closed)."""

    def append(self, event: AuditEvent) -> int:
        """Append ``event`` to the audit log and return its sequence number."""
        ...


@runtime_checkable
class SearchRecorder(Protocol):
    """Both sinks of a search, taking its notices and its audit event in one transaction.

    One round trip to the store instead of two; ``search`` uses it when the notifier and the
    audit sink are the same object.
    """

    def record_search(self, notice: QueryNotice, event: AuditEvent) -> int:
        """Queue ``notice`` and append ``event`` in one transaction; return how many were queued.

        ``notice`` is queued (and audited) as :meth:`NotificationSink.notify_query` does.
        Raises what ``notify_query`` and :meth:`AuditSink.append` raise; then nothing was
        queued and ``event`` was not appended (the caller audits the failure).
        """
        ...


@runtime_checkable
class BatchDirectory(Protocol):
    """A ``CaseDirectory`` that names the contacts of many hidden cases in one round trip."""

    def restricted_contacts(
        self, actor: str, case_numbers: Sequence[str]
    ) -> Mapping[str, Contact | None]:
        """Return :meth:`CaseDirectory.restricted_contact` of each case, None where it raises.

        Each case is audited as ``restricted_contact`` audits it. Raises ``AccessDenied`` (or
        ``TrainingLapsed``) when the actor is unknown or untrained.
        """
        ...
