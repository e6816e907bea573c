"""Peak memory of the streaming read as a return grows: is it bounded whatever the file size?

Run: .venv/bin/python -m benchmarks.read_memory [--copies 1,2,4] [--twice 2]

Issue 3 asks for peak memory <= 2 GiB whatever the file size. What grows with a file in
``scan_return`` is the duplicate rule's set of the lines seen (``penlink_adapters._line_set``):
past 12.58 M distinct lines it spills to unnamed temporary files and keeps a fixed-size Bloom
filter in memory. This script reads files of 1, 2, 4 ... times the 10 M-row T-Mobile return of
``benchmarks.read_scale`` (copy ``k`` with the target's IMSI ``31026000000000k``, so every line
is distinct), and one file of ``--twice`` copies followed by the same copies again (a re-export
pasted twice: half of its lines are duplicates, looked up in the spilled runs), each read once
in a fresh child process (``scan_return(path)`` iterated to the end, chunks dropped) after a
warm-up read of a small file. The files are written to the temp directory and removed after
their read.

Writes the ``read-memory`` section of benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks._results import machine, write_section
from benchmarks.read_scale import synth_file

_IMSI = b",310260000000001,"
_BLOCK = 1 << 26


def _write(path: Path, source: Path, copies: list[int]) -> None:
    """``source``'s header, then its body once per copy, the target's IMSI set to the copy's."""
    with source.open("rb") as src, path.open("wb") as out:
        header = src.readline()
        out.write(header)
        for k in copies:
            imsi = b",31026000000000%d," % k
            src.seek(len(header))
            carry = b""
            while block := src.read(_BLOCK):
                block = carry + block
                end = block.rfind(b"\n") + 1
                carry = block[end:]
                out.write(block[:end].replace(_IMSI, imsi))
            out.write(carry.replace(_IMSI, imsi))


def _child(path: str, warm: str) -> dict[str, float]:
    import penlink_adapters as pla

    for _ in pla.scan_return(warm):
        pass
    before = resource.getrusage(resource.RUSAGE_SELF)
    t = time.perf_counter()
    scan = pla.scan_return(path)
    for _ in scan:
        pass
    seconds = time.perf_counter() - t
    after = resource.getrusage(resource.RUSAGE_SELF)
    report = scan.report()
    return {
        "seconds": seconds,
        "cpu": (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime),
        "peak": after.ru_maxrss * 1024.0,
        "lines": float(report.rows_total),
        "loaded": float(report.loaded),
        "duplicates": float(report.duplicates),
    }


def _run(path: Path, warm: Path) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, "-m", "benchmarks.read_memory", "--child", str(path), str(warm)],
        check=True,
        capture_output=True,
        text=True,
    )
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--copies", default="1,2,4", help="distinct copies per file, comma-separated"
    )
    parser.add_argument(
        "--twice", type=int, default=2, help="copies of the pasted-twice file (0: none)"
    )
    parser.add_argument("--child", nargs=2, metavar=("PATH", "WARM"), help=argparse.SUPPRESS)
    parser.add_argument("--dry-run", action="store_true", help="print, do not write RESULTS.md")
    args = parser.parse_args()
    if args.child:
        print(json.dumps(_child(*args.child)))
        return

    source = synth_file(10_000_000)
    warm = synth_file(2_000)
    plans = [
        (f"{n} distinct {'copy' if n == 1 else 'copies'}", list(range(1, n + 1)))
        for n in map(int, args.copies.split(","))
    ]
    if args.twice:
        once = list(range(1, args.twice + 1))
        plans.append((f"{args.twice} copies, then the same {args.twice} again", once + once))
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    rows = []
    peaks = []
    for label, copies in plans:
        path = Path(tempfile.gettempdir()) / f"tls-bench-read-memory-{os.getpid()}.csv"
        try:
            _write(path, source, copies)
            size = path.stat().st_size
            got = _run(path, warm)
        finally:
            path.unlink(missing_ok=True)
        print(label, got, file=sys.stderr)
        rows.append(
            f"| {label} | {got['lines'] - 1:,.0f} | {size / 2**30:.2f} GiB | {got['duplicates']:,.0f} "
            f"| {got['seconds']:.1f} s | {got['lines'] / got['seconds'] / 1e6:.2f} M "
            f"| {got['cpu']:.1f} s | {got['peak'] / 2**30:.2f} GiB |"
        )
        peaks.append(got["peak"])
    peak = max(peaks)
    table = "\n".join(rows)
    body = f"""
## Peak memory of the streaming read as the file grows (issue 3)

Command: `python -m benchmarks.read_memory --copies {args.copies} --twice {args.twice}` (one
read per file, each in a fresh process after a warm-up read). Machine: {machine()}. Load
average when the run started: {load}.

Input: the 10 M-row T-Mobile return of `benchmarks.read_scale`, copied into one file (copy `k`
with the target's IMSI `31026000000000k`, so that every line is distinct); the last file holds
its copies twice over, a re-export pasted twice. Read by `scan_return(path)` to the end, each
chunk dropped; peak memory is the child's peak RSS (`ru_maxrss`).

| file | data lines | size | duplicates | wall time | lines/s | CPU time | peak RSS |
|---|---|---|---|---|---|---|---|
{table}

Target (issue 3): peak memory <= 2 GiB whatever the file size: **{"met" if peak <= 2 * 2**30 else "not met"}** up to the largest file here
({peak / 2**30:.2f} GiB at most). The duplicate rule's line set holds at most 12.58 M hashes in
memory (256 MiB) and a 128 MiB Bloom filter of those spilled to disk
(`penlink_adapters/_line_set.py`, docs/layouts.md); the rest of the read follows the chunk size.
"""
    if args.dry_run:
        print(body)
    else:
        write_section("read-memory", body)


if __name__ == "__main__":
    main()
