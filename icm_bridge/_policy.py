"""The access policy: a permission table shipped as data (``policy.toml``), denying the unlisted.

The table is the single source of truth; this module only loads and validates it. The decision
that needs the case store (relations, state, training) is in :mod:`icm_bridge._access`.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Literal, TypeVar, get_args

from tls_core.errors import ConfigError
from tls_core.protocols import Action

__all__ = [
    "GLOBAL_ACTIONS",
    "RELATIONS",
    "ROLES",
    "STATES",
    "GlobalAction",
    "Policy",
    "Relation",
    "Role",
    "State",
    "load_policy",
]

Role = Literal["agent", "analyst", "supervisor", "opr", "opla", "admin"]
"""A user's role: ``opr`` is internal affairs (reads cases and the audit), ``opla`` an attorney
(reads cases), ``admin`` manages accounts and sees no case data."""

Relation = Literal["owner", "team", "supervisor", "other"]
"""How an actor relates to a case; ``supervisor`` means in the owner's supervisor chain."""

State = Literal["open", "restricted", "closed"]
"""A case's state for the policy; ``restricted`` wins over ``closed``."""

GlobalAction = Literal["manage-users", "read-audit", "open-case", "list-hubs"]
"""Actions not about one case."""

ROLES: tuple[Role, ...] = get_args(Role)
RELATIONS: tuple[Relation, ...] = get_args(Relation)
STATES: tuple[State, ...] = get_args(State)
GLOBAL_ACTIONS: tuple[GlobalAction, ...] = get_args(GlobalAction)
CASE_ACTIONS: tuple[Action, ...] = get_args(Action)

_T = TypeVar("_T", bound=str)


@dataclass(frozen=True)
class Policy:
    """A loaded, validated permission table."""

    allowed: frozenset[tuple[Role, Relation, State, Action]]
    """Every permitted (role, relation, state, action); anything else is denied."""

    global_roles: dict[GlobalAction, frozenset[Role]]
    """For each case-less action, the roles that may perform it."""

    training_valid_days: int
    """Days after the last privacy training during which a user may act at all."""

    source: str
    """Where the table was read from (for messages)."""

    def allows(
        self, role: Role, relations: frozenset[Relation], state: State, action: Action
    ) -> bool:
        """Return whether any of the actor's relations permits ``action`` in ``state``."""
        return any((role, rel, state, action) in self.allowed for rel in relations)

    def allows_global(self, role: Role, action: GlobalAction) -> bool:
        """Return whether ``role`` may perform the case-less ``action``."""
        return role in self.global_roles.get(action, frozenset())


def load_policy(path: Path | None = None) -> Policy:
    """Load and validate a permission table.

    Args:
        path: A policy TOML file; by default the one shipped with ``icm_bridge``.

    Returns:
        The validated :class:`Policy`.

    Raises:
        ConfigError: The file names an unknown role, relation, state or action, or lacks a field.
    """
    if path is None:
        text = resources.files("icm_bridge").joinpath("policy.toml").read_text("utf-8")
        source = "icm_bridge/policy.toml"
    else:
        text = path.read_text("utf-8")
        source = str(path)
    try:
        data = tomllib.loads(text)
        return _build(data, source)
    except (tomllib.TOMLDecodeError, KeyError, TypeError) as err:
        raise ConfigError(
            f"invalid access policy: {err}", file=source, reason="bad_policy"
        ) from err


def _build(data: dict[str, object], source: str) -> Policy:
    allowed: set[tuple[Role, Relation, State, Action]] = set()
    rows = data["allow"]
    if not isinstance(rows, list):
        raise TypeError("[[allow]] must be an array of tables")
    for row in rows:
        for role in _names(row["roles"], ROLES, source):
            for rel in _names(row["relations"], RELATIONS, source):
                for state in _names(row["states"], STATES, source):
                    for action in _names(row["actions"], CASE_ACTIONS, source):
                        allowed.add((role, rel, state, action))
    glob = data.get("global", {})
    if not isinstance(glob, dict):
        raise TypeError("[global] must be a table")
    global_roles = {
        _names([name], GLOBAL_ACTIONS, source)[0]: frozenset(_names(roles, ROLES, source))
        for name, roles in glob.items()
    }
    days = data["training_valid_days"]
    if not isinstance(days, int) or days <= 0:
        raise TypeError("training_valid_days must be a positive integer")
    return Policy(frozenset(allowed), global_roles, days, source)


def _names(values: object, known: tuple[_T, ...], source: str) -> list[_T]:
    if not isinstance(values, list):
        raise TypeError(f"expected a list of names, got {values!r}")
    out: list[_T] = []
    for value in values:
        match = next((k for k in known if k == value), None)
        if match is None:
            raise ConfigError(
                f"unknown name {value!r} in the access policy",
                file=source,
                value=str(value),
                reason="bad_policy",
                hint=f"expected one of {', '.join(known)}",
            )
        out.append(match)
    return out
