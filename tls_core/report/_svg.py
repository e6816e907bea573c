"""Draw a :class:`Chart` as SVG: the same markup inline in the page and in the ``.svg`` file.

Styling is in presentation attributes (no stylesheet), so the file looks the same in any
viewer and with scripts off. Every node carries ``data-node`` and every edge ``data-edge``
with its ``data-link-type``: the page's script and the browser tests count and filter them.
"""

from __future__ import annotations

import math
from typing import Final

from tls_core.report._chart import Chart, ChartEdge, ChartNode
from tls_core.report._text import attr, clip, text

__all__ = ["EDGE_STYLES", "render_svg"]

EDGE_STYLES: Final[dict[str, tuple[str, str, str]]] = {
    # link type: (colour, dash array, legend label). Okabe-Ito colours: colour-blind safe,
    # and the dash pattern tells the types apart in greyscale too.
    "common_target": ("#D55E00", "", "common target"),
    "direct_contact": ("#0072B2", "", "direct contact"),
    "common_contact": ("#009E73", "7 4", "common contact"),
    "device_continuity": ("#CC79A7", "2 3", "device continuity"),
    "subscriber_match": ("#8A6D00", "9 3 2 3", "subscriber match"),
    "misc_match": ("#56B4E9", "1 4", "misc match"),
    "suppressed": ("#9A9A9A", "3 3", "suppressed hub"),
}
"""Colour, dash pattern and legend label of each chart edge type."""

_FONT: Final = 'font-family="DejaVu Sans, Arial, sans-serif" font-size="11"'
# A white outline behind identifier labels keeps them readable where edges cross them.
_HALO: Final = 'stroke="#FFFFFF" stroke-width="3" stroke-linejoin="round" paint-order="stroke"'
_CASE_FILL: Final = "#1F2A44"
_ID_FILL: Final = "#FFFFFF"
_HUB_FILL: Final = "#E4E4E4"


def render_svg(chart: Chart, *, title: str, standalone: bool = False) -> str:
    """Return the chart as SVG markup (an XML document when ``standalone``)."""
    w, h = _num(chart.width), _num(chart.height)
    head = '<?xml version="1.0" encoding="UTF-8"?>\n' if standalone else ""
    nodes = {n.id: n for n in chart.nodes}
    offsets = _offsets(chart.edges)
    parts = [
        f'{head}<svg xmlns="http://www.w3.org/2000/svg" id="link-chart" viewBox="0 0 {w} {h}"'
        f' width="{w}" height="{h}" role="img" aria-labelledby="chart-title chart-desc">',
        f'<title id="chart-title">{text(title)}: link chart</title>',
        f'<desc id="chart-desc">{_describe(chart)}</desc>',
        f'<rect x="0" y="0" width="{w}" height="{h}" fill="#FFFFFF"/>',
        _legend(),
        _hub_band(chart),
        '<g class="edges">',
        *(_edge(nodes, e, i, offsets[i]) for i, e in enumerate(chart.edges)),
        "</g>",
        '<g class="nodes">',
        *(_node(n) for n in chart.nodes),
        "</g>",
        "</svg>\n" if standalone else "</svg>",
    ]
    return "\n".join(p for p in parts if p)


def _describe(chart: Chart) -> str:
    cases = sum(1 for n in chart.nodes if n.kind == "case")
    idents = sum(1 for n in chart.nodes if n.kind == "identifier")
    hubs = sum(1 for n in chart.nodes if n.kind == "hub")
    return (
        f"{cases} cases, {idents} shared identifiers and {hubs} suppressed hubs;"
        f" {len(chart.edges)} edges, coloured by link type, wider when stronger."
    )


