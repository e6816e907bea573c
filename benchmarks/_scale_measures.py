"""The measures of the scale suite, each run alone in a fresh child process.

Each function takes the JSON arguments the parent passed and returns a dict with at least
``seconds`` (wall time of the measured part only) and ``detail`` (what it produced, to check
that the sides did comparable work). The child wrapper in ``scale.py`` adds the process's peak
RSS. Ours: ``ingest``, ``link_full``, ``link_incremental``, ``search``. Baselines:
``ingest_naive`` and ``link_naive`` (pandas + phonenumbers, what an analyst would write),
``link_duckdb`` (the plain untyped join: the lower bound) and ``link_splink`` (Splink's
deterministic linking on DuckDB, optional extra ``bench``).
"""

from __future__ import annotations

import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

HUB_CASES = 10  # identifiers in this many cases or more are hubs (all sides)

# Distinct (identifier, case) occurrences of call-record numbers, hubs dropped: shared by the
# DuckDB and Splink baselines (the untyped part of what the linker does).
OCCURRENCES_SQL = f"""
WITH occ AS (
    SELECT DISTINCT x.identifier, l.case_id
    FROM (
        SELECT orig_canonical AS identifier, batch_id FROM call_records
        UNION ALL SELECT term_canonical, batch_id FROM call_records
        UNION ALL SELECT target_canonical, batch_id FROM call_records
    ) x
    JOIN case_links l ON x.batch_id = l.batch_id
    WHERE x.identifier IS NOT NULL
),
kept AS (SELECT identifier FROM occ GROUP BY identifier HAVING count(*) < {HUB_CASES})
SELECT identifier, case_id FROM occ WHERE identifier IN (SELECT identifier FROM kept)
"""

BASELINE_SQL = f"""
WITH o AS ({OCCURRENCES_SQL})
SELECT a.case_id AS case_a, b.case_id AS case_b, count(*) AS shared
FROM o a JOIN o b ON a.identifier = b.identifier AND a.case_id < b.case_id
GROUP BY a.case_id, b.case_id
"""

SCAN_SQL = """
SELECT r.record_id, l.case_id
FROM call_records r
JOIN case_links l ON l.batch_id = r.batch_id
WHERE r.orig_canonical = $v OR r.term_canonical = $v OR r.dialed_canonical = $v
   OR r.target_canonical = $v
"""


def _repo(root: str) -> Any:
    from tls_core.store import Repository

    return Repository.open(root, create=False)


def ingest(args: dict[str, Any]) -> dict[str, Any]:
    """``Repository.ingest`` of every return (one case each) into a new repository."""
    from tls_core.store import Repository

    files: list[tuple[str, str]] = args["files"]
    with tempfile.TemporaryDirectory(dir=args["scratch"]) as tmp:
        warm = Repository.open(Path(tmp) / "warm")
        warm.ingest([args["warm"]], case_ids=["W1"], actor="bench")  # numba cache, imports
        repo = Repository.open(Path(tmp) / "repo")
        start = time.perf_counter()
        reports = [repo.ingest([p], case_ids=[c], actor="bench")[0] for p, c in files]
        seconds = time.perf_counter() - start
    loaded = sum(r.loaded for r in reports)
    rejected = sum(sum(r.rejected.values()) for r in reports)
    skipped = sum(r.skipped for r in reports)  # the header lines
    detail = f"{loaded:,} rows loaded, {rejected:,} rejected, {skipped:,} lines skipped"
    return {"seconds": seconds, "rows": loaded, "detail": detail}


def ingest_naive(args: dict[str, Any]) -> dict[str, Any]:
    """pandas ``read_csv``, ``phonenumbers`` per row, a Parquet file per return."""
    import pandas as pd
    import phonenumbers

    def e164(value: object) -> object:
        if not isinstance(value, str) or not value:
            return None
        try:
            number = phonenumbers.parse(value, "US")
        except phonenumbers.NumberParseException:
            return None
        if not phonenumbers.is_valid_number(number):
            return None
        return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)

    rows = loaded = 0
    with tempfile.TemporaryDirectory(dir=args["scratch"]) as tmp:
        start = time.perf_counter()
        for path, case in args["files"]:
            df = pd.read_csv(path, dtype=str, keep_default_na=False)
            df["orig"] = df["Calling Number"].apply(e164)
            df["term"] = df["Destination Number"].apply(e164)
            df["start_utc"] = pd.to_datetime(
                df["Date"] + " " + df["(UTC) Time"], format="%m/%d/%Y %H:%M:%S", utc=True
            )
            df["case_id"] = case
            rows += len(df)
            df = df.dropna(subset=["orig", "term"]).drop_duplicates()
            loaded += len(df)
            df.to_parquet(Path(tmp) / f"{case}.parquet", compression="zstd")
        seconds = time.perf_counter() - start
    return {"seconds": seconds, "rows": rows, "detail": f"{loaded:,} of {rows:,} rows kept"}


