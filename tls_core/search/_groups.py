"""Reading the runs: the summary groups of one match key, and the case-identifier edges.

A group is one summary row of one run: the occurrences of one identifier (kind, variant) in
one source (a batch's data file), stored contiguously in the run's occurrences file. Its cases
come from the index's links, never from the run.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.compute as pc

if TYPE_CHECKING:
    from tls_core.search._index import OccurrenceIndex, Run

__all__ = ["Group", "case_identifiers", "read_groups"]

_SUMMARY_COLUMNS = ("kind", "identifier", "variant", "source", "occurrences", "roles")


@dataclass(frozen=True)
class Group:
    """The occurrences of one identifier in one source of one run."""

    run: Run
    """The run holding them."""
    row: dict[str, Any]
    """Its summary row (``kind``, ``identifier``, ``variant``, ``occurrences``, ``roles``,
    ``first_seen``, ``last_seen``, ``start``)."""

    @property
    def batch(self) -> str:
        """The batch of its source (whose cases it belongs to)."""
        return self.run.batches[int(self.row["source"])]

    @property
    def order(self) -> tuple[str, str, str, str]:
        """Order of groups within one identifier and case: batch, file, kind, variant."""
        source = self.row["source"]
        row = self.row
        return (self.batch, self.run.files[source], row["kind"], row["variant"] or "")

    @cached_property
    def rows(self) -> pa.Table:
        """Its occurrence rows (by record id and role), their row groups checked first."""
        return self.read(int(self.row["occurrences"]))

    def read(self, room: int | None = None, columns: Sequence[str] | None = None) -> pa.Table:
        """Its first ``room`` occurrence rows (all when None: read once, then kept).

        ``columns``: only these (every column when None). The group's identifier, kind,
        variant and source are in :attr:`row`: reading fewer columns saves decoding them.
        """
        if room is None and columns is None:
            return self.rows
        start = int(self.row["start"])
        occ = self.run.occurrences
        count = int(self.row["occurrences"])
        stop = start + (count if room is None else min(room, count))
        return occ.read_rows(start, stop, occ.schema.names if columns is None else columns)


def read_groups(index: OccurrenceIndex, key: str) -> list[Group]:
    """The groups of ``key`` in every run, live sources only."""
    groups = []
    for run in index.runs:
        table = run.summary.lookup(key)
        if table.num_rows == 0:
            continue
        for row in table.to_pylist():
            if row["source"] in run.live:
                groups.append(Group(run, row))
    return groups


def case_identifiers(index: OccurrenceIndex) -> pa.Table:
    """Distinct (case_id, kind, identifier) of every live occurrence, cases applied."""
    links = index.links
    cases, kinds, idents = [], [], []
    for run in index.runs:
        table = run.summary.read_all(["kind", "identifier", "source"])
        table = table.group_by(["kind", "identifier", "source"]).aggregate([])
        for kind, ident, source in zip(
            *(table.column(c).to_pylist() for c in table.column_names), strict=True
        ):
            if source in run.live:
                for case in links.cases_of(run.batches[source]):
                    cases.append(case)
                    kinds.append(kind)
                    idents.append(ident)
        if links.refs:
            occ = run.occurrences.read_all(["kind", "identifier", "source", "record_id"])
            mask = pc.is_in(occ.column("record_id"), pa.array(sorted(links.refs), pa.string()))
            occ = occ.filter(mask)
            cols = (occ.column(c).to_pylist() for c in occ.column_names)
            for kind, ident, source, record in zip(*cols, strict=True):
                if source in run.live:
                    for batch in links.refs[record]:
                        for case in links.cases_of(batch):
                            cases.append(case)
                            kinds.append(kind)
                            idents.append(ident)
    table = pa.table({"case_id": cases, "kind": kinds, "identifier": idents}, schema=_EDGES)
    return table.group_by(["case_id", "kind", "identifier"]).aggregate([])


_EDGES = pa.schema([("case_id", pa.string()), ("kind", pa.string()), ("identifier", pa.string())])