def _legend() -> str:
    items = ['<g class="legend" ' + _FONT + ">"]
    for n, (link_type, (colour, dash, label)) in enumerate(EDGE_STYLES.items()):
        x, y = 16 + (n % 4) * 150, 18 + (n // 4) * 20
        dash_attr = f' stroke-dasharray="{dash}"' if dash else ""
        items.append(
            f'<g data-legend="{link_type}"><line x1="{x}" y1="{y}" x2="{x + 34}" y2="{y}"'
            f' stroke="{colour}" stroke-width="3"{dash_attr}/>'
            f'<text x="{x + 40}" y="{y + 4}" fill="#222222">{label}</text></g>'
        )
    items.append(
        '<text x="16" y="62" fill="#444444">Wider edge = stronger link;'
        " boxes are cases (red dashed border: restricted), circles shared identifiers.</text>"
    )
    items.append("</g>")
    return "".join(items)


def _hub_band(chart: Chart) -> str:
    if chart.hub_band_x is None:
        return ""
    band = chart.hub_band_x
    x, w = _num(band + 8), _num(chart.width - band - 16)
    h, label_y = _num(chart.height - 88), _num(chart.height - 20)
    return (
        f'<g class="hub-band"><rect x="{x}" y="72" width="{w}" height="{h}" fill="#F4F4F4"'
        ' stroke="#BBBBBB" stroke-dasharray="4 3"/>'
        f'<text x="{_num(band + 16)}" y="{label_y}" {_FONT} fill="#666666">'
        "Suppressed hubs: not links</text></g>"
    )


def _offsets(edges: tuple[ChartEdge, ...]) -> list[float]:
    """Bend parallel edges (one case, one identifier, several link types) apart."""
    groups: dict[tuple[str, str], list[int]] = {}
    for i, edge in enumerate(edges):
        groups.setdefault((edge.source, edge.target), []).append(i)
    offsets = [0.0] * len(edges)
    for members in groups.values():
        for rank, i in enumerate(members):
            offsets[i] = (rank - (len(members) - 1) / 2) * 16
    return offsets


def _edge(nodes: dict[str, ChartNode], edge: ChartEdge, index: int, offset: float) -> str:
    a, b = nodes[edge.source], nodes[edge.target]
    colour, dash, label = EDGE_STYLES[edge.link_type]
    path = _curve(a, b, offset)
    width = 1.0 if edge.link_type == "suppressed" else 1.5 + 4.5 * edge.strength
    dash_attr = f' stroke-dasharray="{dash}"' if dash else ""
    opacity = "0.55" if edge.link_type == "suppressed" else "0.85"
    tip = f"{a.label} - {b.label}: {label}"
    if edge.link_type != "suppressed":
        tip += f", strength {edge.strength:.2f}, {edge.records} records in {a.label}"
    return (
        f'<path data-edge="{index}" data-link-type="{edge.link_type}"'
        f' data-source="{attr(edge.source)}" data-target="{attr(edge.target)}" d="{path}"'
        f' fill="none" stroke="{colour}" stroke-width="{_num(width)}"{dash_attr}'
        f' stroke-opacity="{opacity}"><title>{text(tip)}</title></path>'
    )


def _curve(a: ChartNode, b: ChartNode, offset: float) -> str:
    dx, dy = b.x - a.x, b.y - a.y
    length = math.hypot(dx, dy) or 1.0
    mx = (a.x + b.x) / 2 - dy / length * offset
    my = (a.y + b.y) / 2 + dx / length * offset
    return f"M{_num(a.x)},{_num(a.y)} Q{_num(mx)},{_num(my)} {_num(b.x)},{_num(b.y)}"


def _node(node: ChartNode) -> str:
    x, y = node.x, node.y
    label = text(clip(node.label, 22))
    restricted = ' data-restricted="true"' if node.restricted else ""
    head = (
        f'<g data-node="{node.kind}" data-id="{attr(node.id)}"{restricted} tabindex="0"'
        f" {_FONT}><title>{text(node.detail)}</title>"
    )
    if node.kind == "case":
        width = 16 + 7 * len(clip(node.label, 22))
        border = (
            'stroke="#B00020" stroke-width="3" stroke-dasharray="5 2"'
            if node.restricted
            else 'stroke="#000000"'
        )
        shape = (
            f'<rect x="{_num(x - width / 2)}" y="{_num(y - 13)}" width="{width}" height="26"'
            f' rx="5" fill="{_CASE_FILL}" {border}/>'
            f'<text x="{_num(x)}" y="{_num(y + 4)}" text-anchor="middle" fill="#FFFFFF"'
            f' font-weight="bold">{label}</text>'
        )
    else:
        fill, stroke = (_HUB_FILL, "#9A9A9A") if node.kind == "hub" else (_ID_FILL, "#333333")
        colour = "#777777" if node.kind == "hub" else "#222222"
        shape = (
            f'<circle cx="{_num(x)}" cy="{_num(y)}" r="7" fill="{fill}" stroke="{stroke}"'
            ' stroke-width="2"/>'
            f'<text x="{_num(x)}" y="{_num(y + 20)}" text-anchor="middle" fill="{colour}"'
            f" {_HALO}>{label}</text>"
        )
    return f"{head}{shape}</g>"


def _num(value: float) -> str:
    """Format a coordinate: at most one decimal, no ``-0``, no trailing ``.0``."""
    rounded = round(value, 1)
    if rounded == 0:
        return "0"
    return f"{rounded:.1f}".removesuffix(".0")
