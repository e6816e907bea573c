"""Vectorized normalization: distinct values only, kernel first, reference for the rest."""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, Final, Literal, TypeAlias

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from tls_core.errors import ConfigError
from tls_core.identifiers._codes import (
    KIND_CODE,
    KINDS,
    REASON_CODE,
    REASONS,
    STATUS_CODE,
    STATUSES,
)
from tls_core.identifiers._phone import check_region
from tls_core.identifiers._reference import normalize_one
from tls_core.schema import IDENTIFIER_KINDS, IdentifierKind

if TYPE_CHECKING:
    import polars as pl

__all__ = ["IntoValues", "KindOption", "check_kind", "kernel_decisions", "normalize"]

KindOption: TypeAlias = Literal["auto"] | IdentifierKind
"""``"auto"`` detects the kind of each value; a kind normalizes every value as that kind."""

IntoValues: TypeAlias = "pa.Array | pa.ChunkedArray | pl.Series | Sequence[str | None]"
"""Anything :func:`normalize` accepts: Arrow arrays, a polars Series, or a list of strings."""

RESULT_SCHEMA: Final = pa.schema(
    [
        pa.field("kind", pa.dictionary(pa.int8(), pa.string())),
        pa.field("canonical", pa.dictionary(pa.int32(), pa.large_string())),
        pa.field("status", pa.dictionary(pa.int8(), pa.string()), nullable=False),
        pa.field("reason", pa.dictionary(pa.int8(), pa.string())),
    ]
)


def normalize(
    values: IntoValues, kind: KindOption = "auto", *, default_region: str = "US"
) -> pa.Table:
    """Normalize device identifiers to their canonical values.

    Args:
        values: Raw identifiers as written by a carrier (nulls allowed).
        kind: ``"auto"`` to detect each value's kind, or the kind every value should have
            (``"phone"`` also yields ``"service"`` for N11, star and short codes).
        default_region: ISO region the values were dialed from: it decides national numbers
            and the international prefix (``011`` in the NANP, ``00`` in most of the world).

    Returns:
        One row per input value, in order, with dictionary-encoded columns ``kind``,
        ``canonical``, ``status`` (``ok``, ``repaired``, ``rejected``, ``empty``) and ``reason``
        (a code from ``docs/identifiers.md`` for every value not ``ok``, null otherwise).

    Raises:
        ConfigError: for an unknown kind or region.

    Examples:
        >>> t = normalize(["(213) 555-0142", "1.21355E+10", "911"])
        >>> t.column("canonical").to_pylist()
        ['+12135550142', None, '911']
        >>> t.column("reason").to_pylist()
        [None, 'lossy_number', None]
    """
    kind = check_kind(kind)
    region = check_region(default_region)
    array = _as_large_string(values)
    from tls_core.identifiers._dedup import dedup_kernel, kernel_threads

    offsets, data, valid = _buffers(array)
    with kernel_threads(len(array)):
        codes, first = dedup_kernel(offsets, data, valid)
        distinct = array.take(pa.array(first, mask=first < 0))
        kinds, statuses, reasons, canonical = _decide(distinct, kind, region)
        return _expand(codes, kinds, statuses, reasons, canonical)


def check_kind(kind: str) -> KindOption:
    """Return ``kind`` if it is ``"auto"`` or a known kind, else raise ConfigError."""
    if kind != "auto" and kind not in IDENTIFIER_KINDS:
        raise ConfigError(
            f"unknown identifier kind {kind!r}",
            value=str(kind),
            reason="unknown_kind",
            hint=f"use auto or one of {', '.join(IDENTIFIER_KINDS)}",
        )
    return kind  # type: ignore[return-value]


