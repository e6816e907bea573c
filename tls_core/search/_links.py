"""The case association of the occurrence index, applied when a search reads the runs.

``case_links`` (which cases each batch belongs to now: link, unlink) and ``record_refs`` (which
later batches also hold a record) change without any record file changing, so they are never
written into the runs. They are copied from the snapshot into one small Parquet file named by
its SHA-256, checked before it is read, and parsed once per process (content-addressed).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import pyarrow as pa

from tls_core.errors import IntegrityError
from tls_core.search._parts import Part, check_whole
from tls_core.store import Snapshot
from tls_core.store._files import fsync, sha256_file

__all__ = ["Links", "load_links", "write_links"]

_SCHEMA = pa.schema(
    [
        pa.field("what", pa.string(), nullable=False),
        pa.field("a", pa.string(), nullable=False),
        pa.field("b", pa.string(), nullable=False),
    ]
)
"""``case`` rows: (batch, case); ``ref`` rows: (record, referencing batch)."""


@dataclass(frozen=True)
class Links:
    """Batch -> cases and record -> referencing batches, as of one snapshot."""

    cases: Mapping[str, tuple[str, ...]]
    """Cases each batch is linked to now, sorted (a batch with none is absent)."""
    refs: Mapping[str, tuple[str, ...]]
    """Batches other than its owner that hold each referenced record."""

    def cases_of(self, batch: str) -> tuple[str, ...]:
        """The cases of one batch (none when it is linked to none)."""
        return self.cases.get(batch, ())


def write_links(directory: Path, snap: Snapshot) -> dict[str, Any]:
    """Copy the snapshot's current case links and record references; describe the file."""
    import pyarrow.parquet as pq

    rows: dict[str, list[str]] = {"what": [], "a": [], "b": []}
    for batch, case in sorted(_case_links(snap.read("case_batches"))):
        rows["what"].append("case")
        rows["a"].append(batch)
        rows["b"].append(case)
    refs = snap.read("record_refs")
    for record, batch in sorted(
        set(
            zip(
                refs.column("record_id").to_pylist(),
                refs.column("batch_id").to_pylist(),
                strict=True,
            )
        )
    ):
        rows["what"].append("ref")
        rows["a"].append(record)
        rows["b"].append(batch)
    tmp = directory / f"tmp-{uuid.uuid4().hex}.parquet"
    try:
        pq.write_table(pa.table(rows, schema=_SCHEMA), tmp, compression="zstd")
        fsync(tmp)
        sha = sha256_file(tmp)
        size = tmp.stat().st_size
        os.replace(tmp, directory / f"{sha}.parquet")
    finally:
        tmp.unlink(missing_ok=True)
    return {"file": f"{sha}.parquet", "size": size, "sha256": sha}


def _case_links(table: pa.Table) -> set[tuple[str, str]]:
    """(batch, case) pairs whose latest event links them (the store's ``case_links`` view)."""
    latest: dict[tuple[str, str], tuple[Any, bool]] = {}
    cols = [table.column(c).to_pylist() for c in ("batch_id", "case_id", "at_utc", "linked")]
    for batch, case, at, linked in zip(*cols, strict=True):
        seen = latest.get((batch, case))
        if seen is None or at >= seen[0]:
            latest[(batch, case)] = (at, linked)
    return {pair for pair, (_, linked) in latest.items() if linked}


def load_links(directory: Path, entry: Mapping[str, Any]) -> Links:
    """Check the links file against its SHA-256 and return its maps (parsed once per file).

    Raises:
        IntegrityError: the file is foreign, missing or does not match.
    """
    name = str(entry["file"])
    if name != f"{entry['sha256']}.parquet" or os.sep in name:
        raise IntegrityError("the manifest names a foreign file", file=name, reason="foreign_path")
    path = directory / name
    check_whole(path, Part(0, int(entry["size"]), str(entry["sha256"])), "links file")
    return _parse(path, name)


@lru_cache(maxsize=8)
def _parse(path: Path, name: str) -> Links:
    import pyarrow.parquet as pq

    table = pq.read_table(path)
    cases: dict[str, list[str]] = {}
    refs: dict[str, list[str]] = {}
    cols = [table.column(c).to_pylist() for c in ("what", "a", "b")]
    for what, a, b in zip(*cols, strict=True):
        (cases if what == "case" else refs).setdefault(a, []).append(b)
    return Links(
        cases={k: tuple(sorted(v)) for k, v in cases.items()},
        refs={k: tuple(sorted(v)) for k, v in refs.items()},
    )
