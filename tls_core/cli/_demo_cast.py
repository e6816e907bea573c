"""The fictional people and cases of ``tls demo``: who owns which synthetic case.

Every name, phone number and office here is invented (phone numbers are NANP 555-01XX fiction
numbers); the demo never touches real personal data.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from icm_bridge import CaseStore, Role

__all__ = ["ADMIN", "OPR", "PEOPLE", "RESTRICTED_CASE", "Person", "create_cast", "owner_of"]


@dataclass(frozen=True)
class Person:
    """One account of the demo."""

    user_id: str
    name: str
    role: Role
    office: str
    phone: str
    supervisor: str | None = None


ADMIN: Final = "admin.demo"
OPR: Final = "opr.hale"
PEOPLE: Final[tuple[Person, ...]] = (
    Person(ADMIN, "Demo Administrator", "admin", "Headquarters", "202-555-0100"),
    Person("sup.rivera", "Ana Rivera", "supervisor", "Seattle", "206-555-0101"),
    Person("sup.chen", "Wei Chen", "supervisor", "Houston", "713-555-0102"),
    Person("a.okafor", "Dana Okafor", "agent", "Seattle", "206-555-0110", "sup.rivera"),
    Person("a.novak", "Luis Novak", "agent", "Houston", "713-555-0111", "sup.chen"),
    Person("a.silva", "Mira Silva", "agent", "Miami", "305-555-0112", "sup.chen"),
    Person("a.berg", "Tom Berg", "agent", "New York", "212-555-0113", "sup.rivera"),
    Person(OPR, "Sam Hale", "opr", "Office of Professional Responsibility", "202-555-0120"),
)
_AGENTS: Final = ("a.okafor", "a.novak", "a.silva", "a.berg")
RESTRICTED_CASE: Final = "C05"
"""The case the demo restricts to its team: links to it reach others as a pointer only."""


def owner_of(index: int) -> str:
    """Return the agent owning the scenario's ``index``-th case (round robin)."""
    return _AGENTS[index % len(_AGENTS)]


def create_cast(store: CaseStore, case_ids: list[str], today: date) -> None:
    """Create the demo's accounts and open one case per scenario case id."""
    from icm_bridge import NewUser

    for person in PEOPLE:
        actor = None if person.user_id == ADMIN else ADMIN
        store.add_user(
            actor,
            NewUser(
                user_id=person.user_id,
                name=person.name,
                role=person.role,
                trained_on=today,
                phone=person.phone,
                email=f"{person.user_id}@example.org",
                office=person.office,
                supervisor=person.supervisor,
            ),
        )
    for i, case_id in enumerate(case_ids):
        owner = owner_of(i)
        store.open_case(
            owner,
            case_id,
            owner=owner,
            title=f"Synthetic case {case_id}",
            restricted=case_id == RESTRICTED_CASE,
        )
