"""Seeded synthetic returns: one scenario written in every shipped layout, with its ground truth.

One case per call layout, each with a target (number, IMEI, IMSI) and its own contacts, plus a
subscriber return and a seized phone book. Planted on purpose, and listed in
``ground_truth.json``:

- cross-case links of every type in ``tls_core.schema.LinkType``: ``common_target`` (two
  cases hold the same device), ``direct_contact`` (one target calls another),
  ``common_contact`` (two targets call the same third number), ``device_continuity`` (one IMEI
  behind two numbers), ``subscriber_match`` and ``misc_match``;
- hub numbers that touch most cases (T-Mobile voicemail, 911, 411, a pizza shop);
- faults with their expected reject reason: ``bad_date``, ``lossy_number``,
  ``dst_nonexistent`` and ``dst_ambiguous`` (local-time layouts), and exact duplicate rows.

All numbers are NANP 555-01XX fiction numbers; no real personal data.
"""

from __future__ import annotations

import json
import random
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Final

from penlink_adapters._layout import Layout
from penlink_adapters._registry import get_layout_or_raise, list_layouts
from penlink_adapters._synth_render import (
    SynthCall,
    call_fields,
    naive_fields,
    render_rows,
    supports_event,
)

__all__ = ["HUBS", "Scenario", "write_scenario"]

ZONE: Final = "America/New_York"
"""Zone of every local-time layout in the scenario (declared with ``--tz`` when reading)."""

HUBS: Final[dict[str, str]] = {
    "8056377249": "T-Mobile voicemail (forwarded)",
    "911": "emergency",
    "411": "directory assistance",
    "2125550199": "pizza shop called from most cases",
}

