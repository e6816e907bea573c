"""CPU of the typed conversion (``convert_calls``) per 1 M rows of a T-Mobile-layout CSV.

Usage: ``python -m benchmarks.convert_scale [path] [--rounds N] [--write]``

The file is cut into chunks once (as ``scan_return`` does); then the chunks go through the
current conversion and through main's conversion at 0027e94 (``tests/adapters/
_convert_reference.py``, which runs on the current kernels and value parsers), in
alternating rounds in this process. CPU time (``time.process_time``, every thread), not
wall: the machine is shared. ``--write`` puts the figures in RESULTS.md (section
``convert``).
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable
from typing import Any

import polars as pl

from benchmarks._results import machine, spread, write_section
from penlink_adapters._convert import ConvertContext, convert_calls
from penlink_adapters._read import ReturnScan
from tests.adapters import _convert_reference as reference

_DEFAULT = "/tmp/tls-bench-tmobile-1000000-7.csv"


def _cpu(run: Callable[[], object]) -> float:
    start = time.process_time()
    run()
    return time.process_time() - start


def main() -> None:
    """Measure, print, and with ``--write`` record the section."""
    parser = argparse.ArgumentParser()
    parser.add_argument("path", nargs="?", default=_DEFAULT)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--write", action="store_true")
    args = parser.parse_args()
    scan = ReturnScan(args.path, "tmobile", None, None, None, 100_000)
    chunks: list[tuple[pl.DataFrame, bool]] = [(c.frame, c.trimmed) for c in scan._chunks()]
    rows = sum(len(f) for f, _ in chunks)
    layout = scan.layout

    def run(convert: Any, ctx: Any) -> Callable[[], object]:
        return lambda: [convert(f, layout, ctx, trimmed=t) for f, t in chunks]

    new = run(convert_calls, ConvertContext(None, None))
    old = run(reference.convert_calls, reference.ConvertContext(None, None))
    load = os.getloadavg()[0]
    new(), old()  # warm-up: numba compiles or loads its cache
    times: dict[str, list[float]] = {"new": [], "old": []}
    for _ in range(args.rounds):
        times["old"].append(_cpu(old) * 1e6 / rows)
        times["new"].append(_cpu(new) * 1e6 / rows)
    ratio = min(times["old"]) / min(times["new"])
    body = "\n".join(
        [
            "## Typed conversion of a T-Mobile-layout CSV (issue 3, convert_calls)",
            "",
            f"Command: `python -m benchmarks.convert_scale {args.path} --rounds {args.rounds}`"
            f" (POLARS_MAX_THREADS={os.environ.get('POLARS_MAX_THREADS', 'default')}).",
            f"Machine: {machine()}; load average {load:.1f} at start, "
            f"{os.getloadavg()[0]:.1f} at end (shared by other jobs).",
            "",
            f"CPU seconds per 1 M rows ({rows:,} rows in {len(chunks)} chunks), "
            "median (min-max) over alternating rounds:",
            "",
            f"- main's conversion (0027e94, on current kernels): {spread(times['old'])}",
            f"- this conversion: {spread(times['new'])}",
            f"- ratio of the best rounds: {ratio:.2f}x",
        ]
    )
    print(body)
    if args.write:
        write_section("convert", body)


if __name__ == "__main__":
    main()