def link_full(args: dict[str, Any]) -> dict[str, Any]:
    """``link(repo, full=True)``: every step from the Parquet files to the alerts."""
    return _link(args, full=True)


def link_incremental(args: dict[str, Any]) -> dict[str, Any]:
    """``link(repo)`` after new batches were committed on top of a linked base."""
    return _link(args, full=False)


def _link(args: dict[str, Any], *, full: bool) -> dict[str, Any]:
    from tls_core.link import link

    repo = _repo(args["root"])
    start = time.perf_counter()
    run = link(repo, actor="bench", full=full)
    seconds = time.perf_counter() - start
    return {
        "seconds": seconds,
        "pairs": run.alert_count,
        "detail": f"{run.mode}: {run.alert_count:,} alerts ({len(run.alerts):,} new or changed), "
        f"{len(run.hubs):,} hubs, "
        f"{run.occurrences:,} occurrences",
    }


def link_duckdb(args: dict[str, Any]) -> dict[str, Any]:
    """The plain DuckDB untyped self-join over the same snapshot files."""
    repo = _repo(args["root"])
    start = time.perf_counter()
    con = repo.snapshot().connect()
    rows = con.execute(BASELINE_SQL).fetchall()
    con.close()
    seconds = time.perf_counter() - start
    return {"seconds": seconds, "pairs": len(rows), "detail": f"{len(rows):,} case pairs"}


def link_naive(args: dict[str, Any]) -> dict[str, Any]:
    """pandas: read the record files, melt the numbers, merge on the number."""
    import pandas as pd

    repo = _repo(args["root"])
    start = time.perf_counter()
    snap = repo.snapshot()
    cols = ["batch_id", "orig_canonical", "term_canonical", "target_canonical"]
    frames = [pd.read_parquet(p, columns=cols) for p in snap.paths("call_records")]
    records = pd.concat(frames, ignore_index=True)
    con = snap.connect()
    links = con.sql("SELECT batch_id, case_id FROM case_links").to_arrow_table().to_pandas()
    con.close()
    occ = records.melt(id_vars="batch_id", value_name="identifier").dropna(subset=["identifier"])
    occ = occ.merge(links, on="batch_id")[["identifier", "case_id"]].drop_duplicates()
    cases = occ.groupby("identifier")["case_id"].transform("size")
    occ = occ[cases < HUB_CASES]
    pairs = occ.merge(occ, on="identifier", suffixes=("_a", "_b"))
    pairs = pairs[pairs["case_id_a"] < pairs["case_id_b"]]
    result = pairs.groupby(["case_id_a", "case_id_b"]).size()
    seconds = time.perf_counter() - start
    return {"seconds": seconds, "pairs": len(result), "detail": f"{len(result):,} case pairs"}


def link_splink(args: dict[str, Any]) -> dict[str, Any]:
    """Splink's deterministic linking (DuckDB backend), blocking on the identifier."""
    from splink import DuckDBAPI, Linker, SettingsCreator, block_on

    repo = _repo(args["root"])
    start = time.perf_counter()
    con = repo.snapshot().connect()
    occ = con.sql(
        f"SELECT row_number() OVER () AS uid, * FROM ({OCCURRENCES_SQL})"
    ).to_arrow_table()
    con.close()
    db = DuckDBAPI()
    settings = SettingsCreator(
        link_type="dedupe_only",
        unique_id_column_name="uid",
        blocking_rules_to_generate_predictions=[block_on("identifier")],
        retain_matching_columns=True,
        additional_columns_to_retain=["case_id"],
    )
    linker = Linker(db.register(occ), settings, log_level=40)
    found = linker.inference.deterministic_link()
    rows = db._con.execute(  # the pairs, counted per case pair as the others do
        "SELECT least(case_id_l, case_id_r), greatest(case_id_l, case_id_r), count(*) "
        f"FROM {found.physical_name} GROUP BY 1, 2"
    ).fetchall()
    seconds = time.perf_counter() - start
    return {"seconds": seconds, "pairs": len(rows), "detail": f"{len(rows):,} case pairs"}


