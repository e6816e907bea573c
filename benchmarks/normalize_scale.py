"""Normalization at scale, side by side with the phonenumbers loop and the bare kernel.

Run: .venv/bin/python -m benchmarks.normalize_scale [--rows 10000000] [--distinct 1000000]

Writes the ``normalize`` section of benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import numpy as np
import phonenumbers

from benchmarks._results import machine, spread, write_section
from benchmarks.synth_ids import identifier_column
from tls_core.identifiers import _kernels as kernels
from tls_core.identifiers import normalize
from tls_core.identifiers._normalize import _buffers
from tls_core.identifiers._phone import kernel_tables


def _time(fn, repeat: int) -> list[float]:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return times


def _phonenumbers_loop(values: list[str]) -> None:
    """What an analyst writes: parse and format every value, one at a time."""
    for value in values:
        try:
            number = phonenumbers.parse(value, "US")
            if phonenumbers.is_possible_number(number):
                phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
        except phonenumbers.NumberParseException:
            pass


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--distinct", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--sample", type=int, default=20_000)
    args = parser.parse_args()

    load_before = os.getloadavg()[0]
    column = identifier_column(args.rows, args.distinct)
    # Warm-up at full size: numba compiles (or loads its cache), and the process's allocator
    # and the kernel's huge pages reach the steady state of a long ingest.
    normalize(column)
    e2e = _time(lambda: normalize(column), args.repeat)

    offsets, data, valid = _buffers(column)
    t = kernel_tables()
    idd = np.frombuffer(b"011", dtype=np.uint8).astype(np.int64)

    def bare() -> None:
        kernels.phone_kernel(
            offsets, data, valid, kernels.MODE_AUTO, True, idd, t.cc_known, t.cc_fast,
            t.cc_lengths, t.cc_np, t.cc_np_len, t.rbi, t.mcc_ok, True,
        )  # fmt: skip

    bare()  # the same warm-up
    bare_times = _time(bare, args.repeat)
    sample = column[: args.sample].to_pylist()
    loop_times = _time(lambda: _phonenumbers_loop(sample), 3)

    rows = args.rows
    e2e_rate = rows / statistics.median(e2e)
    bare_rate = rows / statistics.median(bare_times)
    loop_rate = args.sample / statistics.median(loop_times)
    command = "python -m benchmarks.normalize_scale"
    if (args.rows, args.distinct) != (10_000_000, 1_000_000):
        command += f" --rows {args.rows} --distinct {args.distinct}"
    body = f"""
## Identifier normalization

Command: `{command}` (repeat {args.repeat}). Machine: {machine()}.

Each timed run follows one untimed run of the same size. Load average (1 min) before / after:
{load_before:.2f} / {os.getloadavg()[0]:.2f}.

Input: {rows:,} raw identifiers drawn uniformly from {args.distinct:,} distinct ones
(`benchmarks/synth_ids.py`: NANP numbers in six renderings, international numbers, IMEIs,
service codes, spreadsheet floats, lossy E-notation, junk). Uniform draws are the cache worst
case: real returns repeat a few numbers far more often.

| what | time for {rows:,} values | values/s | vs. phonenumbers loop |
|---|---|---|---|
| `normalize()` end to end (distinct values, kernel + reference, mapped back) | {spread(e2e)} | {e2e_rate / 1e6:.2f} M | {e2e_rate / loop_rate:.0f}x |
| bare numba kernel over every row (no dedup, no fallback, no output table) | {spread(bare_times)} | {bare_rate / 1e6:.2f} M | {bare_rate / loop_rate:.0f}x |
| per-value `phonenumbers` loop (parse, possible, format) on {args.sample:,} values, extrapolated | {spread([x * rows / args.sample for x in loop_times])} | {loop_rate / 1e3:.1f} k | 1x |

End to end / bare kernel: {statistics.median(e2e) / statistics.median(bare_times):.2f}x the kernel's time.
Targets (issue 2): >= 10 M values/s, >= 150x the loop, within 2x of the bare kernel.
"""
    write_section("normalize", body)
    print(body)


if __name__ == "__main__":
    main()
