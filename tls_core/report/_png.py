"""The chart as PNG through Graphviz (``neato -n2`` keeps our own positions).

Graphviz is a system tool (Debian's ``graphviz``, installed by ``.ci/browser-tier``); the PNG
is optional: without the tool the report still writes its HTML and SVG and says why no PNG.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Final

from tls_core.errors import ConfigError
from tls_core.report._chart import Chart, ChartNode
from tls_core.report._svg import EDGE_STYLES

__all__ = ["chart_dot", "find_graphviz", "render_png"]

_DOT_STYLE: Final = {"": "solid", "7 4": "dashed", "9 3 2 3": "dashed"}
_CONTROL: Final = re.compile("[\x00-\x1f\x7f]")


def find_graphviz(program: str) -> str | None:
    """Return the path of the Graphviz ``program`` (``neato``), or None when absent."""
    return shutil.which(program)


GRAPHVIZ_TIMEOUT_S: Final = 300
"""Seconds Graphviz may take to draw the chart."""


def render_png(chart: Chart, out: Path, *, program: str) -> None:
    """Write the chart as PNG to ``out`` with the Graphviz ``program`` (a path or a name)."""
    found = find_graphviz(program)
    if found is None:
        raise ConfigError(
            "Graphviz is not installed: cannot draw the chart as PNG",
            value=program,
            reason="graphviz_missing",
            hint="apt-get install graphviz, or write the report with png='auto' or 'never'",
        )
    try:
        done = subprocess.run(
            [found, "-n2", "-Tpng"],
            input=chart_dot(chart).encode(),
            capture_output=True,
            timeout=GRAPHVIZ_TIMEOUT_S,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise ConfigError(
            f"Graphviz did not draw the chart within {GRAPHVIZ_TIMEOUT_S} s",
            file=str(out),
            reason="graphviz_timeout",
            hint="write the report with png='never'; the HTML and SVG do not need Graphviz",
        ) from None
    if done.returncode != 0:
        raise ConfigError(
            "Graphviz failed to draw the chart",
            file=str(out),
            value=done.stderr.decode(errors="replace")[:500],
            reason="graphviz_failed",
        )
    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    try:
        tmp.write_bytes(done.stdout)
        os.replace(tmp, out)  # never a half-written PNG
    finally:
        tmp.unlink(missing_ok=True)


def chart_dot(chart: Chart) -> str:
    """Return the chart in the DOT language with pinned positions (points, y upwards)."""
    lines = [
        "graph chart {",
        '  graph [bgcolor="white", dpi=96, outputorder=edgesfirst];',
        '  node [fontname="DejaVu Sans", fontsize=9];',
    ]
    lines.append(_legend(chart.height))
    lines += [_dot_node(n, chart.height) for n in chart.nodes]
    for edge in chart.edges:
        colour, dash, _label = EDGE_STYLES[edge.link_type]
        width = 1.0 if edge.link_type == "suppressed" else 1.5 + 4.5 * edge.strength
        style = _DOT_STYLE.get(dash, "dotted")
        lines.append(
            f"  {_quote(edge.source)} -- {_quote(edge.target)}"
            f' [color="{colour}", penwidth={width:.2f}, style={style}];'
        )
    lines.append("}")
    return "\n".join(lines) + "\n"


def _legend(height: float) -> str:
    # Static text only (no data): safe in an HTML-like label.
    cells = "".join(
        f'<td><font color="{colour}">&#9473;&#9473;</font> {label}</td>'
        for colour, _dash, label in EDGE_STYLES.values()
    )
    return (
        f'  legend [shape=plaintext, pos="8,{height - 24:.1f}!", fontsize=9,'
        f' label=<<table border="0" cellspacing="4"><tr>{cells}</tr></table>>];'
    )


def _dot_node(node: ChartNode, height: float) -> str:
    pos = f'pos="{node.x:.1f},{height - node.y:.1f}!"'
    label = _quote(node.label if len(node.label) <= 22 else node.label[:21] + "…")
    if node.kind == "case":
        look = 'shape=box, style="rounded,filled", fillcolor="#1F2A44", fontcolor="white"'
        if node.restricted:
            look += ', color="#B00020", penwidth=3'
        return f"  {_quote(node.id)} [{pos}, label={label}, {look}];"
    fill = "#E4E4E4" if node.kind == "hub" else "white"
    look = f'shape=circle, width=0.2, fixedsize=true, style=filled, fillcolor="{fill}"'
    return f'  {_quote(node.id)} [{pos}, label="", xlabel={label}, {look}];'


def _quote(value: str) -> str:
    """Quote ``value`` as a DOT string: backslashes and quotes escaped, controls dropped."""
    cleaned = _CONTROL.sub(" ", value).replace("\\", "\\\\").replace('"', '\\"')
    return f'"{cleaned}"'
