"""The side-by-side scale suite: ingest, full and incremental link, search, against baselines.

Run (the ``bench`` extra brings pandas and Splink; without them those baselines are skipped)::

    .venv/bin/pip install -e '.[dev,bench]'
    .venv/bin/python -m benchmarks.scale --sizes 1M,10M --repeat 3
    .venv/bin/python -m benchmarks.scale --quick        # 100 k records, 1 round (smoke)

For each size, seeded synthetic data (``benchmarks/_scale_data.py``: many cases with
heavy-tailed sizes and contacts, hubs in most cases, planted cross-case links) is generated
once and cached under ``--scratch`` (default ``$TMPDIR/tls-scale``): the base repository
(one ``commit_batch`` per case) and carrier CSV returns (T-Mobile layout) for ingest. Each
measure then runs alone in a fresh child process (``python -m benchmarks.scale --child``),
which reports its wall time and its own peak RSS (``ru_maxrss``); ``--repeat`` rounds are
interleaved. The naive pandas baselines run in the first round only, and only while they
are predicted (from the previous size) to finish within ``--cap`` seconds; a child that
runs past ``--cap`` or fails is recorded with its error and the suite goes on.

Writes the ``scale`` section of benchmarks/RESULTS.md (with ``--no-write``: prints it).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks import _scale_data as data
from benchmarks._scale_report import render

NAIVE = ("ingest_naive", "link_naive")
_ROOT = Path(__file__).resolve().parents[1]  # children import ``benchmarks`` from here
INCREMENTAL_ROWS = 1_000_000


def parse_size(text: str) -> int:
    """``100k``, ``1M``, ``10M`` or a plain number."""
    text = text.strip().upper()
    scale = {"K": 1_000, "M": 1_000_000}.get(text[-1:], 1)
    return int(float(text.rstrip("KM")) * scale)


def child(name: str, args_json: str) -> None:
    """Run one measure in this fresh process and print its JSON result (last line)."""
    from benchmarks._scale_measures import MEASURES

    result = MEASURES[name](json.loads(args_json))
    result["peak_rss"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(json.dumps(result))


def run_child(name: str, args: dict[str, Any], cap: float) -> dict[str, Any]:
    """Run a measure in a child; a failure or time-out is returned as ``error``."""
    cmd = [sys.executable, "-m", "benchmarks.scale", "--child", name, json.dumps(args)]
    try:
        done = subprocess.run(
            cmd, capture_output=True, text=True, timeout=cap, check=False, cwd=_ROOT
        )
    except subprocess.TimeoutExpired:
        return {"error": f"did not finish within the {cap:.0f} s cap"}
    if done.returncode != 0:
        lines = [x for x in done.stderr.strip().splitlines() if x.strip()]
        return {"error": (lines[-1] if lines else f"exit {done.returncode}")[:300]}
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def run_here(name: str, args: dict[str, Any]) -> dict[str, Any]:
    """Run a measure in this process (``--in-process``: the smoke test; no clean RSS)."""
    from benchmarks._scale_measures import MEASURES

    try:
        result = MEASURES[name](args)
    except Exception as exc:  # recorded; the suite goes on
        return {"error": f"{type(exc).__name__}: {exc}"[:300]}
    result["peak_rss"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    return result


class Suite:
    """One run of the suite: sizes, rounds, the measures of each and their results."""

    def __init__(self, opts: argparse.Namespace) -> None:
        self.opts = opts
        self.scratch: Path = opts.scratch
        self.scratch.mkdir(parents=True, exist_ok=True)
        self.per_record: dict[str, float] = {}  # naive seconds per record, to predict
        for kept in sorted(_kept(opts), key=lambda r: r["size"]):  # earlier runs count too
            for name in NAIVE:
                done = kept["rounds"][0].get(name, {})
                if "seconds" in done:
                    self.per_record[name] = done["seconds"] / kept["size"]

    def log(self, text: str) -> None:
        if not self.opts.quiet:
            print(f"[{time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)

    def measure(self, name: str, args: dict[str, Any], size: int) -> dict[str, Any]:
        if self.opts.only and name not in self.opts.only:
            return {"error": "not measured by this run (--only)"}
        if name in NAIVE and name in self.per_record:
            predicted = self.per_record[name] * size
            if predicted > self.opts.cap:
                return {
                    "error": f"skipped: predicted {predicted:.0f} s > {self.opts.cap:.0f} s cap"
                }
        self.log(f"{size:,}: {name} ...")
        args = {**args, "scratch": str(self.scratch)}
        if self.opts.in_process:
            result = run_here(name, args)
        else:
            result = run_child(name, args, self.opts.cap)
        self.log(f"{size:,}: {name}: {result.get('seconds', result.get('error'))}")
        if name in NAIVE:
            taken = result.get("seconds", self.opts.cap)
            self.per_record[name] = float(taken) / size
        return result

    def prepare(self, size: int) -> dict[str, Any]:
        """Generate (or reuse) the data of one size; returns paths and probe values."""
        opts = self.opts
        cases = min(opts.cases, max(10, size // 500))
        plan = data.make_plan(size, cases, opts.seed)
        started = time.perf_counter()
        root = data.cached_repo(self.scratch, plan)
        built = time.perf_counter() - started
        probes = json.loads(root.with_suffix(".done").read_text())
        files: list[tuple[Path, str]] = []
        if size <= opts.ingest_max:
            folder = self.scratch / f"returns-{size}-{opts.seed}"
            files = data.write_returns(folder, size, opts.files, opts.seed)
        warm = data.write_returns(self.scratch / "warm", 2_000, 1, opts.seed)[0][0]
        return {"plan": plan, "root": root, "built_s": built, "probes": probes,
                "files": [(str(p), c) for p, c in files], "warm": str(warm)}  # fmt: skip

    def round(self, size: int, prep: dict[str, Any], first: bool) -> dict[str, dict[str, Any]]:
        """One round of every measure on one size."""
        out: dict[str, dict[str, Any]] = {}
        root = str(prep["root"])
        if prep["files"]:
            ingest_args = {"files": prep["files"], "warm": prep["warm"]}
            out["ingest"] = self.measure("ingest", ingest_args, size)
            if first and self.opts.naive:
                out["ingest_naive"] = self.measure("ingest_naive", ingest_args, size)
        out["link_full"] = self.measure("link_full", {"root": root}, size)
        out["link_duckdb"] = self.measure("link_duckdb", {"root": root}, size)
        if first and self.opts.naive:
            out["link_naive"] = self.measure("link_naive", {"root": root}, size)
        if self.opts.splink:
            out["link_splink"] = self.measure("link_splink", {"root": root}, size)
        if not self.opts.only or "link_incremental" in self.opts.only:
            out["link_incremental"] = self.incremental(size, prep)
        probes = prep["probes"]
        search_args = {"root": root, "typical": probes["typical"][: self.opts.lookups],
                       "busiest": probes["busiest"], "busy_lookups": 30}  # fmt: skip
        out["search"] = self.measure("search", search_args, size)
        return out

    def incremental(self, size: int, prep: dict[str, Any]) -> dict[str, Any]:
        """Copy the linked base, commit the new records (not timed), link incrementally."""
        base: data.Plan = prep["plan"]
        new_rows = min(INCREMENTAL_ROWS, max(1_000, size // 10))
        plan = data.make_plan(new_rows, max(2, base.cases // 20), self.opts.seed + 1,
                              first_case=data.NEW_FIRST_CASE, partner_cases=base.cases)  # fmt: skip
        work = Path(tempfile.mkdtemp(dir=self.scratch, prefix="incremental-"))
        try:
            shutil.copytree(prep["root"], work / "repo")
            data.commit_plan(work / "repo", plan)
            result = self.measure("link_incremental", {"root": str(work / "repo")}, size)
        except Exception as exc:  # recorded; the suite goes on
            result = {"error": f"{type(exc).__name__}: {exc}"[:300]}
        finally:
            shutil.rmtree(work, ignore_errors=True)
        result["new_rows"] = new_rows
        return result

    def run_size(self, size: int) -> dict[str, Any]:
        self.log(f"{size:,}: preparing data (cached under {self.scratch})")
        load_before = os.getloadavg()
        prep = self.prepare(size)
        rounds = [self.round(size, prep, first=r == 0) for r in range(self.opts.repeat)]
        plan: data.Plan = prep["plan"]
        return {
            "size": size,
            "cases": plan.cases,
            "largest_case": max(plan.sizes),
            "built_s": prep["built_s"],
            "ingest_files": len(prep["files"]),
            "rounds": rounds,
            "load_before": load_before,
            "load_after": os.getloadavg(),
            "when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
            "note": self.opts.note,
        }


def _options(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m benchmarks.scale", description=__doc__.split("\n")[0]
    )
    p.add_argument("--sizes", default="1M,10M", help="call-record counts, e.g. 1M,10M,50M")
    p.add_argument("--repeat", type=int, default=3, help="rounds of every measure")
    p.add_argument("--quick", action="store_true", help="100k records, 1 round (smoke)")
    p.add_argument("--cases", type=int, default=200, help="cases of the base repository")
    p.add_argument("--files", type=int, default=10, help="carrier returns of the ingest")
    p.add_argument("--ingest-max", default="10M", help="largest size whose ingest is measured")
    p.add_argument("--cap", type=float, default=900.0, help="seconds a child may run")
    p.add_argument("--lookups", type=int, default=200, help="typical identifiers searched")
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--scratch", type=Path, default=Path(tempfile.gettempdir()) / "tls-scale")
    p.add_argument("--no-naive", dest="naive", action="store_false", help="skip pandas baselines")
    p.add_argument("--no-splink", dest="splink", action="store_false", help="skip Splink")
    p.add_argument("--no-write", action="store_true", help="print the section, do not write it")
    p.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    p.add_argument("--only", default="", help="comma-separated measures to rerun (merged)")
    p.add_argument("--note", default="", help="a line printed with this run's sizes")
    p.add_argument(
        "--report-only",
        action="store_true",
        help="measure nothing: rewrite the section from the results kept in --scratch",
    )
    p.add_argument(
        "--in-process",
        action="store_true",
        help="run the measures in this process (smoke test: no fresh process, no clean RSS)",
    )
    p.add_argument("--child", nargs=2, metavar=("MEASURE", "ARGS_JSON"), help=argparse.SUPPRESS)
    opts = p.parse_args(argv)
    if opts.quick:
        opts.sizes, opts.repeat, opts.lookups = "100k", 1, 30
        opts.cases, opts.files = 20, 4
    opts.ingest_max = parse_size(opts.ingest_max)
    opts.only = [m for m in opts.only.split(",") if m]
    return opts


def _splink_missing() -> str | None:
    try:
        import splink  # noqa: F401
    except ImportError:
        return "Splink is not installed (`pip install -e '.[bench]'`): its baseline was skipped"
    return None


def main(argv: list[str] | None = None) -> str:
    """Run the suite; return the section written (or printed)."""
    opts = _options(argv)
    if opts.child:
        child(*opts.child)
        return ""
    notes = []
    if opts.splink and (missing := _splink_missing()):
        opts.splink = False
        notes.append(missing)
    sizes = [parse_size(s) for s in opts.sizes.split(",")]
    command = shlex.join(["python", "-m", "benchmarks.scale", *(argv or sys.argv[1:])])
    results = [] if opts.report_only else [Suite(opts).run_size(size) for size in sizes]
    for r in results:
        r["command"] = command
    if opts.only:
        results = [_merged(opts, r) for r in results]
    for r in results:  # kept so that a later run of another size shows beside it
        (opts.scratch / f"results-{r['size']}-{opts.cases}-{opts.seed}.json").write_text(
            json.dumps(r)
        )
    done = [r["size"] for r in results]
    body = render(results, _earlier(opts, done), command, notes)
    if opts.no_write:
        print(body)
    else:
        from benchmarks._results import write_section

        write_section("scale", body)
    return body


def _merged(opts: argparse.Namespace, new: dict[str, Any]) -> dict[str, Any]:
    """With --only: the kept result of the size with the rerun measures replaced."""
    kept = {r["size"]: r for r in _kept(opts)}.get(new["size"])
    if kept is None:
        return new
    rerun = [{k: v for k, v in r.items() if k in opts.only} for r in new["rounds"]]
    for old_round, new_round in zip(kept["rounds"], rerun, strict=False):
        old_round.update(new_round)
    kept["rounds"].extend(rerun[len(kept["rounds"]) :])  # more rounds than kept: rerun only
    kept["command"] = f"{kept.get('command', '')}` then `{new['command']}"
    note = f"{', '.join(opts.only)} rerun on {new['when']}"
    kept["note"] = "; ".join(x for x in (kept.get("note"), note, opts.note) if x)
    return kept


def _kept(opts: argparse.Namespace) -> list[dict[str, Any]]:
    """Results kept in the scratch directory by earlier runs (same cases and seed)."""
    paths = sorted(opts.scratch.glob(f"results-*-{opts.cases}-{opts.seed}.json"))
    return [json.loads(path.read_text()) for path in paths]


def _earlier(opts: argparse.Namespace, sizes: list[int]) -> list[dict[str, Any]]:
    """Kept results for sizes this run did not measure (1 M and up; none with --quick)."""
    if opts.quick:
        return []
    return [r for r in _kept(opts) if r["size"] not in sizes and r["size"] >= 1_000_000]


if __name__ == "__main__":
    main()
