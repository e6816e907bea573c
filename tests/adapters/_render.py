"""Render canonical call records in a layout (the inverse of reading), for round-trip tests."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import UTC, datetime

from penlink_adapters import Layout


@dataclass(frozen=True)
class Call:
    """What a round trip must preserve."""

    other: str  # 10-digit NANP number of the correspondent
    start: datetime  # UTC, whole seconds
    duration: int
    direction: str  # outgoing | incoming
    event: str  # voice | sms


TARGET = "2125550100"


def _inverse(mapping: dict[str, str], value: str) -> str | None:
    return next((k for k, v in mapping.items() if v == value), None)


def _duration(seconds: int, fmt: str) -> str:
    if fmt == "mm:ss":
        return f"{seconds // 60:02d}:{seconds % 60:02d}"
    if fmt == "hh:mm:ss":
        return f"{seconds // 3600:02d}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"
    return str(seconds)


def _values(layout: Layout, call: Call) -> dict[str, str]:
    out_going = call.direction == "outgoing"
    orig, term = (TARGET, call.other) if out_going else (call.other, TARGET)
    v: dict[str, str] = {"orig": orig, "term": term, "self": TARGET, "other": call.other}
    v["target"] = TARGET
    v["duration"] = _duration(call.duration, layout.duration_format)
    direction = _inverse(dict(layout.direction_map), call.direction)
    events = dict(layout.event_map)
    by_direction = [
        k
        for k, e in events.items()
        if e == call.event and layout.event_direction.get(k) == call.direction
    ]
    event = by_direction[0] if by_direction else _inverse(events, call.event)
    if direction is not None:
        v["direction"] = direction
    if event is not None:
        v["event_type"] = event
    naive = call.start.replace(tzinfo=None)
    if layout.epoch:
        v["start"] = str(int(call.start.timestamp()))
    else:
        fmt = layout.time_formats[0]
        v["start"] = naive.strftime(fmt)
        date_fmt, _, time_fmt = fmt.partition(" ")
        v["date"], v["time"] = naive.strftime(date_fmt), naive.strftime(time_fmt)
    return v


def header(layout: Layout) -> list[str]:
    if not layout.header:
        return list(layout.names[: max(layout.field_counts)])
    names = [aliases[0] for aliases in layout.columns.values()]
    return list(dict.fromkeys([*names, *layout.required, *layout.call_group]))


def render(layout: Layout, calls: list[Call], *, delimiter: str, quoting: int, newline: str) -> str:
    cols = header(layout)
    source = {aliases[0]: field for field, aliases in layout.columns.items()}
    buf = io.StringIO()
    writer = csv.writer(buf, delimiter=delimiter, quoting=quoting, lineterminator=newline)
    if layout.header:
        writer.writerow(cols)
        if layout.header_lines == 2:
            writer.writerow(["VARCHAR(50)"] * len(cols))
    for i, call in enumerate(calls):
        values = _values(layout, call)
        row = []
        for name in cols:
            field = source.get(name)
            if field is not None:
                row.append(values.get(field, ""))
            elif name in layout.call_group:
                row.append(str(i))
            else:
                row.append("1")
        writer.writerow(row)
    return buf.getvalue()


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]
