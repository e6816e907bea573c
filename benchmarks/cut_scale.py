"""CPU of the cut pass of plain files (issue 3, chain A), this checkout against a baseline one.

The cut pass: reading a plain file's blocks and cutting them into lines, fields, flags and
line hashes (everything the accounting rules need), as :func:`penlink_adapters._fast.
iter_plain_chunks` runs it, without the rules. Also ``scan_return(threads=1)`` over the
whole file. Each checkout runs in its own process (``PYTHONPATH``), rounds alternate, and
CPU time (``time.process_time``) is measured, not wall: the machine may be shared.

Run: ``python -m benchmarks.cut_scale --baseline /work/main --rounds 5``
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

_FILE = "/tmp/tls-bench-tmobile-1000000-7.csv"


def _open(path: str) -> Any:
    """The scan (file inspected, SHA-256 taken, layout detected): not part of the cut pass."""
    import penlink_adapters as pla

    return pla.ReturnScan(path, "auto", None, None, None, 100_000, fast=True)


def _cut_pass(scan: Any) -> int:
    """Run the cut pass of a scan's file (either API: before or after cut6); lines cut."""
    import numpy as np

    from penlink_adapters import _fast, _plain_cut

    plan = scan.plan
    lines = 0
    if hasattr(_plain_cut, "CutSpec"):  # cut6: one kernel per block, in _line_blocks
        for _, cut in _fast._line_blocks(scan.info, 100_000, _plain_cut.CutSpec.of(plan)):
            lines += len(cut)
        return lines
    from penlink_adapters._block_kernel import block_fields_kernel  # type: ignore[attr-defined]

    wanted = np.array(sorted({0, *plan.index.values()}), dtype=np.int64)
    header0 = np.frombuffer(plan.header[0].strip().encode(), dtype=np.uint8)
    for _, cut in _fast._line_blocks(scan.info, 100_000):  # type: ignore[call-arg]
        n = len(cut)
        flat = np.zeros((len(wanted) * n, 4), dtype=np.uint32)
        delim = np.uint8(ord(plan.delimiter))
        block_fields_kernel(cut.buf, cut.starts, cut.ends, delim, wanted, header0, flat)
        lines += n
    return lines


def _scan(path: str) -> int:
    from penlink_adapters import scan_return

    return sum(len(t) for t, _ in scan_return(path, threads=1))


def _child(path: str, what: str) -> None:
    if what == "cut":
        scan = _open(path)
        _cut_pass(scan)  # warm up: numba loads or compiles its kernels
        start = time.process_time()
        count = _cut_pass(scan)
    else:
        _scan(path)
        start = time.process_time()
        count = _scan(path)
    print(json.dumps({"cpu": time.process_time() - start, "count": count}))


def _measure(checkout: str, path: str, what: str) -> dict[str, Any]:
    env = {**os.environ, "PYTHONPATH": checkout}
    cmd = [sys.executable, __file__, "--child", what, "--file", path]
    out = subprocess.run(cmd, env=env, cwd=checkout, check=True, capture_output=True, text=True)
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    """Measure both checkouts side by side and write the RESULTS.md section."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--baseline", default="/work/main")
    parser.add_argument("--file", default=_FILE)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--child", choices=["cut", "scan"])
    parser.add_argument("--load", default="?", help="what else runs on the machine")
    args = parser.parse_args()
    if args.child:
        _child(args.file, args.child)
        return
    here = str(Path(__file__).resolve().parents[1])
    times: dict[tuple[str, str], list[float]] = {}
    for _ in range(args.rounds):
        for what in ("cut", "scan"):
            for name, checkout in (("baseline", args.baseline), ("this", here)):
                cpu = _measure(checkout, args.file, what)["cpu"]
                times.setdefault((what, name), []).append(cpu)
    _report(args, times)


def _report(args: argparse.Namespace, times: dict[tuple[str, str], list[float]]) -> None:
    from benchmarks._results import machine, spread, write_section

    def ratio(what: str) -> float:
        base = statistics.median(times[(what, "baseline")])
        return base / statistics.median(times[(what, "this")])

    commit = subprocess.run(
        ["git", "-C", args.baseline, "rev-parse", "--short", "HEAD"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    body = f"""## Cut pass of plain files (issue 3, chain A: cut6)

Baseline: `{args.baseline}` at {commit or "?"}.
`python -m benchmarks.cut_scale --baseline {args.baseline} --rounds {args.rounds}` over
`{args.file}` (1 M rows, 115 MB). CPU seconds (`time.process_time`, one process per
checkout and measure, rounds alternating, after a warm-up). Machine: {machine()}; shared
with other helpers' work ({args.load}): CPU time, not wall.

| measure | baseline ({args.baseline}) | this checkout | speed-up |
|---|---|---|---|
| cut pass (read blocks, cut lines/fields/flags/hashes; file already inspected) | {spread(times[("cut", "baseline")])} | {spread(times[("cut", "this")])} | {ratio("cut"):.2f}x |
| `scan_return(threads=1)` | {spread(times[("scan", "baseline")])} | {spread(times[("scan", "this")])} | {ratio("scan"):.2f}x |
"""
    print(body)
    write_section("cut6", body)


if __name__ == "__main__":
    main()
