"""``path``: the shortest identifier chains between two cases (case - identifier - case ...)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from tls_core.protocols import AccessPolicy, AuditEvent, AuditSink
from tls_core.search._audit import outcome_of
from tls_core.search._groups import case_identifiers
from tls_core.search._index import open_index
from tls_core.store import Repository

__all__ = ["CasePath", "PathResult", "path"]

Node = tuple[str, ...]
"""``("case", number)`` or ``("id", kind, canonical)``."""


@dataclass(frozen=True, order=True)
class CasePath:
    """One shortest chain: ``cases[i]`` and ``cases[i + 1]`` both hold ``identifiers[i]``."""

    cases: tuple[str, ...]
    """From the first case to the second, both included."""
    identifiers: tuple[tuple[str, str], ...]
    """``(kind, canonical)`` of each identifier linking consecutive cases."""


@dataclass(frozen=True)
class PathResult:
    """Every shortest chain of at most ``max_hops`` case-to-case hops (up to ``limit``)."""

    case_a: str
    """Where the chains start."""
    case_b: str
    """Where they end."""
    hops: int | None
    """Case-to-case hops of the shortest chains; None when none within ``max_hops``."""
    paths: tuple[CasePath, ...]
    """The chains, in order of their node sequences."""
    truncated: bool
    """True when there were more than ``limit`` chains."""
    snapshot_version: int
    """Registry version searched."""


def path(
    repo: Repository,
    case_a: str,
    case_b: str,
    *,
    actor: str,
    access: AccessPolicy,
    audit: AuditSink,
    max_hops: int = 3,
    limit: int = 100,
) -> PathResult:
    """Find the shortest identifier chains between two cases the actor may see.

    The graph has a node per case and per identifier (exact canonical value and kind) and an
    edge where a case's records hold the identifier; cases the actor may not see
    (``AccessPolicy.visible_cases``) are left out, so no chain passes through them.

    Raises:
        AccessDenied: the actor may not see one of the two cases (audited ``denied``).
    """
    criteria = {"case_a": case_a, "case_b": case_b, "max_hops": str(max_hops)}
    try:
        access.check(actor, "search-hit", case_a)
        access.check(actor, "search-hit", case_b)
        snap = repo.snapshot()
        index, _ = open_index(repo, snap)
        table = case_identifiers(index)
        visible = access.visible_cases(actor, set(table.column("case_id").to_pylist()))
    except Exception as err:
        outcome = outcome_of(err)
        audit.append(AuditEvent(actor, "path", outcome, (case_a, case_b), criteria=criteria))
        raise
    graph = _graph(table.to_pylist(), visible)
    found = list(_shortest(graph, ("case", case_a), ("case", case_b), 2 * max_hops, limit + 1))
    audit.append(AuditEvent(actor, "path", "ok", (case_a, case_b), criteria=criteria))
    chains = tuple(sorted(_chain(nodes) for nodes in found[:limit]))
    return PathResult(
        case_a=case_a,
        case_b=case_b,
        hops=len(chains[0].identifiers) if chains else None,
        paths=chains,
        truncated=len(found) > limit,
        snapshot_version=snap.version,
    )


def _graph(rows: list[dict[str, str]], visible: frozenset[str]) -> dict[Node, list[Node]]:
    graph: dict[Node, set[Node]] = {}
    for row in rows:
        if row["case_id"] not in visible:
            continue
        case: Node = ("case", row["case_id"])
        ident: Node = ("id", row["kind"], row["identifier"])
        graph.setdefault(case, set()).add(ident)
        graph.setdefault(ident, set()).add(case)
    return {node: sorted(edges) for node, edges in graph.items()}


def _shortest(
    graph: Mapping[Node, list[Node]], start: Node, goal: Node, cutoff: int, limit: int
) -> Iterator[list[Node]]:
    """Yield every shortest path (at most ``cutoff`` edges; first ``limit``) from a BFS."""
    if start not in graph or goal not in graph:
        return
    if start == goal:
        yield [start]
        return
    parents: dict[Node, list[Node]] = {start: []}
    frontier, depth = [start], 0
    while frontier and goal not in parents and depth < cutoff:
        depth += 1
        reached: dict[Node, list[Node]] = {}
        for node in frontier:
            for nxt in graph[node]:
                if nxt not in parents:
                    reached.setdefault(nxt, []).append(node)
        parents.update(reached)
        frontier = sorted(reached)
    if goal not in parents:
        return
    yield from _unwind(parents, goal, limit)


def _unwind(parents: Mapping[Node, list[Node]], goal: Node, limit: int) -> Iterator[list[Node]]:
    stack: list[tuple[Node, list[Node]]] = [(goal, [goal])]
    count = 0
    while stack and count < limit:
        node, tail = stack.pop()
        if not parents[node]:
            count += 1
            yield tail[::-1]
            continue
        for parent in sorted(parents[node], reverse=True):
            stack.append((parent, [*tail, parent]))


def _chain(nodes: list[Node]) -> CasePath:
    cases = tuple(n[1] for n in nodes[::2])
    idents = tuple((n[1], n[2]) for n in nodes[1::2])
    return CasePath(cases, idents)
