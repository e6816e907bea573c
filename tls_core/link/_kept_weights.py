"""The kept ``identifier_weights``: un-merged rows, an incremental run appends its changes.

An incremental run with the last run's settings recomputes the weights of the identifiers it
changed only (:mod:`tls_core.link._changed`), and a weight (how many cases hold the
identifier) only grows while records are only added. So the kept weights are a list of
segments ``identifier_weights-<sha256>.arrow`` (uncompressed Arrow IPC, memory-mapped): a full
run's weights, then each incremental run's changed weights. An identifier's weight is the
largest of its rows; the run reads only its changed identifiers' rows (step
``identifier_weights`` takes the largest) and writes only their new rows, instead of reading
and rewriting one row per identifier of the corpus. Past :data:`MAX_SEGMENTS` the segments
are merged into one. Sizes are checked when the state loads, bytes when a segment is read.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Final

import pyarrow as pa
import pyarrow.compute as pc

from tls_core.link._kept_cases import (
    MAX_SEGMENTS,
    Segments,
    read_segment,
    write_segment,
)

__all__ = ["WEIGHTS_SCHEMA", "KeptWeights"]

WEIGHTS_SCHEMA: Final = pa.schema(
    [("identifier", pa.string()), ("kind", pa.string()), ("cases", pa.int64())]
)
"""Columns of step ``identifier_weights``."""

_NAME: Final = "identifier_weights"


@dataclass(frozen=True)
class KeptWeights(Segments):
    """The segments of the kept weights under ``folder``, oldest first."""

    TABLE: ClassVar[str] = _NAME

    def read(self, identifiers: pa.Array | None = None) -> pa.Table:
        """The un-merged rows (of ``identifiers`` only, when given), each file checked."""
        parts = [WEIGHTS_SCHEMA.empty_table()]
        for segment in self.segments:
            table = read_segment(self.path(segment), segment, WEIGHTS_SCHEMA)
            if identifiers is not None:
                table = table.filter(pc.is_in(table.column("identifier"), value_set=identifiers))
            parts.append(table)
        return pa.concat_tables(parts)

    def read_merged(self) -> pa.Table:
        """One row per identifier: its largest weight."""
        merged = self.read().group_by(["identifier", "kind"], use_threads=False)
        table = merged.aggregate([("cases", "max")]).rename_columns(["identifier", "kind", "cases"])
        return table.select(WEIGHTS_SCHEMA.names).cast(WEIGHTS_SCHEMA)

    def append(self, rows: pa.Table, *, fresh: bool = False) -> KeptWeights:
        """Write ``rows`` as one more segment (``fresh``: instead of the kept ones)."""
        kept = () if fresh else self.segments
        rows = rows.select(WEIGHTS_SCHEMA.names).cast(WEIGHTS_SCHEMA)
        if len(kept) >= MAX_SEGMENTS:
            rows = pa.concat_tables([self.read_merged(), rows])
            kept = ()
        if rows.num_rows == 0 and kept:
            return KeptWeights(self.folder, kept)
        return KeptWeights(self.folder, (*kept, write_segment(self.folder, rows, _NAME)))
