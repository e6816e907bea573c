"""The page's sections below the chart: plain HTML tables that need no script."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from datetime import datetime

from tls_core.report._model import ReportCase, ReportData, ReportLink, TimelineEvent
from tls_core.report._svg import EDGE_STYLES
from tls_core.report._text import attr, clip, text

__all__ = [
    "alerts_section",
    "cases_section",
    "contacts_section",
    "identifiers_section",
    "restricted_section",
    "timeline_section",
]


def alerts_section(data: ReportData) -> str:
    """Each link (alert) with its cases, owners, types, strength and evidence table."""
    if not data.links:
        return (
            '<section id="alerts"><h2>Links</h2><p id="no-links" class="empty">'
            "No links: none of these cases shares an identifier with another.</p></section>"
        )
    owners = {c.number: c for c in data.cases}
    links = sorted(data.links, key=lambda k: (-k.strength, k.case_a, k.case_b))
    parts = ['<section id="alerts"><h2>Links</h2>']
    for n, link in enumerate(links):
        parts.append(_alert(n, link, owners))
    parts.append("</section>")
    return "".join(parts)


def _alert(n: int, link: ReportLink, owners: dict[str, ReportCase]) -> str:
    who = []
    for case in (link.case_a, link.case_b):
        c = owners[case]
        who.append(f"<b>{text(case)}</b> ({text(c.owner_name)}, {text(c.owner_office)})")
    types = ", ".join(_type_label(t) for t in link.link_types)
    alert = f", alert {text(link.alert_id)}" if link.alert_id else ""
    return (
        f'<article class="alert" data-link="{n}"><h3>{text(link.case_a)} &#8596;'
        f" {text(link.case_b)}</h3><p>{' and '.join(who)}: {types}; strength"
        f" <b>{link.strength:.2f}</b>{alert}.</p>{_evidence_table(n, link)}</article>"
    )


def _evidence_table(n: int, link: ReportLink) -> str:
    head = [
        "Identifier",
        "Kind",
        "Link type",
        "Match",
        f"Records in {text(link.case_a)}",
        f"Records in {text(link.case_b)}",
        "First seen (UTC)",
        "Last seen (UTC)",
    ]
    rows = [
        _row(
            [
                f"<code>{text(r.identifier)}</code>",
                text(r.kind),
                _type_label(r.link_type),
                text(r.grade),
                str(r.records_a),
                str(r.records_b),
                _time(r.first_seen_utc),
                _time(r.last_seen_utc),
            ],
            extra=f' data-evidence="{n}" data-link-type="{r.link_type}"',
        )
        for r in link.evidence
    ]
    return _table("evidence", head, rows)


def cases_section(data: ReportData) -> str:
    """The cases in the report and their owners."""
    rows = [
        _row(
            [
                f"<b>{text(c.number)}</b>",
                text(c.title),
                text(c.owner_name),
                text(c.owner_office),
                '<span class="badge">restricted</span>' if c.restricted else "",
            ]
        )
        for c in sorted(data.cases, key=lambda c: c.number)
    ]
    head = ["Case", "Title", "Owner", "Office", ""]
    return '<section id="cases"><h2>Cases</h2>' + _table("cases", head, rows) + "</section>"


def identifiers_section(data: ReportData) -> str:
    """Shared identifiers and suppressed hubs with the reason they are suppressed."""
    idents = sorted(data.identifiers, key=lambda i: (i.suppressed, i.kind, i.canonical))
    rows = [
        _row(
            [
                f"<code>{text(i.canonical)}</code>",
                text(i.kind),
                f"suppressed hub: {text(i.suppressed_reason or 'hub')}"
                if i.suppressed
                else "shared",
                text(", ".join(i.cases)),
            ],
            extra=' class="hub"' if i.suppressed else "",
        )
        for i in idents
    ]
    if not rows:
        return ""
    head = ["Identifier", "Kind", "Role", "Hub held by"]
    table = _table("identifiers", head, rows)
    return f'<section id="identifiers"><h2>Identifiers</h2>{table}</section>'


def restricted_section(data: ReportData) -> str:
    """Identifiers also held by restricted cases: whom to contact, nothing more."""
    if not data.restricted:
        return ""
    rows = [
        _row(
            [
                f"<code>{text(p.identifier)}</code>",
                text(p.kind),
                text(p.contact_name),
                text(p.contact_office),
            ]
        )
        for p in data.restricted
    ]
    return (
        '<section id="restricted"><h2>Restricted cases</h2><p>A restricted case also holds'
        " these identifiers. Contact the person named before acting on them.</p>"
        + _table("restricted", ["Identifier", "Kind", "Contact", "Office"], rows)
        + "</section>"
    )


def contacts_section(data: ReportData) -> str:
    """Top contacts per target, then contacts common to several targets."""
    parts = ['<section id="contacts"><h2>Contacts</h2>']
    if not data.top_contacts and not data.common_contacts:
        parts.append('<p class="empty">No contact data in this report.</p>')
    for top in data.top_contacts:
        rows = [
            _row([f"<code>{text(c.identifier)}</code>", text(c.kind), str(c.count)])
            for c in top.contacts
        ]
        parts.append(
            f"<h3>Top contacts of <code>{text(top.target)}</code> ({text(top.case)})</h3>"
            + _table("top-contacts", ["Contact", "Kind", "Calls and messages"], rows)
        )
    if data.common_contacts:
        rows = [
            _row(
                [
                    f"<code>{text(c.identifier)}</code>",
                    text(c.kind),
                    text(", ".join(c.targets)),
                    text(", ".join(c.cases)),
                    str(c.count),
                ]
            )
            for c in sorted(data.common_contacts, key=lambda c: (-c.count, c.identifier))
        ]
        head = ["Contact", "Kind", "Targets", "Cases", "Calls and messages"]
        parts.append("<h3>Common contacts across targets</h3>")
        parts.append(_table("common-contacts", head, rows))
    parts.append("</section>")
    return "".join(parts)


def timeline_section(data: ReportData) -> str:
    """Linked activity over time: one row per case, a dot per bucket sized by its count."""
    if not data.timeline:
        return (
            '<section id="timeline"><h2>Timeline</h2>'
            '<p class="empty">No linked activity to show.</p></section>'
        )
    events = sorted(data.timeline, key=lambda e: (e.case, e.time_utc, e.identifier))
    rows = [
        _row([text(e.case), f"<code>{text(e.identifier)}</code>", _time(e.time_utc), str(e.count)])
        for e in events
    ]
    table = _table("timeline", ["Case", "Identifier", "Time (UTC)", "Records"], rows)
    return (
        '<section id="timeline"><h2>Timeline</h2>'
        + _timeline_svg(events)
        + f"<details><summary>Timeline as a table</summary>{table}</details></section>"
    )


def _timeline_svg(events: Sequence[TimelineEvent]) -> str:
    cases = sorted({e.case for e in events})
    start = min(e.time_utc for e in events)
    end = max(e.time_utc for e in events)
    span = (end - start).total_seconds() or 1.0
    left, right, row_h = 150, 920, 34
    height = 40 + row_h * len(cases)
    parts = [
        f'<svg id="timeline-chart" viewBox="0 0 960 {height}" width="960" height="{height}"'
        ' role="img" aria-label="Linked activity over time, one row per case"'
        ' font-family="DejaVu Sans, Arial, sans-serif" font-size="11">'
    ]
    for r, case in enumerate(cases):
        y = 20 + r * row_h + row_h / 2
        parts.append(
            f'<text x="8" y="{y + 4}" fill="#222222">{text(clip(case, 20))}</text>'
            f'<line x1="{left}" y1="{y}" x2="{right}" y2="{y}" stroke="#DDDDDD"/>'
        )
    for e in events:
        x = left + (right - left) * (e.time_utc - start).total_seconds() / span
        y = 20 + cases.index(e.case) * row_h + row_h / 2
        radius = min(14.0, 3 + 2 * math.sqrt(e.count))
        tip = f"{e.case}, {e.identifier}: {e.count} records at {_time(e.time_utc)}"
        parts.append(
            f'<circle data-timeline-event="{attr(e.case)}" cx="{x:.1f}" cy="{y:.1f}"'
            f' r="{radius:.1f}" fill="#0072B2" fill-opacity="0.55" stroke="#004D7A">'
            f"<title>{text(tip)}</title></circle>"
        )
    axis_y = height - 6
    parts.append(
        f'<text x="{left}" y="{axis_y}" fill="#555555">{_time(start)}</text>'
        f'<text x="{right}" y="{axis_y}" text-anchor="end" fill="#555555">{_time(end)}</text>'
        "</svg>"
    )
    return "".join(parts)


def _type_label(link_type: str) -> str:
    colour, _dash, label = EDGE_STYLES[link_type]
    return f'<span class="lt" style="border-color:{colour}">{label}</span>'


def _time(value: datetime | None) -> str:
    return "" if value is None else value.strftime("%Y-%m-%d %H:%M")


def _row(cells: Iterable[str], *, extra: str = "") -> str:
    return f"<tr{extra}>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>"


def _table(name: str, head: Sequence[str], rows: Sequence[str]) -> str:
    header = "".join(f'<th scope="col">{h}</th>' for h in head)
    return (
        f'<table class="{name}"><thead><tr>{header}</tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table>"
    )
