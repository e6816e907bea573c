"""CPU of chain B (``assemble``) and of ``scan_return(threads=1)``: this tree against a baseline.

Usage: ``python -m benchmarks.assemble_ab BASE_TREE [--rounds 3]`` where ``BASE_TREE`` is a
checkout of the baseline (e.g. ``git worktree add --detach /tmp/base main``). Each measure
runs in a fresh process with ``PYTHONPATH`` set to one tree and run from it (``python -c``
puts the working directory first on ``sys.path``; each child checks what it imported), the
two trees interleaved round by round; CPU time (``time.process_time``) after a warm-up. ``assemble`` runs on the converted
chunks of the 1 M-row T-Mobile file (read once, outside the timing), each chunk's output
dropped as a consumer does. Writes the section ``assemble-ab`` of RESULTS.md.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

from benchmarks._results import machine, spread, write_section

FILE = "/tmp/tls-bench-tmobile-1000000-7.csv"
HERE = Path(__file__).resolve().parents[1]

_PARTS = """
import os, penlink_adapters  # the tree under test, not the one the venv installs
assert penlink_adapters.__file__.startswith(os.environ["PYTHONPATH"]), penlink_adapters.__file__
import statistics, sys, time
import polars as pl
import penlink_adapters._assemble as A
from penlink_adapters import scan_return
from penlink_adapters._identify import IdentifierMemo
from penlink_adapters._record_ids import table_record_ids
from tests.adapters._main_record_ids import main_table_record_ids
path, rounds = sys.argv[1], int(sys.argv[2])
scan = scan_return(path, threads=1)
prov = A.Provenance(scan.info.path, scan.info.sha256, scan.layout)
bodies = []
key = A.CALL_NATURAL_KEY
hook = "_canonical_rest" if hasattr(A, "_canonical_rest") else "_canonical_table"  # older trees
canonical = getattr(A, hook)
setattr(A, hook, lambda body, *args: bodies.append(body) or canonical(body, *args))
memo = IdentifierMemo()
for chunk in scan._chunks():
    A.assemble(scan._convert(chunk)[0], prov, scan._region, memo)
setattr(A, hook, canonical)
if hook == "_canonical_rest":
    rests = [canonical(b, prov) for b in bodies]
else:
    rests = [canonical(b, key, prov).drop_columns(["record_id"]) for b in bodies]
fields = [f for f in A.schema_for(prov.layout) if f.name in rests[0].column_names]
fields = [f for f in fields if f.name not in A._PROVENANCE]
names = [f.name for f in fields]
def export(body, level, skip):
    columns = body.select(names).to_arrow(compat_level=level).columns
    return [c if skip and c.type == f.type else c.cast(f.type) for c, f in zip(columns, fields)]
parts = {
    "record ids, main's kernels": lambda i: main_table_record_ids(rests[i], key),
    "record ids, kernel": lambda i: table_record_ids(rests[i], key),
    "export, main (large strings + casts)": lambda i: export(bodies[i], pl.CompatLevel.oldest(), False),
    "export, views + one cast": lambda i: export(bodies[i], pl.CompatLevel.newest(), True),
}
times = {k: [] for k in parts}
for run in range(rounds + 1):
    for k, f in parts.items():
        t0 = time.process_time()
        for i in range(len(bodies)):
            f(i)
        if run:
            times[k].append(time.process_time() - t0)
for k, ts in times.items():
    print(k + "\t" + " ".join(f"{t:.4f}" for t in ts))
"""

_CHILD = """
import os, penlink_adapters  # the tree under test, not the one the venv installs
assert penlink_adapters.__file__.startswith(os.environ["PYTHONPATH"]), penlink_adapters.__file__
import sys, time
from penlink_adapters import scan_return
from penlink_adapters._assemble import Provenance, assemble
from penlink_adapters._identify import IdentifierMemo, normalize_columns
path, what, reps = sys.argv[1], sys.argv[2], int(sys.argv[3])
times = []
if what == "scan":
    for _ in scan_return(path, threads=1):
        pass
    for _ in range(reps):
        t0 = time.process_time()
        for _ in scan_return(path, threads=1):
            pass
        times.append(time.process_time() - t0)