def _decide(
    distinct: pa.LargeStringArray, kind: str, region: str
) -> tuple[Any, Any, Any, pa.LargeStringArray]:
    """Decide each distinct value: kernel where it can, reference elsewhere."""
    from tls_core.identifiers._kernels import FALLBACK

    kinds, statuses, reasons, canonical = _run_kernel_halves(distinct, kind, region)
    slow = np.flatnonzero(statuses == FALLBACK)
    if slow.size:
        raw = distinct.take(pa.array(slow)).to_pylist()
        decided = [normalize_one(v, kind, region) for v in raw]
        kinds[slow] = [KIND_CODE[d[0]] for d in decided]
        statuses[slow] = [STATUS_CODE[d[2]] for d in decided]
        reasons[slow] = [REASON_CODE[d[3]] for d in decided]
        mask = np.zeros(len(distinct), dtype=np.bool_)
        mask[slow] = True
        canonical = pc.replace_with_mask(
            canonical, pa.array(mask), pa.array([d[1] for d in decided], pa.large_string())
        )
    return kinds, statuses, reasons, canonical


_TWO_THREADS_FROM: Final = 100_000
"""From this many distinct values on, the kernel runs on two halves in two threads."""


def _run_kernel_halves(
    values: pa.LargeStringArray, kind: str, region: str
) -> tuple[Any, Any, Any, pa.LargeStringArray]:
    """:func:`_run_kernel` on both cores: the kernel releases the GIL, halves are independent.

    Two plain threads rather than a numba ``parallel`` kernel: that one compiled about 18 s
    longer on a machine without numba's cache (the first ``tls demo``).
    """
    n = len(values)
    if n < _TWO_THREADS_FROM:
        return _run_kernel(values, kind, region)
    half = n // 2
    with ThreadPoolExecutor(max_workers=1) as pool:
        later = pool.submit(_run_kernel, values.slice(half), kind, region)
        first = _run_kernel(values.slice(0, half), kind, region)
        second = later.result()
    kinds, statuses, reasons = (np.concatenate([first[i], second[i]]) for i in range(3))
    return kinds, statuses, reasons, pa.concat_arrays([first[3], second[3]])


def _run_kernel(
    values: pa.LargeStringArray, kind: str, region: str
) -> tuple[Any, Any, Any, pa.LargeStringArray]:
    """Run the kernel; undecided values have status FALLBACK and a null canonical."""
    from tls_core.identifiers import _kernels as k
    from tls_core.identifiers._phone import kernel_tables, region_idd, short_junk_rules

    offsets, data, valid = _buffers(values)
    n = len(values)
    if kind in ("auto", "phone", "service", "imei"):
        t = kernel_tables()
        mode = {"auto": k.MODE_AUTO, "imei": k.MODE_IMEI}.get(kind, k.MODE_PHONE)
        idd = np.frombuffer((region_idd(region) or "").encode(), dtype=np.uint8)
        nanp = _calling_code(region) == 1
        kinds, statuses, reasons, out, out_len = k.phone_kernel(
            offsets, data, valid, mode, nanp, idd.astype(np.int64), t.cc_known, t.cc_fast,
            t.cc_lengths, t.cc_np, t.cc_np_len, t.rbi, t.mcc_ok, short_junk_rules(region),
        )  # fmt: skip
    else:
        kinds, reasons = np.zeros(n, np.uint8), np.zeros(n, np.uint8)
        statuses = np.full(n, k.FALLBACK, np.uint8)
        out, out_len = np.empty(0, np.uint8), np.zeros(n, np.uint8)
    pack_offsets, pack_data = k.pack_kernel(out, out_len)
    canonical = pa.Array.from_buffers(
        pa.large_string(),
        n,
        [_bitmap(out_len > 0), pa.py_buffer(pack_offsets), pa.py_buffer(pack_data)],
    )
    return kinds, statuses, reasons, canonical


