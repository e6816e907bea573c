"""The offline report page: inline CSS, inline SVG chart, tables, data as JSON, a small script.

The page fetches nothing: its Content-Security-Policy allows no source at all except its own
inline style and the one inline script, pinned by hash, so even an escaping bug could not run
an injected script. Everything but hover highlight and the link-type filter works without
JavaScript.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import asdict
from datetime import datetime
from typing import Any, Final

from tls_core.report._chart import Chart
from tls_core.report._model import ReportData
from tls_core.report._sections import (
    alerts_section,
    cases_section,
    contacts_section,
    identifiers_section,
    restricted_section,
    timeline_section,
)
from tls_core.report._svg import EDGE_STYLES, render_svg
from tls_core.report._text import script_json, text

__all__ = ["SCRIPT", "render_html"]

STYLE: Final = """
body{font:14px/1.45 "DejaVu Sans",Arial,sans-serif;margin:0;color:#1b1b1b;background:#fafafa}
header,main{max-width:1000px;margin:0 auto;padding:0 16px}
h1{font-size:22px;margin:16px 0 4px}h2{font-size:18px;margin:28px 0 8px;
border-bottom:2px solid #1f2a44}h3{font-size:15px;margin:16px 0 6px}
.banner{background:#fff3bf;border-bottom:2px solid #e0b000;padding:6px 16px;text-align:center;
font-weight:bold}
.meta{color:#555}nav a{margin-right:12px}
table{border-collapse:collapse;width:100%;margin:6px 0 14px;background:#fff}
th,td{border:1px solid #ccc;padding:3px 6px;text-align:left;vertical-align:top;
overflow-wrap:anywhere}
th{background:#eef1f6}tr.hub td{color:#777}code{font-size:13px}
.lt{border-left:4px solid;padding-left:4px;white-space:nowrap}
.badge{background:#7a1f1f;color:#fff;border-radius:3px;padding:0 5px;font-size:12px}
.alert{background:#fff;border:1px solid #ddd;border-radius:6px;padding:4px 12px;margin:10px 0}
.empty{font-size:16px;padding:12px;background:#fff;border:1px dashed #999}
#chart-wrap{overflow-x:auto;background:#fff;border:1px solid #ddd}
#chart-filters{border:1px solid #ddd;margin:6px 0;padding:4px 10px;background:#fff}
#chart-filters label{margin-right:14px;white-space:nowrap}
svg [data-node]:focus{outline:2px solid #0072b2}
.dim{opacity:.12}
@media print{#chart-filters,nav{display:none}}
"""

SCRIPT: Final = """
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("report-data").textContent);
  var svg = document.getElementById("link-chart");
  var controls = document.getElementById("chart-filters");
  var status = document.getElementById("chart-status");
  var all = function (root, sel) { return Array.prototype.slice.call(root.querySelectorAll(sel)); };
  var edges = all(svg, "[data-edge]");
  var nodes = all(svg, "[data-node]");
  var rows = all(document, "tr[data-evidence]");
  function hiddenTypes() {
    var off = {};
    all(controls, "input[data-filter]").forEach(function (box) {
      if (!box.checked) { off[box.getAttribute("data-filter")] = true; }
    });
    return off;
  }
  function update() {
    var off = hiddenTypes();
    var shown = 0;
    edges.forEach(function (e) {
      var hide = off[e.getAttribute("data-link-type")] === true;
      e.style.display = hide ? "none" : "";
      if (!hide) { shown += 1; }
    });
    rows.forEach(function (r) {
      r.style.display = off[r.getAttribute("data-link-type")] === true ? "none" : "";
    });
    status.textContent = shown + " of " + edges.length + " edges shown; " +
      data.links.length + " links between " + data.cases.length + " cases.";
  }
  function highlight(id) {
    var near = {};
    near[id] = true;
    edges.forEach(function (e) {
      var s = e.getAttribute("data-source"), t = e.getAttribute("data-target");
      var on = id === null || s === id || t === id;
      if (on && id !== null) { near[s] = true; near[t] = true; }
      e.classList.toggle("dim", !on);
    });
    nodes.forEach(function (n) {
      n.classList.toggle("dim", id !== null && near[n.getAttribute("data-id")] !== true);
    });
  }
  nodes.forEach(function (n) {
    var id = n.getAttribute("data-id");
    n.addEventListener("mouseenter", function () { highlight(id); });
    n.addEventListener("focus", function () { highlight(id); });
    n.addEventListener("mouseleave", function () { highlight(null); });
    n.addEventListener("blur", function () { highlight(null); });
  });
  controls.addEventListener("change", update);
  controls.hidden = false;
  update();
}());
"""


def render_html(data: ReportData, chart: Chart) -> str:
    """Return the whole page for ``data`` with ``chart`` drawn inline."""
    csp = (
        "default-src 'none'; style-src 'unsafe-inline'; img-src data:;"
        f" script-src '{_sha256(SCRIPT)}'; base-uri 'none'; form-action 'none'"
    )
    banner = (
        '<div class="banner" id="synthetic-banner" role="note">Synthetic data: no real'
        " person, case or device.</div>"
        if data.synthetic
        else ""
    )
    return "\n".join(
        [
            "<!DOCTYPE html>",
            '<html lang="en"><head><meta charset="utf-8">',
            f'<meta http-equiv="Content-Security-Policy" content="{csp}">',
            '<meta name="viewport" content="width=device-width, initial-scale=1">',
            '<meta name="referrer" content="no-referrer">',
            f"<title>{text(data.title)}</title><style>{STYLE}</style></head><body>",
            banner,
            _header(data),
            "<main>",
            _chart_section(data, chart),
            alerts_section(data),
            restricted_section(data),
            timeline_section(data),
            contacts_section(data),
            cases_section(data),
            identifiers_section(data),
            "</main>",
            '<script type="application/json" id="report-data">',
            script_json(_plain(data)),
            "</script>",
            f"<script>{SCRIPT}</script>",
            "</body></html>",
            "",
        ]
    )


def _header(data: ReportData) -> str:
    links = len(data.links)
    summary = f"{len(data.cases)} cases, {links} link{'s' if links != 1 else ''}"
    sections = [
        ("chart", "Chart"),
        ("alerts", "Links"),
        ("restricted", "Restricted"),
        ("timeline", "Timeline"),
        ("contacts", "Contacts"),
        ("cases", "Cases"),
        ("identifiers", "Identifiers"),
    ]
    if not data.restricted:
        sections.remove(("restricted", "Restricted"))
    nav = "".join(f'<a href="#{anchor}">{label}</a>' for anchor, label in sections)
    return (
        f'<header><h1>{text(data.title)}</h1><p class="meta">Generated'
        f" {data.generated_utc.strftime('%Y-%m-%d %H:%M')} UTC &middot; {summary}</p>"
        f"<nav>{nav}</nav></header>"
    )


def _chart_section(data: ReportData, chart: Chart) -> str:
    present = {e.link_type for e in chart.edges}
    boxes = "".join(
        f'<label><input type="checkbox" checked data-filter="{lt}"> {label}</label>'
        for lt, (_colour, _dash, label) in EDGE_STYLES.items()
        if lt in present
    )
    return (
        '<section id="chart"><h2>Link chart</h2>'
        '<fieldset id="chart-filters" hidden><legend>Show link types</legend>'
        f'{boxes}<output id="chart-status"></output></fieldset>'
        f'<div id="chart-wrap">{render_svg(chart, title=data.title)}</div></section>'
    )


def _sha256(source: str) -> str:
    digest = hashlib.sha256(source.encode()).digest()
    return "sha256-" + base64.b64encode(digest).decode()


def _plain(data: ReportData) -> dict[str, Any]:
    return _jsonable(asdict(data))  # type: ignore[no-any-return]


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return value