else:
    scan = scan_return(path, threads=1)
    conv = [scan._convert(c)[0] for c in scan._chunks()]
    prov = Provenance(scan.info.path, scan.info.sha256, scan.layout)
    parties = ("orig", "term", "dialed", "target")
    for r in range(reps + 1):
        memo = IdentifierMemo()
        t0 = time.process_time()
        for c in conv:
            if what == "assemble":
                assemble(c, prov, scan._region, memo)
            else:
                normalize_columns(c, parties, scan._region, memo)
        if r:
            times.append(time.process_time() - t0)
print(" ".join(f"{t:.4f}" for t in times))
"""


def _run(tree: Path, what: str, reps: int) -> list[float]:
    env = {**os.environ, "PYTHONPATH": str(tree)}
    cmd = [sys.executable, "-c", _CHILD, FILE, what, str(reps)]
    out = subprocess.run(cmd, env=env, cwd=tree, check=True, capture_output=True, text=True).stdout
    return [float(t) for t in out.split()]


def _parts(tree: Path, reps: int) -> dict[str, list[float]]:
    env = {**os.environ, "PYTHONPATH": str(tree)}
    cmd = [sys.executable, "-c", _PARTS, FILE, str(reps)]
    out = subprocess.run(cmd, env=env, cwd=tree, check=True, capture_output=True, text=True).stdout
    return {
        k: [float(t) for t in v.split()] for k, v in (ln.split("\t") for ln in out.splitlines())
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("base", type=Path)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    trees = {"baseline": args.base.resolve(), "this tree": HERE}
    what = {"assemble": 3, "normalize": 3, "scan": 2}
    times: dict[tuple[str, str], list[float]] = {}
    load_before = os.getloadavg()
    for _ in range(args.rounds):
        for measure, reps in what.items():
            for label, tree in trees.items():
                times.setdefault((measure, label), []).extend(_run(tree, measure, reps))
    parts: dict[tuple[str, str], list[float]] = {}
    for _ in range(args.rounds):
        for label, tree in trees.items():
            for k, ts in _parts(tree, 3).items():
                parts.setdefault((k, label), []).extend(ts)
    load_after = os.getloadavg()
    part_rows = [f"| {k} | {label} | {spread(ts)} |" for (k, label), ts in parts.items()]
    rows = []
    for measure in what:
        base = min(times[(measure, "baseline")])
        for label in trees:
            ts = times[(measure, label)]
            rows.append(f"| {measure} | {label} | {spread(ts)} | {min(ts) / base:.2f}x |")
    outside = [min(times[("assemble", t)]) - min(times[("normalize", t)]) for t in trees]
    body = f"""## Chain B: canonical assembly and record ids (issues 3 and 5), 1,000,000 rows

Command: `python -m benchmarks.assemble_ab BASE` ({args.rounds} rounds, the trees interleaved,
each measure in a fresh process after a warm-up; baseline: `{args.base}`). Machine: {machine()}. Shared with other work: load average (1, 5, 15 min)
{", ".join(f"{x:.1f}" for x in load_before)} before, {", ".join(f"{x:.1f}" for x in load_after)}
after; figures are CPU time (`time.process_time`), steadier than wall time there, yet noisy.

Input: `{FILE}` (T-Mobile layout, seed 7). `assemble`: all chunks' `assemble()` on the
converted chunks, identifier memo included; `normalize`: its `normalize_columns` alone;
`scan`: `scan_return(path, threads=1)` end to end, chunks dropped.

| measure | tree | CPU time | vs. baseline (min) |
|---|---|---|---|
{chr(10).join(rows)}

`assemble` outside identifier normalization (min - min): baseline {outside[0]:.3f} s,
this tree {outside[1]:.3f} s ({outside[1] / outside[0]:.2f}x).

The steps of `_canonical_table`, each tree in its own process ({args.rounds} rounds of 3,
the trees interleaved; in each process the steps interleaved on the same chunks; the record
ids of the reference copy of older kernels in `tests/adapters/_main_record_ids.py`):

| step (all chunks, 1 M rows) | tree | CPU time |
|---|---|---|
{chr(10).join(part_rows)}
"""
    write_section("assemble-ab", body)
    print(body)


if __name__ == "__main__":
    main()