def _pcts(times: list[float]) -> list[float]:
    ordered = sorted(times)
    p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
    return [statistics.median(ordered) * 1000, p99 * 1000]


def _each(fn: Callable[[str], object], values: list[str], budget: float = 1e9) -> list[float]:
    """Time ``fn`` on each value; stop early (after 3 at least) once ``budget`` s are spent."""
    out: list[float] = []
    for v in values:
        if len(out) >= 3 and sum(out) > budget:
            break
        t = time.perf_counter()
        fn(v)
        out.append(time.perf_counter() - t)
    return out


def search(args: dict[str, Any]) -> dict[str, Any]:
    """``search()`` with a real SQLite case store; index lookup and DuckDB scan beside it."""
    from tls_core.search import search as tls_search
    from tls_core.search._index import with_index
    from tls_core.search._keys import match_key

    def lookup_checked(repo: Any, key: str) -> Any:
        """The index part of a search: every occurrence of one match key."""
        return with_index(repo, lambda index: index.occurrences.lookup(key))

    repo = _repo(args["root"])
    typical: list[str] = args["typical"]
    busiest: str = args["busiest"]
    with tempfile.TemporaryDirectory(dir=args["scratch"]) as tmp:
        store = _case_store(Path(tmp), repo)

        def one(v: str) -> None:
            tls_search(repo, v, actor="searcher", access=store, directory=store,
                       notifier=store, audit=store, kind="phone")  # fmt: skip

        start = time.perf_counter()
        one(typical[0])  # builds the occurrence index if the snapshot has none
        first = time.perf_counter() - start
        typ = _each(one, typical)
        busy = _each(one, [busiest] * args["busy_lookups"], args.get("busy_budget", 120))
    lookup = lambda v: lookup_checked(repo, match_key("phone", v))  # noqa: E731
    lk_typ, lk_busy = _each(lookup, typical), _each(lookup, [busiest] * 10, 60)
    busiest_rows = lookup_checked(repo, match_key("phone", busiest))[0].num_rows
    con = repo.snapshot().connect()
    scan = lambda v: con.execute(SCAN_SQL, {"v": v}).fetchall()  # noqa: E731
    sc_typ, sc_busy = _each(scan, typical[:10]), _each(scan, [busiest] * 3)
    con.close()
    return {
        "seconds": statistics.median(typ),
        "first_s": first,
        "typical_ms": _pcts(typ),
        "busiest_ms": _pcts(busy),
        "lookup_typical_ms": _pcts(lk_typ),
        "lookup_busiest_ms": _pcts(lk_busy),
        "scan_typical_ms": _pcts(sc_typ),
        "scan_busiest_ms": _pcts(sc_busy),
        "detail": f"busiest {busiest} in {busiest_rows:,} occurrences ({len(busy)} searches); "
        f"{len(typical)} typical identifiers",
    }


def _case_store(folder: Path, repo: Any) -> Any:
    from icm_bridge import CaseStore, NewUser

    today = datetime.now(UTC).date()
    store = CaseStore.open(folder / "cases", audit_key=folder / "audit.key")
    store.add_user(None, NewUser("admin", "Admin", "admin", today))
    store.add_user("admin", NewUser("chief", "Chief", "supervisor", today))
    store.add_user("admin", NewUser("agent", "Agent", "agent", today, supervisor="chief"))
    store.add_user("admin", NewUser("searcher", "S", "analyst", today, phone="+1 206 555 0100"))
    for case in sorted(set(repo.snapshot().read("case_batches").column("case_id").to_pylist())):
        store.open_case("agent", case, owner="agent", restricted=case.endswith("7"))
    return store


MEASURES: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
    "ingest": ingest,
    "ingest_naive": ingest_naive,
    "link_full": link_full,
    "link_duckdb": link_duckdb,
    "link_naive": link_naive,
    "link_splink": link_splink,
    "link_incremental": link_incremental,
    "search": search,
}
