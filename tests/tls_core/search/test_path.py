"""path(): shortest identifier chains equal networkx's on generated small repositories."""

from __future__ import annotations

import itertools
import tempfile
from pathlib import Path

import networkx as nx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from searchkit import commit_calls

from tls_core.errors import AccessDenied
from tls_core.search import path
from tls_core.store import Repository

SHARED = [f"+1202555010{k}" for k in range(4)]
_RUN = itertools.count()


def _target(i: int) -> str:
    return f"+1303555000{i}"


@st.composite
def worlds(draw):
    n = draw(st.integers(2, 5))
    pool = SHARED + [_target(i) for i in range(n)]
    contacts = [
        draw(st.sets(st.sampled_from([p for p in pool if p != _target(i)]), max_size=3))
        for i in range(n)
    ]
    restricted = draw(st.none() | st.integers(1, n - 2)) if n > 2 else None
    return contacts, restricted, draw(st.integers(1, 3))


def _oracle(contacts, restricted, names, max_hops):
    g = nx.Graph()
    for i, others in enumerate(contacts):
        if i == restricted or not others:
            continue
        for ident in {*others, _target(i)}:
            g.add_edge(("case", names[i]), ("id", "phone", ident))
    a, b = ("case", names[0]), ("case", names[-1])
    if a not in g or b not in g or not nx.has_path(g, a, b):
        return set()
    paths = {tuple(p) for p in nx.all_shortest_paths(g, a, b)}
    return {p for p in paths if len(p) - 1 <= 2 * max_hops}


def _nodes(chain):
    out = [("case", chain.cases[0])]
    for (kind, ident), case in zip(chain.identifiers, chain.cases[1:], strict=True):
        out += [("id", kind, ident), ("case", case)]
    return tuple(out)


@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(world=worlds())
def test_path_equals_networkx_shortest_paths(office, world):
    contacts, restricted, max_hops = world
    run = next(_RUN)
    names = [f"P{run}-{i}" for i in range(len(contacts))]
    for i, name in enumerate(names):
        owner = "bob" if i == restricted else "alice"
        office.open_case(owner, name, owner=owner, restricted=i == restricted)
    with tempfile.TemporaryDirectory() as tmp:
        repo = Repository.open(Path(tmp) / "repo")
        for i, others in enumerate(contacts):
            calls = [(_target(i), o, k) for k, o in enumerate(sorted(others))]
            if calls:
                commit_calls(repo, names[i], f"{names[i]}.csv", calls)
        result = path(
            repo,
            names[0],
            names[-1],
            actor="alice",
            access=office,
            audit=office,
            max_hops=max_hops,
            limit=10_000,
        )
    expected = _oracle(contacts, restricted, names, max_hops)
    assert {_nodes(c) for c in result.paths} == expected
    assert not result.truncated
    assert result.hops == (len(next(iter(expected))) // 2 if expected else None)


def test_path_through_a_shared_number_and_limit(repo, office):
    for name in ("A", "B", "C"):
        office.open_case("alice", name, owner="alice")
    commit_calls(repo, "A", "a.csv", [(_target(0), SHARED[0], 0), (_target(0), SHARED[1], 1)])
    commit_calls(repo, "B", "b.csv", [(_target(1), SHARED[0], 0), (_target(1), SHARED[1], 1)])
    commit_calls(repo, "C", "c.csv", [(_target(2), _target(1), 0)])
    result = path(repo, "A", "C", actor="alice", access=office, audit=office)
    assert result.hops == 2
    assert [c.cases for c in result.paths] == [("A", "B", "C"), ("A", "B", "C")]
    assert {c.identifiers[0][1] for c in result.paths} == {SHARED[0], SHARED[1]}
    limited = path(repo, "A", "C", actor="alice", access=office, audit=office, limit=1)
    assert len(limited.paths) == 1
    assert limited.truncated
    none = path(repo, "A", "C", actor="alice", access=office, audit=office, max_hops=1)
    assert (none.hops, none.paths) == (None, ())
    events = [e for e in office.read_audit("opr", user="alice") if e.action == "path"]
    assert [e.outcome for e in events] == ["ok", "ok", "ok"]


def test_path_to_a_case_one_may_not_see_is_denied(repo, office):
    office.open_case("alice", "A", owner="alice")
    office.open_case("bob", "R", owner="bob", restricted=True)
    with pytest.raises(AccessDenied):
        path(repo, "A", "R", actor="alice", access=office, audit=office)
    events = [e for e in office.read_audit("opr", user="alice") if e.action == "path"]
    assert [e.outcome for e in events] == ["denied"]
