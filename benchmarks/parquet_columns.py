"""Parquet writing per column of the store's call records: the store's writer options against
the options before the v2 encodings, and constant columns given as dictionaries (issue 5).

Run: .venv/bin/python -m benchmarks.parquet_columns --returns DIR [--rounds 3]

The canonical records of the carrier returns of ``DIR`` (read once with ``scan_return``, plus a
``batch_id`` column, as the commit stages them) are written in batches of at most 100,000 rows
with ``ParquetWriter.write_batch``, one file per return, as the commit does: each column
alone, then the whole table, with each option set; each figure is the best CPU time
(``time.process_time``) of ``--rounds`` runs, the option sets measured side by side.

- "before": the store's options without :data:`tls_core.store._files.ENCODINGS` (those
  columns and the coordinates without a dictionary, no v2 encoding), as they were before it;
- "after": the store's options, every column handed to the writer as it is
  (``write_staged`` with the constant path off);
- "dict": ``write_staged`` as the store runs it: string columns constant in a file's first
  batch handed over as one-value dictionaries (``tls_core/store/_constant.py``; the
  constancy checks and conversions are inside the figure).

Writes the ``parquet-columns`` section of benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from benchmarks._results import machine, write_section

_ROWS = 100_000
_COORDINATES = ("first_lat", "first_lon", "last_lat", "last_lon")
_NEVER = 1 << 62
_SETS = ("before", "after", "dict")

Files = list[list[pa.RecordBatch]]
"""The record batches of each file to write (one file per return)."""


def records(folder: Path) -> Files:
    """The canonical records of each return of ``folder`` as stored (``batch_id`` added)."""
    from penlink_adapters import scan_return
    from tls_core.store._layout import STORED_SCHEMAS

    schema = STORED_SCHEMAS["call_records"]
    files = []
    for path in sorted(folder.glob("*.csv")):
        owner = pa.array([uuid.uuid4().hex], pa.string())
        batches = []
        for chunk, _ in scan_return(path):
            table = chunk.append_column("batch_id", owner.take([0] * chunk.num_rows))
            batches += [
                pa.RecordBatch.from_arrays(b.columns, schema=schema)
                for b in table.to_batches(max_chunksize=_ROWS)
            ]
        files.append(batches)
    return files


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


def _write_files(files: Files, how: str, folder: Path) -> list[Path]:
    """Write ``files`` into ``folder`` the ``how`` way; return the paths written."""
    from tls_core.store._constant import CONSTANT_MIN_ROWS
    from tls_core.store._files import write_staged
    from tls_core.store._layout import Layout

    schema = files[0][0].schema
    if how != "before":
        least = _NEVER if how == "after" else CONSTANT_MIN_ROWS
        staged = (write_staged(Layout(folder), f, schema, constant_min_rows=least) for f in files)
        return [path for s in staged for path, _ in s]
    options = option_sets(schema)["before"]
    if len(schema) == 1:
        options = _for_column(options, schema.names[0])
    paths = []
    for i, batches in enumerate(files):
        paths.append(folder / f"{i}.parquet")
        with pq.ParquetWriter(paths[-1], schema, **options) as writer:
            for batch in batches:
                writer.write_batch(batch)
    return paths


def _write(files: Files, how: str, rounds: int) -> tuple[float, int]:
    """Best CPU seconds of ``rounds`` writes of ``files`` the ``how`` way, and their bytes."""
    with tempfile.TemporaryDirectory(prefix="tls-bench-columns-") as tmp:
        best, size = float("inf"), 0
        for _ in range(rounds):
            start = time.process_time()
            paths = _write_files(files, how, Path(tmp))
            best = min(best, time.process_time() - start)
            size = sum(p.stat().st_size for p in paths)
            for path in paths:
                path.unlink()
        return best, size


def measure(files: Files, rounds: int) -> list[tuple[str, dict[str, tuple[float, int]]]]:
    """Per column (then ``(whole table)``): each option set's CPU seconds and bytes."""
    schema = files[0][0].schema
    rows = []
    for i, field in enumerate(schema):
        one = pa.schema([field], metadata=schema.metadata)
        alone = [[pa.RecordBatch.from_arrays([b.column(i)], schema=one) for b in f] for f in files]
        rows.append((field.name, {how: _write(alone, how, rounds) for how in _SETS}))
    rows.append(("(whole table)", {how: _write(files, how, rounds) for how in _SETS}))
    return rows


def _table(rows: list[tuple[str, dict[str, tuple[float, int]]]]) -> str:
    lines = []
    order = sorted(rows[:-1], key=lambda r: -r[1]["after"][0]) + rows[-1:]
    for name, got in order:
        cpu = " | ".join(f"{got[how][0] * 1e3:.1f} ms" for how in _SETS)
        size = " | ".join(f"{got[how][1] / 2**20:.2f} MiB" for how in _SETS)
        lines.append(f"| {name} | {cpu} | {size} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--returns", required=True, metavar="DIR")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--shared-with", default="other jobs")
    args = parser.parse_args()
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    files = records(Path(args.returns))
    rows = measure(files, args.rounds)
    n = sum(b.num_rows for f in files for b in f)
    body = f"""
## Parquet writing per column (issue 5)

Command: `python -m benchmarks.parquet_columns --returns {args.returns} --rounds {args.rounds}`.
Machine: {machine()}, shared with {args.shared_with} (load average when the run started:
{load}): CPU time, best of {args.rounds}, the option sets side by side.

The {n:,} canonical call records of the {len(files)} returns (as stored, with `batch_id`),
written one file per return in batches of at most 100,000 rows with
`ParquetWriter.write_batch` as the commit stages them: each column alone, then the whole
table. "Before": the store's options without the v2 encodings (no dictionary on `record_id`,
times, `source_row`, coordinates; `duration_s` with one). "After": the options of
`tls_core/store/_files.py` (`ENCODINGS`: `DELTA_BINARY_PACKED` for `start_utc`, `source_row`,
`duration_s`, `DELTA_LENGTH_BYTE_ARRAY` for `record_id`; coordinates with a dictionary),
every column handed to the writer as it is. "Dict": `write_staged` as the store runs it, the
string columns constant in a file's first batch handed over as one-value dictionaries
(`tls_core/store/_constant.py`; the checks and conversions counted).

| column | CPU before | CPU after | CPU dict | bytes before | bytes after | bytes dict |
|---|---|---|---|---|---|---|
{_table(rows)}
"""
    write_section("parquet-columns", body)
    print(body)


if __name__ == "__main__":
    main()
