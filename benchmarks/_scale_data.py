"""Seeded synthetic data of the scale suite: many cases, heavy-tailed contacts, hubs, links.

Everything is synthetic (numbers are drawn from NANP area codes, never real records). One
``Plan`` per (records, cases, seed) decides each case's size, targets, private contacts and
planted link partner; ``case_table`` turns one case into canonical call records (the
``CALL_RECORDS`` schema, vectorized) and ``write_return`` into a T-Mobile-layout carrier CSV
(the layout's header and field formats, as ``penlink_adapters._synth_render`` writes them).

The shape of each case's calls:

- 1 target (2 for a fifth of the cases) with its IMEI and IMSI;
- contacts drawn from the case's private pool with Zipf weights (a few numbers take most of
  the calls: heavy-tailed), 3 % from a community pool of 20,000 numbers shared by all cases
  (taxis, shops: background cross-case sharing), 1 % to four hub numbers (voicemail, a pizza
  shop, a customer-care line, a bank) present in most cases;
- planted cross-case links: 30 % of the cases call another case's target (0.2 % of calls).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from tls_core.schema import CALL_RECORDS

AREAS = np.array(
    ["202", "212", "213", "303", "305", "312", "404", "415", "503", "512",
     "602", "617", "646", "702", "713", "718", "801", "857", "919", "971"]
)  # fmt: skip
HUBS = ("+18056377249", "+12125550199", "+18009378997", "+18004321000")
T0 = np.datetime64("2025-01-01T00:00:00", "us")
_COMMUNITY = 20_000
_PRIVATE_BASE = 1_000_000  # ids below: community pool and targets
NEW_FIRST_CASE = 5_000  # cases of the incremental batch
RETURNS_FIRST_CASE = 7_000  # cases of the carrier CSV returns (ids stay < 160 M)


@dataclass(frozen=True)
class Plan:
    """Who is in which case: sizes (heavy-tailed), targets, planted partners."""

    records: int
    cases: int
    seed: int
    first_case: int
    sizes: tuple[int, ...]
    partners: tuple[int, ...]  # -1: no planted link

    def case_id(self, case: int) -> str:
        return f"S{case:06d}"


def phone(ids: np.ndarray) -> np.ndarray:
    """Distinct synthetic E.164 NANP numbers for distinct non-negative ids (< 160 M)."""
    area = AREAS[ids % len(AREAS)]
    line = (2_000_000 + ids // len(AREAS)).astype(str)
    return np.char.add(np.char.add("+1", area), line)


def target_ids(case: int) -> np.ndarray:
    """The case's target numbers' ids (1 or 2 targets)."""
    first = _COMMUNITY + 2 * case
    return np.array([first, first + 1] if case % 5 == 0 else [first])


def make_plan(
    records: int, cases: int, seed: int, first_case: int = 0, partner_cases: int | None = None
) -> Plan:
    """Split ``records`` over ``cases`` with Pareto weights (a few very large cases).

    Planted link partners are drawn from cases ``0 .. partner_cases - 1`` (default: the plan's).
    """
    rng = np.random.default_rng(seed)
    weights = rng.pareto(1.2, cases) + 1.0
    sizes = np.maximum(20, (weights / weights.sum() * records).astype(np.int64))
    sizes[np.argmax(sizes)] += records - int(sizes.sum())
    planted = rng.random(cases) < 0.3
    pool = partner_cases if partner_cases is not None else first_case + cases
    partners = np.where(planted, rng.integers(0, pool, cases), -1)
    return Plan(records, cases, seed, first_case, tuple(sizes.tolist()), tuple(partners.tolist()))


def _contacts(plan: Plan, case: int, n: int, rng: np.random.Generator) -> np.ndarray:
    """The other party of each of the case's ``n`` calls (ids; hubs as -1..-4)."""
    pool = int(np.clip(np.sqrt(n) * 4, 20, 20_000))
    rank = np.minimum(rng.zipf(1.4, n) - 1, pool - 1)
    ids = _PRIVATE_BASE + case * 20_000 + rank
    pick = rng.random(n)
    community = pick < 0.03
    ids[community] = rng.integers(0, _COMMUNITY, int(community.sum()))
    hub = (pick >= 0.03) & (pick < 0.04)
    ids[hub] = -1 - rng.integers(0, len(HUBS), int(hub.sum()))
    partner = plan.partners[case - plan.first_case]
    if partner >= 0 and partner != case:
        linked = (pick >= 0.04) & (pick < 0.042)
        ids[linked] = target_ids(partner)[0]
    return ids


def _numbers(ids: np.ndarray) -> np.ndarray:
    out = phone(np.maximum(ids, 0)).astype(object)
    hub = ids < 0
    out[hub] = np.array(HUBS, dtype=object)[-1 - ids[hub]]
    return out


def _imei(tid: int) -> str:
    body = f"35{tid:012d}"
    total = 0
    for i, ch in enumerate(body):
        d = int(ch) * (2 if i % 2 else 1)
        total += d - 9 if d > 9 else d
    return body + str(-total % 10)


@dataclass(frozen=True)
class Calls:
    """One case's calls as arrays (the common source of the table and the CSV)."""

    target: np.ndarray
    other: np.ndarray
    outgoing: np.ndarray
    start: np.ndarray
    duration: np.ndarray
    imei: np.ndarray
    imsi: np.ndarray


def case_calls(plan: Plan, case: int) -> Calls:
    """The seeded calls of ``case`` (an absolute case number of the plan)."""
    n = plan.sizes[case - plan.first_case]
    rng = np.random.default_rng([plan.seed, case])
    tids = target_ids(case)
    which = tids[rng.integers(0, len(tids), n)]
    other = _numbers(_contacts(plan, case, n, rng))
    offsets = np.sort(rng.integers(0, 180 * 86_400, n)) * 1_000_000
    return Calls(
        target=phone(which).astype(object),
        other=other,
        outgoing=rng.random(n) < 0.5,
        start=T0 + offsets.astype("timedelta64[us]"),
        duration=rng.integers(0, 1800, n),
        imei=np.array([_imei(int(t)) for t in tids], dtype=object)[which - tids[0]],
        imsi=np.array([f"310260{int(t):09d}" for t in tids], dtype=object)[which - tids[0]],
    )


def source_sha(plan: Plan, case: int) -> str:
    return hashlib.sha256(f"scale-{plan.seed}-{case}".encode()).hexdigest()


def case_table(plan: Plan, case: int) -> pa.Table:
    """The canonical call records of ``case`` (what ingest would commit, roughly)."""
    c = case_calls(plan, case)
    n = len(c.other)
    orig = np.where(c.outgoing, c.target, c.other)
    term = np.where(c.outgoing, c.other, c.target)
    phone_kind = pa.array(["phone"] * n, pa.string())
    sha = source_sha(plan, case)
    cols: dict[str, pa.Array] = {f.name: pa.nulls(n, f.type) for f in CALL_RECORDS}
    cols.update(
        record_id=pa.array([f"{plan.seed:04x}{case:08x}{i:020x}" for i in range(n)]),
        orig_raw=pa.array(orig, pa.string()),
        orig_kind=phone_kind,
        orig_canonical=pa.array(orig, pa.string()),
        term_raw=pa.array(term, pa.string()),
        term_kind=phone_kind,
        term_canonical=pa.array(term, pa.string()),
        target_raw=pa.array(c.target, pa.string()),
        target_kind=phone_kind,
        target_canonical=pa.array(c.target, pa.string()),
        target_imei=pa.array(c.imei, pa.string()),
        target_imsi=pa.array(c.imsi, pa.string()),
        start_utc=pa.array(c.start, pa.timestamp("us", tz="UTC")),
        duration_s=pa.array(c.duration, pa.int64()),
        event_type=pa.array(["voice"] * n, pa.string()),
        direction=pa.array(np.where(c.outgoing, "outgoing", "incoming"), pa.string()),
        source_sha256=pa.array([sha] * n, pa.string()),
        source_row=pa.array(np.arange(2, n + 2), pa.int64()),
        layout_name=pa.array(["scale"] * n, pa.string()),
        layout_version=pa.array(["1"] * n, pa.string()),
    )
    return pa.Table.from_pydict(cols, schema=CALL_RECORDS)


def commit_plan(root: Path, plan: Plan) -> None:
    """Commit one batch per case of ``plan`` into the repository at ``root``.

    Resumable: a case whose source is already registered (an earlier, interrupted run) is
    skipped before its records are generated.
    """
    from tls_core.store import Repository

    repo = Repository.open(root)
    done = set(repo.snapshot().read("registry").column("source_sha256").to_pylist())
    for case in range(plan.first_case, plan.first_case + plan.cases):
        if source_sha(plan, case) in done:
            continue
        repo.commit_batch(
            case_table(plan, case),
            source_sha256=source_sha(plan, case),
            source_name=f"case-{case}.csv",
            case_ids=[plan.case_id(case)],
            actor="bench",
        )


_HEADER = (
    "Date,(UTC) Time,Duration,Call Type,Direction,Calling Number,Dialed Number,"
    "Destination Number,IMSI,IMEI,1st Cell ID,1st LTE Sector ID,1st Tower LAT,1st Tower LONG,"
    "Last Cell ID,Last LTE Sector ID,Last Tower LAT,Last Tower LONG,Called Number"
)


def write_return(path: Path, calls: Calls) -> int:
    """Write ``calls`` as a T-Mobile-layout CSV return (national numbers, UTC times)."""
    n = len(calls.other)
    when = pa.array(calls.start, pa.timestamp("s"))
    date = pc.strftime(when, format="%m/%d/%Y")
    time = pc.strftime(when, format="%H:%M:%S")
    national = np.array([x[2:] if x.startswith("+1") else x for x in calls.other], dtype=object)
    mine = np.array([x[2:] for x in calls.target], dtype=object)
    out = calls.outgoing
    empty = pa.array([""] * n, pa.string())
    columns = [
        date, time, calls.duration.astype(str),
        np.where(out, "msoriginating", "msterminating"), np.where(out, "outgoing", "incoming"),
        np.where(out, mine, national), None, np.where(out, national, mine),
        calls.imsi, calls.imei, None, None, None, None, None, None, None, None, ["1"] * n,
    ]  # fmt: skip
    arrays = [
        empty if c is None else c if isinstance(c, pa.Array) else pa.array(c, pa.string())
        for c in columns
    ]
    table = pa.Table.from_arrays(arrays, names=[f"c{i}" for i in range(len(arrays))])
    with path.open("wb") as fh:
        fh.write((_HEADER + "\r\n").encode())
        pacsv.write_csv(table, fh, pacsv.WriteOptions(include_header=False, quoting_style="none"))
    return n


def write_returns(folder: Path, rows: int, files: int, seed: int) -> list[tuple[Path, str]]:
    """``files`` carrier returns of ``rows`` rows in total; returns (path, case id) pairs."""
    plan = make_plan(rows, files, seed + 1000, first_case=RETURNS_FIRST_CASE)
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for case in range(plan.first_case, plan.first_case + plan.cases):
        path = folder / f"return-{case}.csv"
        if not path.exists():
            part = path.with_suffix(".partial")
            write_return(part, case_calls(plan, case))
            part.rename(path)
        out.append((path, plan.case_id(case)))
    return out


def cached_repo(scratch: Path, plan: Plan) -> Path:
    """The committed base repository of ``plan``, built once (resumably) under ``scratch``."""
    root = scratch / f"repo-{plan.records}-{plan.cases}-{plan.seed}"
    done = root.with_suffix(".done")
    if done.exists():
        return root
    commit_plan(root, plan)  # resumes a build that was interrupted
    done.write_text(json.dumps(probe_values(plan)))
    return root


def probe_values(plan: Plan) -> dict[str, object]:
    """Identifiers to search: typical contacts and the busiest identifier of the plan."""
    rng = np.random.default_rng(plan.seed + 7)
    typical: list[str] = []
    for case in rng.choice(plan.cases, size=min(plan.cases, 100), replace=False):
        calls = case_calls(plan, plan.first_case + int(case))
        typical += list(dict.fromkeys(str(x) for x in calls.other[:50] if x not in HUBS))[:3]
    biggest = plan.first_case + int(np.argmax(plan.sizes))
    big_target = str(phone(target_ids(biggest)[:1])[0])
    # Hubs take 1 % of all calls (a quarter each); the biggest case's target is in all its calls.
    busiest = big_target if max(plan.sizes) > plan.records // 400 else HUBS[0]
    return {"typical": typical, "busiest": busiest, "hub": HUBS[0]}
