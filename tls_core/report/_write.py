"""Write a report directory: the page, the chart as SVG, and the chart as PNG when possible."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, TypeAlias

from tls_core.errors import ConfigError
from tls_core.report._chart import build_chart
from tls_core.report._html import render_html
from tls_core.report._model import ReportData, check_report_data
from tls_core.report._png import find_graphviz, render_png
from tls_core.report._svg import render_svg

__all__ = ["PngOption", "ReportFiles", "write_report"]

PngOption: TypeAlias = Literal["auto", "always", "never"]
"""PNG output: ``auto`` draws it when Graphviz is installed (else a note says why not),
``always`` raises :class:`~tls_core.errors.ConfigError` without Graphviz, ``never`` skips it."""

HTML_NAME = "report.html"
SVG_NAME = "link-chart.svg"
PNG_NAME = "link-chart.png"


@dataclass(frozen=True)
class ReportFiles:
    """The files a report wrote."""

    html: Path
    """The self-contained page (``report.html``)."""
    svg: Path
    """The chart alone (``link-chart.svg``)."""
    png: Path | None
    """The chart as PNG (``link-chart.png``), or None when it was not drawn."""
    notes: tuple[str, ...] = ()
    """What the user should know, e.g. why there is no PNG."""


def write_report(
    data: ReportData,
    out_dir: str | os.PathLike[str],
    *,
    seed: int = 0,
    png: PngOption = "auto",
    graphviz: str = "neato",
) -> ReportFiles:
    """Write the report of ``data`` into ``out_dir`` (created if missing) and return its files.

    The output depends only on ``data`` and ``seed``: the same input gives byte-identical
    files. ``graphviz`` names (or is the path of) the Graphviz ``neato`` program.
    """
    if png not in ("auto", "always", "never"):
        raise ConfigError(
            "unknown png option",
            value=str(png),
            reason="unknown_option",
            hint="use auto, always or never",
        )
    check_report_data(data)
    out = Path(out_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(
            "cannot create the report directory", file=str(out), reason="bad_out_dir", hint=str(exc)
        ) from exc
    chart = build_chart(data, seed=seed)
    html_path, svg_path = out / HTML_NAME, out / SVG_NAME
    _write_text(html_path, render_html(data, chart))
    _write_text(svg_path, render_svg(chart, title=data.title, standalone=True))
    png_path: Path | None = None
    notes: list[str] = []
    if png == "always" or (png == "auto" and find_graphviz(graphviz) is not None):
        png_path = out / PNG_NAME
        render_png(chart, png_path, program=graphviz)
    elif png == "auto":
        notes.append(f"no PNG: Graphviz ({graphviz}) is not installed; apt-get install graphviz")
    return ReportFiles(html_path, svg_path, png_path, tuple(notes))


def _write_text(path: Path, content: str) -> None:
    # Write beside, then rename: a reader never sees half a page.
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(content, encoding="utf-8", newline="\n")
    tmp.replace(path)
