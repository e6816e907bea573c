"""Render canonical call records in a layout: the inverse of reading, for synthetic returns.

A record is first turned into canonical *field* strings (:func:`call_fields`), which a fault
may then spoil (a bad date, a lossy number), and the rows are written in the layout's dialect
(:func:`render_rows`). Only declarative facts of the layout are used, so any layout that reads
can also be written.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import datetime
from typing import Literal
from zoneinfo import ZoneInfo

from penlink_adapters._layout import Layout

__all__ = ["SynthCall", "call_fields", "header", "render_rows"]


@dataclass(frozen=True)
class SynthCall:
    """One call or message as the ground truth knows it."""

    target: str
    """The target's number (10-digit NANP)."""
    other: str
    """The correspondent's number."""
    start: datetime
    """UTC start, whole seconds."""
    duration: int
    """Seconds."""
    direction: str
    """``outgoing`` or ``incoming`` relative to the target."""
    event: str
    """``voice`` or ``sms``."""
    imei: str | None = None
    """The target handset's IMEI, where the layout carries it."""
    imsi: str | None = None
    """The target SIM's IMSI, where the layout carries it."""


def _inverse(mapping: dict[str, str], value: str) -> str | None:
    return next((k for k, v in mapping.items() if v == value), None)


def _duration(seconds: int, fmt: str) -> str:
    if fmt == "mm:ss":
        return f"{seconds // 60:02d}:{seconds % 60:02d}"
    if fmt == "hh:mm:ss":
        return f"{seconds // 3600:02d}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"
    return str(seconds)


def supports_event(layout: Layout, event: str) -> bool:
    """Whether the layout can say ``event`` (switch CDRs only know calls)."""
    if layout.event_map:
        return event in layout.event_map.values()
    return event == (layout.event_default or "voice")


def call_fields(layout: Layout, call: SynthCall, zone: str | None) -> dict[str, str]:
    """Canonical field -> text as the layout writes it (times in ``zone`` for local layouts)."""
    outgoing = call.direction == "outgoing"
    orig, term = (call.target, call.other) if outgoing else (call.other, call.target)
    values = {
        "orig": orig,
        "term": term,
        "self": call.target,
        "other": call.other,
        "target": call.target,
        "duration": _duration(call.duration, layout.duration_format),
        "target_imei": call.imei or "",
        "target_imsi": call.imsi or "",
    }
    direction = _inverse(dict(layout.direction_map), call.direction)
    events = dict(layout.event_map)
    fitting = [
        k
        for k, e in events.items()
        if e == call.event and layout.event_direction.get(k) == call.direction
    ]
    event = fitting[0] if fitting else _inverse(events, call.event)
    if direction is not None:
        values["direction"] = direction
    if event is not None:
        values["event_type"] = event
    values.update(start_fields(layout, call.start, zone))
    return values


def start_fields(layout: Layout, start: datetime, zone: str | None) -> dict[str, str]:
    """The start time as the layout writes it."""
    if layout.epoch:
        return {"start": str(int(start.timestamp()))}
    local = start if layout.zone == "utc" or zone is None else start.astimezone(ZoneInfo(zone))
    return naive_fields(layout, local.replace(tzinfo=None))


def naive_fields(layout: Layout, naive: datetime) -> dict[str, str]:
    """A wall-clock time in the layout's first format (date and time split where it splits)."""
    fmt = next((f for f in layout.time_formats if "%z" not in f), "%Y-%m-%d %H:%M:%S")
    date_fmt, _, time_fmt = fmt.partition(" ")
    return {
        "start": naive.strftime(fmt),
        "date": naive.strftime(date_fmt),
        "time": naive.strftime(time_fmt),
    }


def header(layout: Layout) -> list[str]:
    """Column names written: the first alias of each mapped field, then other required ones."""
    if not layout.header:
        return list(layout.names[: max(layout.field_counts)])
    names = [aliases[0] for aliases in layout.columns.values()]
    return list(dict.fromkeys([*names, *layout.required, *layout.call_group]))


def render_rows(
    layout: Layout,
    rows: list[dict[str, str]],
    *,
    delimiter: str | None = None,
    quoting: Literal[0, 1, 2, 3] = csv.QUOTE_MINIMAL,
    newline: str = "\r\n",
    preamble: list[str] | None = None,
) -> str:
    """Write field dicts (from :func:`call_fields`) as the layout's text."""
    cols = header(layout)
    source = {aliases[0]: fld for fld, aliases in layout.columns.items()}
    delim = delimiter or layout.delimiters[0]
    buf = io.StringIO()
    writer = csv.writer(buf, delimiter=delim, quoting=quoting, lineterminator=newline)
    for line in preamble or []:
        writer.writerow([line])
    if layout.header:
        writer.writerow(cols)
        if layout.header_lines == 2:
            writer.writerow(["VARCHAR(50)"] * len(cols))
    for i, values in enumerate(rows):
        row = []
        for name in cols:
            fld = source.get(name)
            if fld is not None:
                row.append(values.get(fld, ""))
            elif name in layout.call_group:
                row.append(values.get("_group", str(i)))
            else:
                row.append(_filler(layout, name))
        writer.writerow(row)
    return buf.getvalue()


def _filler(layout: Layout, name: str) -> str:
    """A plausible value for an unmapped column, so that content probes still match."""
    for probe in layout.probes:
        if probe.column == name:
            return {
                "disposition": "ANSWERED",
                "amaflags": "DOCUMENTATION",
                "hangup_cause": "NORMAL_CLEARING",
                "uuid": "a1b2c3d4-0000-4000-8000-000000000000",
                "clid": '"" <0>',
            }.get(name, "1")
    return "1"
