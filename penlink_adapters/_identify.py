"""Identifier normalization (the one call to :func:`tls_core.identifiers.normalize`) and ids.

Every identifier column of a chunk goes through a single ``normalize`` call; the raw value is
kept beside its kind and canonical value. A value that normalization calls ``lossy_number``
(digits lost, e.g. an Excel ``1.21355E+10``) rejects its row; any other unrecognized value
(hashed ids, extensions) is kept with a null kind and canonical value.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import datetime
from typing import Final

import polars as pl
import pyarrow as pa

__all__ = ["content_id", "normalize_columns", "record_ids"]

_REJECTING: Final = frozenset({"lossy_number"})
"""Normalization reasons that reject the row rather than leave the identifier unrecognized."""


def normalize_columns(df: pl.DataFrame, parties: Sequence[str], region: str) -> pl.DataFrame:
    """Add ``<p>_kind``, ``<p>_canonical`` and ``<p>_lossy`` for each party ``p``.

    Reads ``<p>_input`` (the value after carrier quirks); ``<p>_raw`` is left to the caller.
    """
    values = (
        pl.concat([df[f"{p}_input"] for p in parties])
        if len(df)
        else pl.Series([], dtype=pl.String)
    )
    from tls_core.identifiers import normalize

    result = normalize(values.to_arrow(), "auto", default_region=region)
    cols = {
        name: pl.Series(name, result.column(name).cast(pa.string())).cast(pl.String)
        for name in ("kind", "canonical", "reason")
    }
    n = len(df)
    out = []
    for i, p in enumerate(parties):
        part = {k: v.slice(i * n, n) for k, v in cols.items()}
        out += [
            part["kind"].alias(f"{p}_kind"),
            part["canonical"].alias(f"{p}_canonical"),
            part["reason"].is_in(list(_REJECTING)).fill_null(False).alias(f"{p}_lossy"),
        ]
    return df.with_columns(out)


def content_id(values: Sequence[object]) -> str:
    """Hex SHA-256 (first 32 digits) of values joined by U+001F (null as U+0000).

    Datetimes count as integer microseconds since the epoch, so the id does not depend on how
    the file wrote the time.

    Examples:
        >>> len(content_id(["+12135550142", None, 42]))
        32
    """
    parts = []
    for value in values:
        if value is None:
            parts.append("\x00")
        elif isinstance(value, datetime):
            parts.append(str(round(value.timestamp() * 1_000_000)))
        else:
            parts.append(str(value))
    return hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()[:32]


def record_ids(df: pl.DataFrame, key: Sequence[str]) -> pl.Series:
    """Content-hash ids of the rows of ``df`` over the ``key`` columns (see :func:`content_id`).

    A canonical identifier column that is null while its raw value is not (a hashed or
    otherwise unrecognized id) contributes ``raw:`` plus the raw value, so that distinct
    correspondents do not collapse into one id.
    """
    exprs = []
    for name in key:
        col = pl.col(name)
        raw = name.removesuffix("_canonical") + "_raw"
        if name.endswith("_canonical") and raw in df.columns:
            col = pl.coalesce(col, pl.lit("raw:") + pl.col(raw))
        dtype = df.schema[name]
        if isinstance(dtype, pl.Datetime):
            col = col.dt.cast_time_unit("us").dt.epoch("us")
        elif dtype == pl.Date:
            col = col.cast(pl.Int32)
        exprs.append(col.cast(pl.String).fill_null("\x00"))
    if not len(df):
        return pl.Series("record_id", [], dtype=pl.String)
    joined = df.select(pl.concat_str(exprs, separator="\x1f").alias("k"))["k"]
    ids = [hashlib.sha256(text.encode("utf-8")).hexdigest()[:32] for text in joined]
    return pl.Series("record_id", ids, dtype=pl.String)