_AREAS: Final = ("212", "312", "415", "617", "646", "718", "202", "305")
_MONTH_START: Final = datetime(2021, 3, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Scenario:
    """Where the scenario was written, and what is true about it."""

    folder: str
    seed: int
    cases: list[dict[str, Any]] = field(default_factory=list)
    """Per case: id, layout, file, target, imei, read arguments, expected accounting."""
    links: list[dict[str, str]] = field(default_factory=list)
    """Planted cross-case links: type, case_a, case_b, identifier."""
    hubs: dict[str, str] = field(default_factory=dict)
    """Hub numbers and what they are."""


def write_scenario(folder: str | Path, *, seed: int = 0, calls_per_case: int = 24) -> Scenario:
    """Write one seeded scenario in every shipped call layout, plus subscriber and misc files.

    Args:
        folder: Output directory (created).
        seed: Random seed: the same seed writes the same bytes.
        calls_per_case: Good records per case before faults are added.

    Returns:
        The scenario; also written as ``ground_truth.json`` in ``folder``.
    """
    rng = random.Random(seed)
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    layouts = [lay for lay in list_layouts() if lay.record_type == "call" and not lay.refuse]
    numbers = _number_pool(rng)
    cases = [_new_case(i, lay, numbers, rng) for i, lay in enumerate(layouts)]
    links = _plant_links(cases, numbers)
    written = [_write_case(out, case, calls_per_case, rng) for case in cases]
    written += _write_party_files(out, cases, links, numbers)
    scenario = Scenario(str(out), seed, written, links, dict(HUBS))
    (out / "ground_truth.json").write_text(json.dumps(asdict(scenario), indent=2) + "\n")
    return scenario


def _number_pool(rng: random.Random) -> list[str]:
    pool = [f"{area}5550{n:03d}" for area in _AREAS for n in range(100, 199)]
    rng.shuffle(pool)
    return pool


def _new_case(i: int, layout: Layout, numbers: list[str], rng: random.Random) -> dict[str, Any]:
    return {
        "case_id": f"C{i + 1:02d}",
        "layout": layout.name,
        "target": numbers.pop(),
        "imei": _imei(rng),
        "imsi": f"310260{rng.randrange(10**9):09d}",
        "contacts": [numbers.pop() for _ in range(6)],
        "must_call": [],
    }


def _imei(rng: random.Random) -> str:
    body = f"35{rng.randrange(10**12):012d}"
    total = 0
    for i, ch in enumerate(body):
        d = int(ch) * (2 if i % 2 else 1)
        total += d - 9 if d > 9 else d
    return body + str(-total % 10)


def _plant_links(cases: list[dict[str, Any]], numbers: list[str]) -> list[dict[str, str]]:
    by_layout = {c["layout"]: c for c in cases}
    pick = [c for c in cases if c["layout"] not in {"tmobile", "att", "generic"}]
    links = []
    a, b = pick[0], pick[1]
    b["target"] = a["target"]
    links.append(_link("common_target", a, b, a["target"]))
    a, b = pick[2], pick[3]
    a["must_call"].append(b["target"])
    links.append(_link("direct_contact", a, b, b["target"]))
    a, b, third = pick[4], pick[5], numbers.pop()
    a["must_call"].append(third)
    b["must_call"].append(third)
    links.append(_link("common_contact", a, b, third))
    a, b = by_layout["tmobile"], by_layout["att"]
    b["imei"] = a["imei"]
    links.append(_link("device_continuity", a, b, a["imei"]))
    links.append({"type": "subscriber_match", "case_a": "S01", "case_b": pick[6]["case_id"]})
    links[-1]["identifier"] = pick[6]["contacts"][0]
    pick[6]["must_call"].append(pick[6]["contacts"][0])
    links.append({"type": "misc_match", "case_a": "M01", "case_b": pick[7]["case_id"]})
    links[-1]["identifier"] = pick[7]["contacts"][1]
    pick[7]["must_call"].append(pick[7]["contacts"][1])
    return links


def _link(kind: str, a: dict[str, Any], b: dict[str, Any], identifier: str) -> dict[str, str]:
    return {"type": kind, "case_a": a["case_id"], "case_b": b["case_id"], "identifier": identifier}


def _calls(case: dict[str, Any], layout: Layout, n: int, rng: random.Random) -> list[SynthCall]:
    others = [*case["must_call"], "2125550199"]
    others += [rng.choice(case["contacts"]) for _ in range(max(0, n - len(others) - 1))]
    others.append("911" if layout.name != "tmobile" else "8056377249")
    calls = []
    for k, other in enumerate(others):
        event = "sms" if rng.random() < 0.25 and supports_event(layout, "sms") else "voice"
        # Fixed hours keep good records clear of the DST changes (faults are planted apart).
        start = _MONTH_START + timedelta(days=k % 28, hours=12 + k % 8, seconds=rng.randrange(3600))
        direction = (
            rng.choice(["outgoing", "incoming"]) if other not in case["must_call"] else "outgoing"
        )
        calls.append(
            SynthCall(
                case["target"],
                other,
                start,
                0 if event == "sms" else rng.randrange(1, 3000),
                "outgoing" if other in HUBS else direction,
                event,
                case["imei"],
                case["imsi"],
            )
        )
    return calls


def _write_case(out: Path, case: dict[str, Any], n: int, rng: random.Random) -> dict[str, Any]:
    layout = get_layout_or_raise(case["layout"])
    local = not (layout.epoch or layout.zone == "utc")
    calls = _calls(case, layout, n, rng)
    rows = [call_fields(layout, c, ZONE if local else None) for c in calls]
    for i, row in enumerate(rows):
        row["_group"] = str(i + 1)  # legs grouping (CUCM); a duplicate row copies it
    faults = _faults(layout, calls[0], rows, local)
    text = render_rows(layout, rows)
    name = f"{case['case_id']}_{layout.name}.csv"
    (out / name).write_text(text, encoding="utf-8", newline="")
    read_args: dict[str, str] = {}
    if local:
        read_args["tz"] = ZONE
    if layout.target_rule in ("none", "self") and "self" not in layout.columns:
        read_args["target"] = case["target"]
    summary = {k: case[k] for k in ("case_id", "layout", "target", "imei", "imsi")}
    return {
        **summary,
        "file": name,
        "read_args": read_args,
        "expected": {"loaded": len(calls), **faults},
        "contacts": sorted({c.other for c in calls}),
    }


def _faults(
    layout: Layout, base: SynthCall, rows: list[dict[str, str]], local: bool
) -> dict[str, Any]:
    rejected: dict[str, int] = {}
    bad = call_fields(layout, base, ZONE if local else None)
    if layout.epoch:
        bad["start"] = "0"
    else:
        bad.update({"start": "2021-13-45 99:00:00", "date": "13/45/2021", "time": "99:00:00"})
    rows.append(bad)
    rejected["bad_date"] = 1
    lossy = call_fields(layout, base, ZONE if local else None)
    party = "term" if base.direction == "outgoing" else "orig"
    lossy[party] = lossy["other"] = "1.21355E+10"
    rows.append(lossy)
    rejected["lossy_number"] = 1
    if local:
        for naive, reason in (
            (datetime(2021, 3, 14, 2, 30), "dst_nonexistent"),
            (datetime(2021, 11, 7, 1, 30), "dst_ambiguous"),
        ):
            row = call_fields(layout, base, ZONE)
            row.update(naive_fields(layout, naive))
            rows.append(row)
            rejected[reason] = 1
    rows.append(dict(rows[1]))  # an exact duplicate of a good row (a re-export pasted twice)
    return {"rejected": rejected, "duplicates": 1}


def _write_party_files(
    out: Path, cases: list[dict[str, Any]], links: list[dict[str, str]], numbers: list[str]
) -> list[dict[str, Any]]:
    sub_id = next(lk["identifier"] for lk in links if lk["type"] == "subscriber_match")
    misc_id = next(lk["identifier"] for lk in links if lk["type"] == "misc_match")
    (out / "S01_subscriber.csv").write_text(
        "identifier,subscriber_name,aliases,address,birth_date,account_id,service_type,imei,"
        "imsi,activated,deactivated,legal_process_ref,relationship,source_description\n"
        f"{sub_id},Pat Example,P. Example,1 Example St,1980-01-02,ACCT-1,postpaid,,,"
        "2020-01-01T00:00:00Z,,SUBPOENA-S01,associate,Carrier subscriber return\n"
        f"{numbers.pop()},Lee Sample,,2 Sample Ave,1975-02-03,ACCT-2,prepaid,,,"
        "2019-06-01T12:00:00Z,,SUBPOENA-S01,other,Carrier subscriber return\n",
        encoding="utf-8",
    )
    (out / "M01_misc.csv").write_text(
        "identifier,name,aliases,address,relationship,source_description\n"
        f"{misc_id},Uncle Bob,Bobby,,contact,Seized phone book (item 4)\n"
        "2125550199,Pizza Place,,,business,Seized phone book (item 4)\n",
        encoding="utf-8",
    )
    expected = {"loaded": 2, "rejected": {}, "duplicates": 0}
    return [
        {
            "case_id": "S01",
            "layout": "subscriber",
            "file": "S01_subscriber.csv",
            "read_args": {},
            "expected": expected,
        },
        {
            "case_id": "M01",
            "layout": "misc",
            "file": "M01_misc.csv",
            "read_args": {},
            "expected": expected,
        },
    ]
