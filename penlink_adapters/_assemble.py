"""Converted chunks to canonical Arrow tables (records and rejects) with provenance."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Final

import polars as pl
import pyarrow as pa

from penlink_adapters._convert_kernel import array_views, one_value_kernel
from penlink_adapters._identify import IdentifierMemo, normalize_columns
from penlink_adapters._layout import Layout
from penlink_adapters._record_ids import table_record_ids
from tls_core.schema import (
    CALL_NATURAL_KEY,
    CALL_RECORDS,
    MISC_RECORDS,
    REJECTS,
    SUBSCRIBER_RECORDS,
    check_table,
)

__all__ = [
    "Provenance",
    "RejectRow",
    "assemble",
    "complete",
    "finish",
    "normalize",
    "prepare",
    "rejects_table",
    "schema_for",
]

_CALL_PARTIES = ("orig", "term", "dialed", "target")
_PARTY_KEY = (
    "identifier_canonical",
    "subscriber_name",
    "account_id",
    "imei",
    "imsi",
    "activated_utc",
    "deactivated_utc",
    "legal_process_ref",
)


@dataclass(frozen=True)
class Provenance:
    """Where records come from."""

    path: str
    sha256: str
    layout: Layout
    _repeats: dict[str, pa.Array] = field(default_factory=dict, compare=False, repr=False)

    def repeated(self, value: str, n: int) -> pa.Array:
        """``value`` on ``n`` rows: a slice of one array per value, made for the longest chunk.

        Every chunk of a file carries the same provenance strings; repeating them afresh for
        each chunk wrote (and the kernel faulted in and zeroed) 6.4 MB of SHA-256 text per
        100,000 rows: about half the page faults of a read. The array grows by a quarter
        beyond the chunk asking for more (chunk lengths vary: made to each one's length, the
        arrays of a 10 M-row read were made 80 times).
        """
        made = self._repeats.get(value)
        if made is None or len(made) < n:
            if made is None and len(self._repeats) >= _REPEATS:  # one-off values: not kept
                return pa.repeat(pa.scalar(value, pa.string()), n)
            size = n if made is None else n + n // 4
            made = self._repeats[value] = pa.repeat(pa.scalar(value, pa.string()), size)
        return made.slice(0, n)


_REPEATS: Final = 32
"""At most this many values are kept repeated per file (provenance, then constant columns)."""


def schema_for(layout: Layout) -> pa.Schema:
    """The canonical schema of a layout's records."""
    return {"call": CALL_RECORDS, "subscriber": SUBSCRIBER_RECORDS, "misc": MISC_RECORDS}[
        layout.record_type
    ]


def assemble(
    df: pl.DataFrame, prov: Provenance, region: str, memo: IdentifierMemo | None = None
) -> tuple[pa.Table, pl.DataFrame]:
    """Normalize identifiers and build the canonical table of the good rows.

    :func:`normalize` then :func:`finish`: the first carries the identifier memo from chunk to
    chunk, the second carries nothing (a scan runs them as two steps of its pipeline).

    Returns:
        The canonical records, and the rejected rows (``_row``, ``_reason``, ``_column``,
        ``_detail``) including those rejected for a lossy identifier.
    """
    return finish(normalize(df, prov.layout, region, memo), prov)


def normalize(
    df: pl.DataFrame, layout: Layout, region: str, memo: IdentifierMemo | None = None
) -> pl.DataFrame:
    """The converted chunk with each party's identifier kind, canonical value and loss."""
    parties = _CALL_PARTIES if layout.record_type == "call" else ("identifier",)
    return normalize_columns(df, parties, region, memo)


def finish(df: pl.DataFrame, prov: Provenance) -> tuple[pa.Table, pl.DataFrame]:
    """The canonical table of a normalized chunk's good rows, and its rejected rows.

    :func:`prepare` then :func:`complete` (a scan runs them as two steps of its pipeline).
    """
    rest, bad = prepare(df, prov)
    return complete(rest, prov), bad


def prepare(df: pl.DataFrame, prov: Provenance) -> tuple[pa.Table, pl.DataFrame]:
    """A normalized chunk's good rows (the canonical table but its record ids), its rejects.

    A lossy identifier rejects its row (``lossy_number``) unless the row was rejected already.
    Polars' columns are cast to the schema's types and the provenance columns added; the
    record ids are :func:`complete`'s.
    """
    call = prov.layout.record_type == "call"
    parties = _CALL_PARTIES if call else ("identifier",)
    lossy = pl.coalesce(
        *(pl.when(pl.col(f"{p}_lossy")).then(pl.lit(p)) for p in parties), pl.lit(None, pl.String)
    )
    df = df.with_columns(
        pl.when(pl.col("_reason").is_null() & lossy.is_not_null())
        .then(pl.lit("lossy_number"))
        .otherwise(pl.col("_reason"))
        .alias("_reason"),
        pl.when(pl.col("_reason").is_null())
        .then(lossy)
        .otherwise(pl.col("_column"))
        .alias("_column"),
        pl.when(pl.col("_reason").is_null() & lossy.is_not_null())
        .then(pl.lit("identifier digits were lost before the carrier wrote the file"))
        .otherwise(pl.col("_detail"))
        .alias("_detail"),
    )
    bad = df.filter(pl.col("_reason").is_not_null()).select("_row", "_reason", "_column", "_detail")
    good = df.filter(pl.col("_reason").is_null())
    good = good.rename({p: f"{p}_raw" for p in parties})
    body = _call_columns(good) if call else _party_columns(good)
    return _canonical_rest(body, prov), bad