def kernel_decisions(
    values: IntoValues, kind: KindOption = "auto", *, default_region: str = "US"
) -> list[tuple[str | None, str | None, str, str | None] | None]:
    """What the kernel alone decides for each value (None where it defers to the reference).

    For the differential tests and the benchmark; not part of the public API.
    """
    from tls_core.identifiers._kernels import FALLBACK

    array = _as_large_string(values)
    kinds, statuses, reasons, canonical = _run_kernel(
        array, check_kind(kind), check_region(default_region)
    )
    canon = canonical.to_pylist()
    return [
        None if st == FALLBACK else (KINDS[kd], canon[i], STATUSES[st], REASONS[rs])
        for i, (kd, st, rs) in enumerate(zip(kinds, statuses, reasons, strict=True))
    ]


def _expand(
    codes: Any, kinds: Any, statuses: Any, reasons: Any, canonical: pa.LargeStringArray
) -> pa.Table:
    """Map per-distinct results back to every row, as dictionary arrays (no string copies)."""
    from tls_core.identifiers._dedup import dedup_kernel, expand_kernel

    c_offsets, c_data, c_valid = _buffers(canonical)
    c_codes, c_first = dedup_kernel(c_offsets, c_data, c_valid)
    canon_dict = canonical.take(pa.array(c_first, mask=c_first < 0))
    canon, kind, status, reason, canon_ok, kind_ok, reason_ok = expand_kernel(
        codes, c_codes, c_first < 0, kinds, statuses, reasons
    )
    # safe=False: the kernels write only indices into these dictionaries; checking them again
    # would be one more single-threaded pass over every row and column.
    columns = [
        pa.DictionaryArray.from_arrays(_indices(pa.int8(), kind, kind_ok), _KIND_DICT, safe=False),
        pa.DictionaryArray.from_arrays(
            _indices(pa.int32(), canon, canon_ok), canon_dict, safe=False
        ),
        pa.DictionaryArray.from_arrays(_indices(pa.int8(), status, None), _STATUS_DICT, safe=False),
        pa.DictionaryArray.from_arrays(
            _indices(pa.int8(), reason, reason_ok), _REASON_DICT, safe=False
        ),
    ]
    return pa.Table.from_arrays(columns, schema=RESULT_SCHEMA)


_KIND_DICT: Final = pa.array(KINDS, pa.string())
_STATUS_DICT: Final = pa.array(STATUSES, pa.string())
_REASON_DICT: Final = pa.array(REASONS, pa.string())


def _indices(type_: pa.DataType, values: Any, valid: Any) -> pa.Array:
    """Wrap numpy dictionary indices (and an optional packed validity bitmap) without copies."""
    bitmap = None if valid is None else pa.py_buffer(valid)
    return pa.Array.from_buffers(type_, len(values), [bitmap, pa.py_buffer(values)])


def _as_large_string(values: IntoValues) -> pa.LargeStringArray:
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    elif not isinstance(values, pa.Array):
        to_arrow = getattr(values, "to_arrow", None)
        values = to_arrow() if callable(to_arrow) else pa.array(list(values), pa.large_string())
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    if pa.types.is_dictionary(values.type):
        values = values.dictionary_decode()
    if values.type != pa.large_string():
        values = values.cast(pa.large_string())
    return values


def _buffers(array: pa.LargeStringArray) -> tuple[Any, Any, Any]:
    """(offsets, data, valid) numpy views of a large_string array."""
    n = len(array)
    bufs = array.buffers()
    offsets = np.frombuffer(bufs[1], dtype=np.int64)[array.offset : array.offset + n + 1]
    data = np.frombuffer(bufs[2], dtype=np.uint8) if bufs[2] is not None else np.empty(0, np.uint8)
    if array.null_count:
        valid = array.is_valid().to_numpy(zero_copy_only=False)
    else:
        valid = np.ones(n, dtype=np.bool_)
    return offsets, data, valid


def _bitmap(mask: Any) -> pa.Buffer:
    return pa.py_buffer(np.packbits(mask, bitorder="little"))


def _calling_code(region: str) -> int:
    import phonenumbers

    return int(phonenumbers.country_code_for_region(region))
