"""The whole permission matrix, enumerated against policy.toml read independently: 0 mismatches."""

from __future__ import annotations

import itertools
import tomllib
from importlib import resources

import pytest

from icm_bridge import CaseStore
from icm_bridge._schema import case_team, cases
from tests.icm_bridge.conftest import user
from tls_core.errors import AccessDenied, ConfigError

ROLES = ["agent", "analyst", "supervisor", "opr", "opla", "admin"]
RELATIONS = ["owner", "team", "supervisor", "other"]
STATES = ["open", "restricted", "closed"]
ACTIONS = [
    "search-hit", "view", "export", "ingest", "link", "restrict",
    "approve", "disclose", "purge", "manage", "hold",
]  # fmt: skip
MUTATING = {
    "export",
    "ingest",
    "link",
    "restrict",
    "approve",
    "disclose",
    "purge",
    "manage",
    "hold",
}


def expected_table() -> tuple[set[tuple[str, str, str, str]], dict[str, set[str]]]:
    text = resources.files("icm_bridge").joinpath("policy.toml").read_text("utf-8")
    data = tomllib.loads(text)
    allowed = set()
    for row in data["allow"]:
        allowed |= set(
            itertools.product(row["roles"], row["relations"], row["states"], row["actions"])
        )
    return allowed, {k: set(v) for k, v in data["global"].items()}


def _seed(store: CaseStore) -> None:
    store.add_user(None, user("admin", "admin"))
    store.add_user("admin", user("stranger", "agent"))
    for role in ROLES:
        store.add_user("admin", user(f"u_{role}", role))
        store.add_user("admin", user(f"sub_{role}", "agent", supervisor=f"u_{role}"))
    rows, team = [], []
    for role, rel, state in itertools.product(ROLES, RELATIONS, STATES):
        owner = {"owner": f"u_{role}", "supervisor": f"sub_{role}"}.get(rel, "stranger")
        number = f"{role}:{rel}:{state}"
        rows.append(
            {
                "number": number, "title": "", "status": "closed" if state == "closed" else "open",
                "opened_us": 0, "closed_us": None, "owner_id": owner,
                "restricted": state == "restricted", "legal_hold": False,
            }
        )  # fmt: skip
        if rel == "team":
            team.append({"case_number": number, "user_id": f"u_{role}"})
    with store.engine.begin() as conn:
        # Direct inserts: the matrix covers combinations the store's own API would refuse to
        # create (an OPLA "owner"), so the decision is tested for every cell.
        conn.execute(cases.insert(), rows)
        conn.execute(case_team.insert(), team)


def test_full_permission_matrix_zero_mismatches(store: CaseStore) -> None:
    _seed(store)
    allowed, _ = expected_table()
    mismatches = []
    checked = 0
    for role, rel, state, action in itertools.product(ROLES, RELATIONS, STATES, ACTIONS):
        want = (role, rel, state, action) in allowed
        try:
            store.check(f"u_{role}", action, f"{role}:{rel}:{state}")  # type: ignore[arg-type]
            got = True
        except AccessDenied:
            got = False
        checked += 1
        if got != want:
            mismatches.append((role, rel, state, action, want, got))
    assert checked == 6 * 4 * 3 * 11
    assert mismatches == []


def test_global_actions_match_table(store: CaseStore) -> None:
    _seed(store)
    _, global_roles = expected_table()
    for role, action in itertools.product(
        ROLES, ["manage-users", "read-audit", "open-case", "list-hubs"]
    ):
        want = role in global_roles.get(action, set())
        assert store.policy.allows_global(role, action) is want  # type: ignore[arg-type]


def test_table_keeps_the_seed_rules() -> None:
    allowed, global_roles = expected_table()
    # OPR and OPLA never mutate anything; admin never touches case data.
    assert not {a for a in allowed if a[0] in {"opr", "opla"} and a[3] in MUTATING}
    assert not {a for a in allowed if a[0] == "admin"}
    # A restricted case is never visible outside owner, team and supervisor chain.
    assert not {a for a in allowed if a[1] == "other" and a[2] == "restricted"}
    # ...and never hidden from the owner's supervisor chain.
    for role, state in itertools.product(["agent", "analyst", "supervisor", "opr", "opla"], STATES):
        assert (role, "supervisor", state, "view") in allowed
    # Records are visible to all users by default.
    for role in ["agent", "analyst", "supervisor", "opr", "opla"]:
        assert (role, "other", "open", "search-hit") in allowed
    assert global_roles["read-audit"] == {"opr"}
    assert global_roles["manage-users"] == {"admin"}
    assert "admin" not in global_roles["list-hubs"]


def test_missing_case_reads_like_forbidden(store: CaseStore) -> None:
    _seed(store)
    messages = []
    for number in ["agent:other:restricted", "no-such-case"]:
        with pytest.raises(AccessDenied) as info:
            store.check("u_agent", "view", number)
        messages.append(str(info.value).replace(number, "<case>"))
    assert messages[0] == messages[1]


def test_restricted_and_closed_stays_restricted(store: CaseStore) -> None:
    _seed(store)
    with store.engine.begin() as conn:
        conn.execute(
            cases.update().where(cases.c.number == "agent:other:restricted").values(status="closed")
        )
    with pytest.raises(AccessDenied):
        store.check("u_agent", "view", "agent:other:restricted")


def test_unknown_names_in_policy_are_rejected(tmp_path) -> None:
    from icm_bridge import load_policy

    bad = tmp_path / "policy.toml"
    bad.write_text(
        'version = 1\ntraining_valid_days = 365\n[global]\n[[allow]]\nroles = ["agent"]\n'
        'relations = ["owner"]\nstates = ["open"]\nactions = ["delete-everything"]\n'
    )
    with pytest.raises(ConfigError, match="delete-everything"):
        load_policy(bad)
    assert len(load_policy().allowed) > 0