_PROVENANCE = ("source_sha256", "source_row", "layout_name", "layout_version")
"""Canonical columns built in Arrow rather than by polars."""


def _canonical_rest(body: pl.DataFrame, prov: Provenance) -> pa.Table:
    """The canonical table but its record ids: polars' columns cast to the schema, provenance.

    Polars hands its strings over as they are (string views, no copy) and Arrow casts them to
    the schema's strings in one copy (cheaper than polars writing large strings and Arrow
    narrowing their offsets); a column already of its type is not cast. The provenance
    columns repeat one value each, built directly in Arrow.
    """
    schema = schema_for(prov.layout)
    names = [f.name for f in schema if f.name not in (*_PROVENANCE, "record_id")]
    table = body.select(names).to_arrow(compat_level=pl.CompatLevel.newest())
    n = len(body)
    made = {
        "source_sha256": prov.repeated(prov.sha256, n),
        "source_row": body["_row"].cast(pl.Int64).to_arrow(),
        "layout_name": prov.repeated(prov.layout.name, n),
        "layout_version": prov.repeated(prov.layout.version, n),
    }
    fields = [f for f in schema if f.name != "record_id"]
    arrays = [
        made[f.name] if f.name in made else _typed(table.column(f.name), f, prov) for f in fields
    ]
    return pa.Table.from_arrays(arrays, schema=pa.schema(fields))


def complete(rest: pa.Table, prov: Provenance) -> pa.Table:
    """:func:`prepare`'s table with its record ids: the canonical table, checked.

    Record ids are hashed from the finished columns' buffers
    (:func:`~penlink_adapters._record_ids.table_record_ids`); they do not depend on the
    provenance columns, which may be put in afterwards.
    """
    schema = schema_for(prov.layout)
    key = CALL_NATURAL_KEY if prov.layout.record_type == "call" else _PARTY_KEY
    ids = table_record_ids(rest, key).cast(schema.field("record_id").type)
    table = pa.Table.from_arrays(
        [ids if f.name == "record_id" else rest.column(f.name) for f in schema], schema=schema
    )
    return check_table(table, schema, file=prov.path)


def _typed(
    column: pa.Array | pa.ChunkedArray, field: pa.Field, prov: Provenance
) -> pa.Array | pa.ChunkedArray:
    """``column`` cast to the field's type, unless it has it.

    A text column of one value on every row (the target's identifiers, the kinds, the time
    zone: most of a chunk's text columns) is a slice of the value repeated
    (:meth:`Provenance.repeated`): finding that in the string views costs less than the copy
    of the cast.
    """
    if column.type == field.type:
        return column
    if field.type == pa.string() and not column.null_count:
        views = array_views(column)
        if views is not None and one_value_kernel(views[1], views[2]):
            return prov.repeated(column[0].as_py(), len(column))
    return column.cast(field.type)


def _call_columns(df: pl.DataFrame) -> pl.DataFrame:
    inferred = (
        pl.when(pl.col("direction").is_not_null())
        .then(pl.col("direction"))
        .when(
            pl.col("target_canonical").is_not_null()
            & (pl.col("orig_canonical") == pl.col("target_canonical"))
        )
        .then(pl.lit("outgoing"))
        .when(
            pl.col("target_canonical").is_not_null()
            & (pl.col("term_canonical") == pl.col("target_canonical"))
        )
        .then(pl.lit("incoming"))
        .otherwise(pl.lit("unknown"))
    )
    return df.with_columns(
        inferred.alias("direction"),
        pl.col("leg_i").alias("leg"),
        *(
            pl.col(f"{s}_{c}_f").alias(f"{s}_{c}")
            for s in ("first", "last")
            for c in ("lat", "lon")
        ),
    )


def _party_columns(df: pl.DataFrame) -> pl.DataFrame:
    return df.with_columns(
        pl.col("birth_date_d").alias("birth_date"),
        pl.lit(None, pl.Datetime("us", "UTC")).alias("created_utc"),
        pl.lit(None, pl.Datetime("us", "UTC")).alias("updated_utc"),
    )


RejectRow = tuple[int, str, str | None, str | None, str | None]
"""A reject: line, reason code, column, detail, raw line."""


def rejects_table(rows: Sequence[RejectRow], prov: Provenance) -> pa.Table:
    """Build the rejects table from (line, reason, column, detail, raw line) tuples."""
    columns: list[Sequence[object]] = (
        [list(c) for c in zip(*rows, strict=True)] if rows else [[], [], [], [], []]
    )
    n = len(rows)
    arrays = [
        pa.array([prov.path] * n, pa.string()),
        pa.array([prov.sha256] * n, pa.string()),
        pa.array(columns[0], pa.int64()),
        pa.array(columns[2], pa.string()),
        pa.array(columns[1], pa.string()),
        pa.array(columns[3], pa.string()),
        pa.array(columns[4], pa.string()),
        pa.array([prov.layout.name] * n, pa.string()),
        pa.array([prov.layout.version] * n, pa.string()),
    ]
    return check_table(pa.Table.from_arrays(arrays, schema=REJECTS), REJECTS, file=prov.path)
