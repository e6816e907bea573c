"""Constant string columns of a staged file handed to the Parquet writer as dictionaries.

Many string columns of a batch hold one value on every row: the per-file provenance
(``source_sha256``, ``layout_name``, ``layout_version``, ``tz_name``, ``tz_source``), the
``batch_id``, the identifier kinds and usually the ``target_*`` columns. Given a plain string
column, Arrow's Parquet writer hashes every value into its dictionary; given a
``DictionaryArray`` it takes the dictionary as it is and writes the indices (a third to a half
of the CPU). So a column found constant, without hashing (its offsets an arithmetic sequence and
its bytes one value repeated: two vectorized passes), is handed over as a one-value dictionary
with all-zero indices.

The writer's schema is fixed per file, so the choice is made per file from its first batch: a
string column constant there (and the batch at least ``min_rows`` long) is a dictionary column
for the whole file. A later batch in which it is not constant is dictionary-encoded
(``pyarrow.compute.dictionary_encode``: a hash of its values, about 1.2-1.5x the plain write of
that column, once per such batch; the columns this path serves are constant per source file).

Files read back exactly as plain ones: the Parquet column is a dictionary-encoded
``BYTE_ARRAY`` (``String``) either way, and the file's ``ARROW:schema`` (the Arrow schema a
reader restores: string types, field and schema metadata such as ``tls.schema``) is the stored
string schema, written by :meth:`ConstantColumns.key_value_metadata` since the writer would
otherwise store the dictionary types. The bytes are those Arrow writes from the plain strings
with a dictionary on the same columns.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final

import numpy as np
import pyarrow as pa

__all__ = ["CONSTANT_MIN_ROWS", "ConstantColumns", "is_constant", "within"]

CONSTANT_MIN_ROWS: Final = 1024
"""A file's first batch must have at least this many rows for its constant columns to be
written as dictionaries: a short first batch (a small file, a rewrite's remainder) says little
about the batches after it, and its columns cost little either way."""
_INDEX: Final = pa.int32()
_SAMPLES: Final = 8


def within(array: pa.Array, known: pa.Array) -> bool:
    """Whether ``array`` is a slice of the same memory as ``known`` (rows of it, no others).

    A string array's rows are its offsets and data buffers from its offset on: the same
    buffers (address and size) and a range of rows inside ``known``'s hold values of
    ``known``. Arrow buffers are not written once made, and ``known``, held by the caller,
    keeps its memory from being freed and reused.
    """
    if not len(array) or array.type != known.type or array.null_count or known.null_count:
        return False
    mine, theirs = array.buffers(), known.buffers()
    if any(
        a is None or b is None or a.address != b.address or a.size != b.size
        for a, b in zip(mine[1:3], theirs[1:3], strict=True)
    ):
        return False
    first, last = array.offset, array.offset + len(array)
    return bool(known.offset <= first and last <= known.offset + len(known))


def is_constant(array: pa.Array) -> bool:
    """Whether a string array holds one non-null value on every row (and has a row).

    Compares a few sampled values first (most varying columns stop there), then checks that
    the offsets step by the first value's length and that the data bytes repeat with that
    period (one ``memcmp``); nothing is hashed.
    """
    n = len(array)
    if n == 0 or array.null_count or array.type != pa.string():
        return False
    first = array[0]
    step = max(1, n // _SAMPLES)
    if any(array[i] != first for i in range(step, n, step)):
        return False
    offsets = np.frombuffer(array.buffers()[1], np.int32, n + 1, array.offset * 4)
    start, width = int(offsets[0]), int(offsets[1] - offsets[0])
    if not bool((np.diff(offsets) == width).all()):
        return False
    if width == 0:
        return True
    data, total = array.buffers()[2], n * width
    return bool(data.slice(start + width, total - width).equals(data.slice(start, total - width)))


@dataclass
class ConstantColumns:
    """The dictionary columns of one file being written and the conversion of its batches."""

    schema: pa.Schema
    """The stored schema (string columns)."""
    columns: frozenset[str]
    """The columns written as dictionaries in this file (none: the file is written plainly)."""
    file_schema: pa.Schema = field(init=False)
    """The writer's schema: :attr:`schema` with the chosen columns as dictionaries."""
    _zeros: pa.Array | None = field(default=None, init=False)
    _known: dict[str, pa.Array] = field(default_factory=dict, init=False, repr=False)
    """Per chosen column, an array found constant, held (so its memory is not reused)."""

    def __post_init__(self) -> None:
        out = self.schema
        for i, f in enumerate(self.schema):
            if f.name in self.columns:
                out = out.set(i, f.with_type(pa.dictionary(_INDEX, f.type)))
        self.file_schema = out

    @classmethod
    def plan(
        cls,
        schema: pa.Schema,
        first: pa.RecordBatch,
        *,
        exclude: frozenset[str] = frozenset(),
        min_rows: int = CONSTANT_MIN_ROWS,
    ) -> ConstantColumns:
        """Choose the columns of ``first`` (a file's first batch) to write as dictionaries.

        Args:
            schema: The stored schema of the file.
            first: The file's first batch (columns in ``schema``'s order and types).
            exclude: Columns never written as dictionaries (those with another encoding).
            min_rows: No dictionary column when ``first`` has fewer rows.
        """
        if first.num_rows < min_rows:
            return cls(schema, frozenset())
        found = {
            f.name: column
            for f, column in zip(schema, first.columns, strict=True)
            if f.type == pa.string() and f.name not in exclude and is_constant(column)
        }
        plan = cls(schema, frozenset(found))
        plan._known.update(found)
        return plan

    def convert(self, batch: pa.RecordBatch) -> pa.RecordBatch:
        """Return ``batch`` in :attr:`file_schema` (the chosen columns as dictionaries)."""
        arrays = [
            self._dictionary(f.name, column) if f.name in self.columns else column
            for f, column in zip(self.schema, batch.columns, strict=True)
        ]
        return pa.RecordBatch.from_arrays(arrays, schema=self.file_schema)

    def key_value_metadata(self) -> dict[bytes, bytes]:
        """The key-value metadata Arrow's writer stores for :attr:`schema`.

        The schema's own metadata plus ``ARROW:schema`` (the base64 of the schema's IPC
        serialization, list items named as the Parquet file names them), taken from an empty
        file written with that schema: what the writer itself stores.
        """
        import pyarrow.parquet as pq

        sink = pa.BufferOutputStream()
        pq.ParquetWriter(sink, self.schema).close()
        stored = pq.read_metadata(pa.BufferReader(sink.getvalue())).metadata
        # In the writer's order (the schema's keys, then ARROW:schema): the same bytes.
        own = dict(self.schema.metadata or {})
        own[b"ARROW:schema"] = stored[b"ARROW:schema"]
        return own

    def _constant(self, name: str, column: pa.Array) -> bool:
        """:func:`is_constant`, without a look at the values of rows of an array found so.

        A file's provenance and other constant columns come from the read as slices of one
        array per value: checked once, each later batch's slice is known by its buffers
        (:func:`within`), and its bytes are not compared again (the checks took 0.37 s of
        CPU in a ten-file ingest of 10 M rows, 0.08 s with this).
        """
        known = self._known.get(name)
        if known is not None and within(column, known):
            return True
        if not is_constant(column):
            return False
        if known is None or len(column) > len(known):
            self._known[name] = column
        return True

    def _dictionary(self, name: str, column: pa.Array) -> pa.Array:
        if not self._constant(name, column):
            import pyarrow.compute as pc

            encoded: pa.Array = pc.dictionary_encode(column)
            return encoded
        n = len(column)
        if self._zeros is None or len(self._zeros) < n:
            self._zeros = pa.array(np.zeros(max(n, 1 << 16), np.int32))
        return pa.DictionaryArray.from_arrays(
            self._zeros.slice(0, n), column.slice(0, 1), safe=False
        )
