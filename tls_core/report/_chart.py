"""The link chart as a graph with a deterministic, seeded layout (pure Python).

Cases and shared identifiers are nodes; an edge joins a case to an identifier for each link
type the identifier carries between that case and another one. Suppressed hubs sit in their
own band on the right, joined to the cases that hold them by ``suppressed`` edges.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from typing import Final, Literal, TypeAlias

from tls_core.report._model import ChartLinkType, ReportData

__all__ = ["Chart", "ChartEdge", "ChartNode", "NodeKind", "build_chart"]

NodeKind: TypeAlias = Literal["case", "identifier", "hub"]
"""Node kinds: a case, a shared identifier, a suppressed hub."""

WIDTH: Final = 760.0  # main area at least; the hub band adds its own width
HUB_BAND: Final = 200.0
NODE_AREA: Final = 110.0 * 110.0  # room per node, in square user units
TOP: Final = 92.0
MARGIN: Final = 48.0
X_MARGIN: Final = 96.0  # room for half a case box and an identifier label
HUB_SPACING: Final = 40.0


@dataclass(frozen=True)
class ChartNode:
    """A node placed on the chart."""

    id: str
    """``case:<number>`` or ``id:<canonical>``."""
    kind: NodeKind
    """What the node stands for."""
    label: str
    """Case number or canonical identifier."""
    detail: str
    """Tooltip text."""
    x: float
    """Centre, in SVG user units."""
    y: float
    """Centre, in SVG user units."""
    restricted: bool = False
    """A restricted case (drawn with a red dashed border)."""


@dataclass(frozen=True)
class ChartEdge:
    """An edge between a case node and an identifier node."""

    source: str
    """Case node id."""
    target: str
    """Identifier node id."""
    link_type: ChartLinkType
    """Link type (colour and dash), or ``suppressed`` for a hub."""
    strength: float
    """Strongest link through this edge, in [0, 1] (width)."""
    records: int
    """Records of the case that hold the identifier (tooltip)."""


@dataclass(frozen=True)
class Chart:
    """Nodes and edges with their positions and the canvas size."""

    nodes: tuple[ChartNode, ...]
    """Cases first (by number), then identifiers, then hubs (by kind and value)."""
    edges: tuple[ChartEdge, ...]
    """Sorted by source, target and link type."""
    width: float
    """Canvas width."""
    height: float
    """Canvas height."""
    hub_band_x: float | None
    """Left edge of the suppressed-hub band, or None when there is no hub."""


def build_chart(data: ReportData, *, seed: int = 0) -> Chart:
    """Return the chart of ``data``, laid out deterministically from ``seed``.

    Same data and seed give the same positions on every run and platform (plain float
    arithmetic in a fixed order, rounded to 0.1 unit).
    """
    edges = _edges(data)
    hubs = sorted(
        (i for i in data.identifiers if i.suppressed), key=lambda i: (i.kind, i.canonical)
    )
    nodes = _main_nodes(data)
    main_right, main_height = _canvas(len(nodes))
    height = max(main_height, TOP + MARGIN + HUB_SPACING * len(hubs))
    width = main_right + (HUB_BAND if hubs else 0.0)
    placed = _force_layout(
        [n[0] for n in nodes],
        sorted({(e.source, e.target) for e in edges if e.link_type != "suppressed"}),
        box=(X_MARGIN, TOP, main_right - X_MARGIN, height - MARGIN),
        seed=seed,
    )
    out = [ChartNode(i, k, lbl, det, *placed[i], r) for i, k, lbl, det, r in nodes]
    hub_x = main_right + HUB_BAND / 2
    for n, hub in enumerate(hubs):
        detail = f"{hub.kind} {hub.canonical}: suppressed hub ({hub.suppressed_reason or 'hub'})"
        y = TOP + HUB_SPACING / 2 + n * HUB_SPACING
        out.append(ChartNode(f"id:{hub.canonical}", "hub", hub.canonical, detail, hub_x, y))
    return Chart(tuple(out), edges, width, height, main_right if hubs else None)


def _canvas(nodes: int) -> tuple[float, float]:
    """Width and height of the main area: the page width, growing with the node count."""
    area = max(nodes, 1) * NODE_AREA
    width = max(WIDTH, round(math.sqrt(area * 1.5)))
    return float(width), max(560.0, round(area / width) + TOP + MARGIN)


def _main_nodes(data: ReportData) -> list[tuple[str, NodeKind, str, str, bool]]:
    nodes: list[tuple[str, NodeKind, str, str, bool]] = []
    for case in sorted(data.cases, key=lambda c: c.number):
        badge = " (restricted)" if case.restricted else ""
        detail = f"{case.number}{badge}: {case.title}. Owner {case.owner_name}, {case.owner_office}"
        nodes.append((f"case:{case.number}", "case", case.number, detail, case.restricted))
    for ident in sorted(data.identifiers, key=lambda i: (i.kind, i.canonical)):
        if not ident.suppressed:
            detail = f"{ident.kind} {ident.canonical}"
            nodes.append((f"id:{ident.canonical}", "identifier", ident.canonical, detail, False))
    return nodes


def _edges(data: ReportData) -> tuple[ChartEdge, ...]:
    best: dict[tuple[str, str, ChartLinkType], tuple[float, int]] = {}
    for link in data.links:
        for row in link.evidence:
            for case, records in ((link.case_a, row.records_a), (link.case_b, row.records_b)):
                key: tuple[str, str, ChartLinkType] = (
                    f"case:{case}",
                    f"id:{row.identifier}",
                    row.link_type,
                )
                old_strength, old_records = best.get(key, (0.0, 0))
                best[key] = (max(old_strength, link.strength), max(old_records, records))
    for ident in data.identifiers:
        if ident.suppressed:
            for case in ident.cases:
                best[(f"case:{case}", f"id:{ident.canonical}", "suppressed")] = (0.0, 0)
    return tuple(
        ChartEdge(src, dst, lt, strength, records)
        for (src, dst, lt), (strength, records) in sorted(best.items())
    )


def _force_layout(
    ids: list[str],
    pairs: list[tuple[str, str]],
    *,
    box: tuple[float, float, float, float],
    seed: int,
) -> dict[str, tuple[float, float]]:
    """Fruchterman-Reingold with gravity, seeded; returns rounded positions inside ``box``."""
    x0, y0, x1, y1 = box
    n = len(ids)
    if n == 0:
        return {}
    rng = random.Random(seed)
    pos = [[rng.uniform(x0, x1), rng.uniform(y0, y1)] for _ in ids]
    index = {node: i for i, node in enumerate(ids)}
    links = [(index[a], index[b]) for a, b in pairs]
    k = 0.8 * math.sqrt((x1 - x0) * (y1 - y0) / n)
    iterations = 200 if n <= 150 else max(30, 30000 // n)
    centre = ((x0 + x1) / 2, (y0 + y1) / 2)
    for step in range(iterations):
        temperature = (x1 - x0) / 10 * (1 - step / iterations) + 0.5
        disp = _forces(pos, links, k, centre)
        for i in range(n):
            dx, dy = disp[i]
            length = math.hypot(dx, dy) or 1.0
            move = min(length, temperature) / length
            pos[i][0] = min(x1, max(x0, pos[i][0] + dx * move))
            pos[i][1] = min(y1, max(y0, pos[i][1] + dy * move))
    return {node: (round(pos[i][0], 1), round(pos[i][1], 1)) for node, i in index.items()}


def _forces(
    pos: list[list[float]],
    links: list[tuple[int, int]],
    k: float,
    centre: tuple[float, float],
) -> list[list[float]]:
    n = len(pos)
    disp = [[0.0, 0.0] for _ in range(n)]
    for i in range(n):
        xi, yi = pos[i]
        for j in range(i + 1, n):
            dx, dy = xi - pos[j][0], yi - pos[j][1]
            dist2 = max(dx * dx + dy * dy, 0.01)
            push = k * k / dist2
            disp[i][0] += dx * push
            disp[i][1] += dy * push
            disp[j][0] -= dx * push
            disp[j][1] -= dy * push
    for a, b in links:
        dx, dy = pos[a][0] - pos[b][0], pos[a][1] - pos[b][1]
        pull = math.hypot(dx, dy) / k
        disp[a][0] -= dx * pull
        disp[a][1] -= dy * pull
        disp[b][0] += dx * pull
        disp[b][1] += dy * pull
    # Gravity keeps unlinked cases near the middle instead of pinned to the border. With
    # k^2 proportional to area / n, the total repulsion on a node does not grow with n, so a
    # constant pull balances it at any size.
    gravity = 1.5
    for i in range(n):
        disp[i][0] -= (pos[i][0] - centre[0]) * gravity
        disp[i][1] -= (pos[i][1] - centre[1]) * gravity
    return disp
