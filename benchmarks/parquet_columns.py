"""Parquet writing per column of the store's call records: the store's writer options against
the options before the v2 encodings (issue 5).

Run: .venv/bin/python -m benchmarks.parquet_columns --returns DIR [--rounds 3]

The canonical records of the carrier returns of ``DIR`` (read once with ``scan_return``, plus a
``batch_id`` column, as the commit stages them) are written in batches of 100,000 rows with
``ParquetWriter.write_batch``, as the commit does: each column alone, then the whole table,
with each option set; each figure is the best CPU time (``time.process_time``) of ``--rounds``
runs, the two option sets measured side by side. "Before" is the store's options without
:data:`tls_core.store._files.ENCODINGS` (those columns and the coordinates without a
dictionary, no v2 encoding), as they were before it. Writes the ``parquet-columns`` section of
benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from benchmarks._results import machine, write_section

_ROWS = 100_000
_COORDINATES = ("first_lat", "first_lon", "last_lat", "last_lon")


def records(folder: Path) -> list[pa.RecordBatch]:
    """The canonical records of the returns of ``folder`` as stored (``batch_id`` added)."""
    from penlink_adapters import scan_return
    from tls_core.store._layout import STORED_SCHEMAS

    schema = STORED_SCHEMAS["call_records"]
    parts = []
    for path in sorted(folder.glob("*.csv")):
        for chunk, _ in scan_return(path):
            owner = pa.array(["0" * 32] * chunk.num_rows, pa.string())
            parts.append(chunk.append_column("batch_id", owner))
    table = pa.concat_tables(parts)
    return [
        pa.RecordBatch.from_arrays(b.columns, schema=schema)
        for b in table.to_batches(max_chunksize=_ROWS)
    ]


def option_sets(schema: pa.Schema) -> dict[str, dict[str, Any]]:
    """The store's writer options ("after") and the options without the v2 encodings."""
    from tls_core.store._files import ENCODINGS, _writer_options

    after = _writer_options(schema)
    plain = {*ENCODINGS, *_COORDINATES}
    before = {
        **after,
        "use_dictionary": [n for n in after["use_dictionary"] if n not in plain],
        "column_encoding": {},
    }
    return {"before": before, "after": after}


def _for_column(options: dict[str, Any], name: str) -> dict[str, Any]:
    out = dict(options)
    for key in ("use_dictionary", "write_statistics"):
        value = options[key]
        out[key] = value if isinstance(value, bool) else name in value
    encoding = {k: v for k, v in options["column_encoding"].items() if k == name}
    out.pop("column_encoding")
    return {**out, "column_encoding": encoding} if encoding else out


def _write(
    batches: list[pa.RecordBatch], options: dict[str, Any], rounds: int
) -> tuple[float, int]:
    """Best CPU seconds of ``rounds`` writes, and the file's size."""
    with tempfile.TemporaryDirectory(prefix="tls-bench-columns-") as tmp:
        path = Path(tmp) / "out.parquet"
        best = float("inf")
        for _ in range(rounds):
            start = time.process_time()
            with pq.ParquetWriter(path, batches[0].schema, **options) as writer:
                for batch in batches:
                    writer.write_batch(batch)
            best = min(best, time.process_time() - start)
        return best, path.stat().st_size


def measure(
    batches: list[pa.RecordBatch], rounds: int
) -> list[tuple[str, dict[str, tuple[float, int]]]]:
    """Per column (then ``(whole table)``): each option set's CPU seconds and bytes."""
    schema = batches[0].schema
    sets = option_sets(schema)
    rows = []
    for i, field in enumerate(schema):
        alone = [
            pa.RecordBatch.from_arrays([b.column(i)], schema=pa.schema([field])) for b in batches
        ]
        rows.append(
            (
                field.name,
                {k: _write(alone, _for_column(o, field.name), rounds) for k, o in sets.items()},
            )
        )
    rows.append(("(whole table)", {k: _write(batches, o, rounds) for k, o in sets.items()}))
    return rows


def _table(rows: list[tuple[str, dict[str, tuple[float, int]]]]) -> str:
    lines = []
    order = sorted(rows[:-1], key=lambda r: -r[1]["before"][0]) + rows[-1:]
    for name, got in order:
        (b_cpu, b_size), (a_cpu, a_size) = got["before"], got["after"]
        lines.append(
            f"| {name} | {b_cpu * 1e3:.1f} ms | {a_cpu * 1e3:.1f} ms "
            f"| {b_size / 2**20:.2f} MiB | {a_size / 2**20:.2f} MiB |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--returns", required=True, metavar="DIR")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--shared-with", default="other jobs")
    args = parser.parse_args()
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    batches = records(Path(args.returns))
    rows = measure(batches, args.rounds)
    n = sum(b.num_rows for b in batches)
    body = f"""
## Parquet writing per column (issue 5)

Command: `python -m benchmarks.parquet_columns --returns {args.returns} --rounds {args.rounds}`.
Machine: {machine()}, shared with {args.shared_with} (load average when the run started:
{load}): CPU time, best of {args.rounds}, the two option sets side by side.

The {n:,} canonical call records of the returns (as stored, with `batch_id`), written in
batches of 100,000 rows with `ParquetWriter.write_batch` as the commit stages them: each column
alone, then the whole table. "Before": the store's options without the v2 encodings (no
dictionary on `record_id`, times, `source_row`, coordinates; `duration_s` with one). "After":
`tls_core/store/_files.py` (`ENCODINGS`: `DELTA_BINARY_PACKED` for `start_utc`, `source_row`,
`duration_s`, `DELTA_LENGTH_BYTE_ARRAY` for `record_id`; coordinates with a dictionary).

| column | CPU before | CPU after | bytes before | bytes after |
|---|---|---|---|---|
{_table(rows)}
"""
    write_section("parquet-columns", body)
    print(body)


if __name__ == "__main__":
    main()
