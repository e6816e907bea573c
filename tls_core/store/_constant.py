"""Constant and few-valued string columns of a staged file handed to the writer as dictionaries.

Many string columns of a batch hold one value on every row: the per-file provenance
(``source_sha256``, ``layout_name``, ``layout_version``, ``tz_name``, ``tz_source``), the
``batch_id``, the identifier kinds and usually the ``target_*`` columns; others hold a few short
values (``direction``, ``event_type``, the ``target_*`` columns of a return on two targets).
Given a plain string column, Arrow's Parquet writer hashes every value into its dictionary;
given a ``DictionaryArray`` it takes the dictionary as it is and writes the indices (a third
to a half of the CPU). So a column found constant, without hashing (its offsets an arithmetic
sequence and its bytes one value repeated: two vectorized passes), is handed over as a
one-value dictionary with all-zero indices, and a column of at most :data:`FEW` values of at
most 16 bytes as the dictionary of those values (:func:`few_valued`: a numba pass comparing
each row with the values found so far, :mod:`tls_core.store._few_kernel`).

The writer's schema is fixed per file, so the choice is made per file from its first batch: a
string column constant or few-valued there, without nulls (and the batch at least
``min_rows`` long), is a dictionary column for the whole file. Each batch is a row group of
its own with a dictionary of its own, so a later batch's dictionary may hold other values. A
later batch with nulls, more values or longer ones is dictionary-encoded by
``pyarrow.compute.dictionary_encode`` (a hash of its values, about 1.2-1.5x the plain write of
that column, once per such batch; the columns this path serves are constant or few-valued
per source file).

Files read back exactly as plain ones: the Parquet column is a dictionary-encoded
``BYTE_ARRAY`` (``String``) either way, and the file's ``ARROW:schema`` (the Arrow schema a
reader restores: string types, field and schema metadata such as ``tls.schema``) is the stored
string schema, written by :meth:`ConstantColumns.key_value_metadata` since the writer would
otherwise store the dictionary types. Both dictionaries order the values by first appearance,
as the writer's own does: the bytes are those Arrow writes from the plain strings with a
dictionary on the same columns.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final

import numpy as np
import pyarrow as pa

__all__ = ["CONSTANT_MIN_ROWS", "FEW", "ConstantColumns", "few_valued", "is_constant", "within"]

CONSTANT_MIN_ROWS: Final = 1024
"""A file's first batch must have at least this many rows for its constant columns to be
written as dictionaries: a short first batch (a small file, a rewrite's remainder) says little
about the batches after it, and its columns cost little either way."""
FEW: Final = 8
"""The most distinct values of a non-constant column handed to the writer as a dictionary (the
kernel compares each row with every value found so far)."""
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


def few_valued(array: pa.Array, limit: int = FEW) -> pa.DictionaryArray | None:
    """``array`` dictionary-encoded: no null, at most ``limit`` values of at most 16 bytes.

    The dictionary holds the values in order of first appearance, as
    ``pyarrow.compute.dictionary_encode`` and the Parquet writer's own dictionary order them
    (:func:`~tls_core.store._few_kernel.few_values`: no hashing). None for another array.
    """
    from tls_core.store._few_kernel import few_values

    n = len(array)
    if n == 0 or array.null_count or array.type != pa.string():
        return None
    buffers = array.buffers()
    offsets = np.frombuffer(buffers[1], np.int32, n + 1, array.offset * 4)
    data = np.frombuffer(buffers[2], np.uint8) if buffers[2] is not None else np.zeros(0, np.uint8)
    indices = np.empty(n, np.int32)
    firsts = np.empty(limit, np.int64)
    count = few_values(offsets, data, limit, indices, firsts)
    if count < 0:
        return None
    dictionary = array.take(pa.array(firsts[:count]))
    return pa.DictionaryArray.from_arrays(pa.array(indices), dictionary, safe=False)


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

        A string column constant there, or without nulls and of at most :data:`FEW` values of
        at most 16 bytes.

        Args:
            schema: The stored schema of the file.
            first: The file's first batch (columns in ``schema``'s order and types).
            exclude: Columns never written as dictionaries (those with another encoding).
            min_rows: No dictionary column when ``first`` has fewer rows.
        """
        if first.num_rows < min_rows:
            return cls(schema, frozenset())
        strings = [
            (f.name, column)
            for f, column in zip(schema, first.columns, strict=True)
            if f.type == pa.string() and f.name not in exclude
        ]
        found = {name: column for name, column in strings if is_constant(column)}
        few = {
            name for name, column in strings if name not in found and few_valued(column) is not None
        }
        plan = cls(schema, frozenset(found) | few)
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

            encoded: pa.Array | None = few_valued(column)
            return pc.dictionary_encode(column) if encoded is None else encoded
        n = len(column)
        if self._zeros is None or len(self._zeros) < n:
            self._zeros = pa.array(np.zeros(max(n, 1 << 16), np.int32))
        return pa.DictionaryArray.from_arrays(
            self._zeros.slice(0, n), column.slice(0, 1), safe=False
        )
