"""Reading a T-Mobile-layout CSV: penlink_adapters vs polars' raw read (not run by default).

Run: ``pytest benchmarks/test_read_tmobile.py --benchmark-only`` (rows: ``TLS_BENCH_ROWS``).
"""

from __future__ import annotations

import csv
import os
import random
from pathlib import Path

import polars as pl
import pytest

import penlink_adapters as pla

HEADER = [
    "Date",
    "(UTC) Time",
    "Duration",
    "Call Type",
    "Direction",
    "Calling Number",
    "Dialed Number",
    "Called Number",
    "Destination Number",
    "IMSI",
    "IMEI",
    "Completion Code",
    "Service Code",
    "Switch Name",
]


@pytest.fixture(scope="session")
def tmobile_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    rows = int(os.environ.get("TLS_BENCH_ROWS", "200000"))
    rng = random.Random(1)
    path = tmp_path_factory.mktemp("bench") / "tmobile.csv"
    with path.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(HEADER)
        for i in range(rows):
            other = f"646{rng.randint(2_000_000, 9_999_999)}"
            writer.writerow(
                [
                    f"03/{1 + i % 28:02d}/2021",
                    f"{i % 24:02d}:{i % 60:02d}:{i * 7 % 60:02d}",
                    str(i % 500),
                    "mSOriginating",
                    "Outgoing",
                    "2125550001",
                    other,
                    other,
                    other,
                    "310260000000001",
                    "490154203237518",
                    "completed",
                    "",
                    "SW1",
                ]
            )
    return path


def test_raw_polars_read(benchmark, tmobile_csv: Path) -> None:
    benchmark(lambda: pl.read_csv(tmobile_csv, infer_schema=False))


def test_read_return_one_device_many_calls(benchmark, tmobile_csv: Path) -> None:
    records, _, report = benchmark(lambda: pla.read_return(tmobile_csv))
    assert report.balanced
    assert records.num_rows == report.loaded
