"""Two text columns joined by a separator, straight from polars' string views.

``pl.concat_str([a, b], separator=sep)`` for two columns held as Arrow string views (a date
and a time column, joined into ``start_raw``): one numba pass writes each joined value into
the new column's views (inline when it has at most 12 bytes) or into one data buffer, where
polars' concatenation built a column row by row (about 2 ms a chunk of 100,000 rows, a fifth
of the typed conversion's polars time). A value is null where either side is, as with
``concat_str``. Columns not held as one array of views, or with a value outside their first
data buffer, are left to polars (the result is None).
"""

from __future__ import annotations

from typing import Any

import numba
import numpy as np
import polars as pl

from penlink_adapters._convert_kernel import string_views, view_span
from penlink_adapters._plain_cut import view_series

__all__ = ["join_views"]

_jit = numba.njit(cache=True, nogil=True)


def join_views(a: pl.Series, b: pl.Series, separator: str) -> pl.Series | None:
    """``a`` and ``b`` joined by ``separator`` row by row (null where either is), or None.

    None: a column is not one array of string views (see
    :func:`~penlink_adapters._convert_kernel.string_views`) or holds a value elsewhere than
    in its first data buffer; the caller joins them with polars.
    """
    left, right = string_views(a), string_views(b)
    if left is None or right is None or len(a) != len(b):
        return None
    sep = np.frombuffer(separator.encode(), dtype=np.uint8)
    valid = left[3] & right[3]
    ok, views, data = join_views_kernel(
        left[0], left[1], left[2], right[0], right[1], right[2], valid, sep
    )
    if not ok:
        return None
    missing = len(valid) - int(np.count_nonzero(valid))
    rows = views.view(np.uint64).reshape(-1, 2)  # one 16-byte view a row
    return view_series(rows, data, valid, missing).alias(a.name)


@_jit
def join_views_kernel(
    views_a: Any,
    words_a: Any,
    data_a: Any,
    views_b: Any,
    words_b: Any,
    data_b: Any,
    valid: Any,
    sep: Any,
) -> tuple[bool, Any, Any]:
    """``(ok, views, data)`` of the joined column; ``ok`` False: a value lies elsewhere.

    ``views``: ``uint8``, 16 bytes a row, zero where ``valid`` is False; ``data``: the bytes
    of the values longer than 12. ``ok`` is False when a value lies outside its column's first
    data buffer.
    """
    n = len(valid)
    width_sep = len(sep)
    total = 0
    for i in range(n):
        if valid[i]:
            _, _, wa = view_span(words_a, len(data_a), i)
            _, _, wb = view_span(words_b, len(data_b), i)
            if wa < 0 or wb < 0:
                return False, np.zeros(0, dtype=np.uint8), np.zeros(0, dtype=np.uint8)
            w = wa + width_sep + wb
            if w > 12:
                total += w
    views = np.zeros(16 * n, dtype=np.uint8)
    words = views.view(np.int32)
    data = np.empty(total, dtype=np.uint8)
    at = 0
    for i in range(n):
        if not valid[i]:
            continue
        inline_a, start_a, wa = view_span(words_a, len(data_a), i)
        inline_b, start_b, wb = view_span(words_b, len(data_b), i)
        w = wa + width_sep + wb
        words[4 * i] = w
        out = views if w <= 12 else data
        p = 16 * i + 4 if w <= 12 else at
        src = views_a if inline_a else data_a
        for j in range(wa):
            out[p + j] = src[start_a + j]
        p += wa
        for j in range(width_sep):
            out[p + j] = sep[j]
        p += width_sep
        src = views_b if inline_b else data_b
        for j in range(wb):
            out[p + j] = src[start_b + j]
        if w > 12:  # a 4-byte prefix, buffer 0, the offset there
            for j in range(4):
                views[16 * i + 4 + j] = data[at + j]
            words[4 * i + 3] = at
            at += w
    return True, views, data
