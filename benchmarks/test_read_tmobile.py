"""Reading a T-Mobile-layout CSV: penlink_adapters vs polars' raw read (not run by default).

Run: ``pytest benchmarks/test_read_tmobile.py --benchmark-only`` (rows: ``TLS_BENCH_ROWS``).
The file is the one ``python -m benchmarks.read_scale`` writes (the adapters' synthetic
renderer); that script measures peak memory too and writes benchmarks/RESULTS.md.
"""

from __future__ import annotations

import os
from pathlib import Path

import polars as pl
import pytest

import penlink_adapters as pla
from benchmarks.read_scale import synth_file


@pytest.fixture(scope="session")
def tmobile_csv() -> Path:
    return synth_file(int(os.environ.get("TLS_BENCH_ROWS", "200000")))


def test_raw_polars_read(benchmark, tmobile_csv: Path) -> None:
    benchmark(lambda: pl.read_csv(tmobile_csv, infer_schema=False))


def test_read_return_one_device_many_calls(benchmark, tmobile_csv: Path) -> None:
    records, _, report = benchmark(lambda: pla.read_return(tmobile_csv))
    assert report.balanced
    assert records.num_rows == report.loaded


def test_scan_return_streamed(benchmark, tmobile_csv: Path) -> None:
    def stream() -> int:
        scan = pla.scan_return(tmobile_csv)
        loaded = sum(records.num_rows for records, _ in scan)
        assert scan.report().balanced
        return loaded

    assert benchmark(stream) > 0
