"""A brute-force Python linker: the definition the SQL steps are tested against.

It works from what was committed (batches of canonical rows and their cases), not from the
store's tables, and follows ``docs/linking.md`` literally, one record at a time.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass, field

import pyarrow as pa

from tls_core.identifiers import normalize_value
from tls_core.link import LinkSettings
from tls_core.link._suppress import load_suppression


@dataclass
class Agg:
    records: set = field(default_factory=set)
    targets: set = field(default_factory=set)
    variants: set = field(default_factory=set)


class Oracle:
    def __init__(self) -> None:
        self.records: dict[str, tuple[str, dict]] = {}  # record_id -> (type, row) first kept
        self.batch_records: dict[int, set[str]] = {}
        self.batch_cases: dict[int, set[str]] = {}

    def commit(self, batch: int, table: pa.Table, record_type: str, cases: list[str]) -> None:
        ids = set()
        for row in table.to_pylist():
            self.records.setdefault(row["record_id"], (record_type, row))
            ids.add(row["record_id"])
        self.batch_records[batch] = ids
        self.batch_cases[batch] = set(cases)

    def unlink(self, batch: int, case: str) -> None:
        self.batch_cases[batch].discard(case)

    def occurrences(self):
        cases_of: dict[str, set[str]] = {}
        for batch, ids in self.batch_records.items():
            for rid in ids:
                cases_of.setdefault(rid, set()).update(self.batch_cases[batch])
        for rid, (rtype, row) in self.records.items():
            for case in cases_of.get(rid, ()):
                for ident, kind, role, target, variant in _roles(rtype, row):
                    yield ident, kind, role, case, rid, target, variant

    def link(self, settings: LinkSettings):
        aggs: dict[tuple, Agg] = {}
        for ident, kind, role, case, rid, target, variant in self.occurrences():
            agg = aggs.setdefault((ident, kind, case, role), Agg())
            agg.records.add(rid)
            agg.targets.add(target)
            agg.variants.add(variant)
        cases: dict[tuple, set[str]] = {}
        for ident, kind, case, _ in aggs:
            cases.setdefault((ident, kind), set()).add(case)
        hubs = {
            key: (reason, len(held))
            for key, held in cases.items()
            if len(held) >= 2 and (reason := _hub(key, len(held), settings)) is not None
        }
        links = set()
        for (ident, kind), held in cases.items():
            if (ident, kind) in hubs or len(held) < 2:
                continue
            for a in sorted(held):
                for b in sorted(held):
                    if a < b:
                        links |= _pair_items(aggs, ident, kind, a, b)
        return links, {(i, k, r, n) for (i, k), (r, n) in hubs.items()}


def _roles(rtype: str, row: dict):
    if rtype == "call":
        target = row["target_canonical"]
        if target is not None:
            yield target, row["target_kind"], "target", target, ""
        seen = set()
        for party in ("orig", "term", "dialed"):
            value = row[f"{party}_canonical"]
            if value is not None and value != target and value not in seen:
                seen.add(value)
                yield value, row[f"{party}_kind"], "contact", target, ""
        for column, kind in (("target_imei", "imei"), ("target_imsi", "imsi")):
            device = _device(row[column], kind)
            if device is not None:
                yield device[0], kind, "device", target, device[1]
        return
    if row["identifier_canonical"] is not None:
        yield row["identifier_canonical"], row["identifier_kind"], rtype, None, ""
    for column in ("imei", "imsi"):
        device = _device(row[column], column)
        if device is not None:
            yield device[0], column, rtype, None, device[1]


def _device(raw: str | None, kind: str):
    if raw is None:
        return None
    _, canonical, _, _ = normalize_value(raw, kind)  # type: ignore[arg-type]
    if canonical is None:
        return None
    variant = "".join(c for c in raw if c.isdigit())[14:] if kind == "imei" else ""
    return canonical, variant


def _hub(key, held: int, settings: LinkSettings):
    ident, kind = key
    s = load_suppression(settings)
    numbers = {(r["identifier"], r["kind"]) for r in s.numbers.to_pylist()}
    if key in numbers:
        return "curated"
    for row in s.patterns.to_pylist():
        glob = row["pattern"].replace("_", "?").replace("%", "*")
        if row["kind"] == kind and fnmatch.fnmatchcase(ident, glob):
            return "curated"
    if kind in s.kinds["kind"].to_pylist():
        return "kind"
    return "learned" if held >= settings.hub_cases else None


def _type(ra: str, rb: str, ta: set, tb: set) -> str:
    roles = {ra, rb}
    if "misc" in roles:
        return "misc_match"
    if "subscriber" in roles:
        return "subscriber_match"
    if roles == {"contact"}:
        return "common_contact"
    if "contact" in roles:
        return "direct_contact"
    if ra == rb == "device":
        same = len(ta) == 1 and ta == tb and None not in ta
        return "common_target" if same else "device_continuity"
    return "common_target"


def _pair_items(aggs, ident, kind, a, b):
    roles_a = {r: g for (i, k, c, r), g in aggs.items() if (i, k, c) == (ident, kind, a)}
    roles_b = {r: g for (i, k, c, r), g in aggs.items() if (i, k, c) == (ident, kind, b)}
    va = set().union(*(g.variants for g in roles_a.values()))
    vb = set().union(*(g.variants for g in roles_b.values()))
    grade = "exact"
    if kind == "imei" and not (va & vb or "" in va or "" in vb):
        grade = "imei_tac_snr"
    items: dict[str, list] = {}
    for ra, ga in roles_a.items():
        for rb, gb in roles_b.items():
            items.setdefault(_type(ra, rb, ga.targets, gb.targets), []).append((ra, rb, ga, gb))
    return {
        (
            a,
            b,
            ident,
            kind,
            ltype,
            grade,
            tuple(sorted({x[0] for x in rows})),
            tuple(sorted({x[1] for x in rows})),
            max(len(x[2].records) for x in rows),
            max(len(x[3].records) for x in rows),
        )
        for ltype, rows in items.items()
    }


def observed(alerts):
    """The oracle's tuples, read from the linker's alerts."""
    return {
        (
            a.case_a,
            a.case_b,
            e.identifier,
            e.kind,
            e.link_type,
            e.grade,
            e.roles[a.case_a],
            e.roles[a.case_b],
            e.records[a.case_a],
            e.records[a.case_b],
        )
        for a in alerts
        for e in a.evidence
    }
