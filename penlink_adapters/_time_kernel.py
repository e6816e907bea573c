"""numba kernel of the adapters' time parsing: fixed-width times straight from the bytes.

:func:`naive_time_kernel` turns a column of fixed-width times (``%Y %m %d %H %M [%S]`` with
literal separators) into microseconds since 1970 in one pass, or says that a value does not
fit, and the caller parses the column with polars instead (``_values.fixed_width_times``).
"""

from __future__ import annotations

from typing import Any

import numba
import numpy as np

__all__ = ["naive_time_kernel"]

_jit = numba.njit(cache=True, nogil=True)
_inline = numba.njit(cache=True, nogil=True, inline="always")


@_inline
def _days_from_civil(y: int, m: int, d: int) -> int:
    """Days from 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's algorithm)."""
    y -= m <= 2
    era = (y if y >= 0 else y - 399) // 400
    yoe = y - era * 400
    doy = (153 * (m + (-3 if m > 2 else 9)) + 2) // 5 + d - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468


@_jit
def naive_time_kernel(offsets: Any, data: Any, valid: Any, spec: Any) -> tuple[Any, bool]:
    """Microseconds since 1970 of fixed-width times, or ``ok`` False when one does not fit.

    ``spec``: one code a character of the format: 0-127 a literal byte, then 1001 a 4-digit
    year (1-9999), 1002 a 2-digit month, 1003 a day (valid for the month), 1004 an hour
    (00-23), 1005 a minute, 1006 a second (00-59; no leap second). Values are
    ``data[offsets[i]:offsets[i+1]]``; null ones (``valid`` False) are skipped. Anything else
    (another length, a non-digit, a value out of range) stops the kernel with ``ok`` False:
    the caller then parses the column its usual way.
    """
    n = len(offsets) - 1
    width = len(spec)
    out = np.zeros(n, dtype=np.int64)
    days_in = np.array([31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31])
    parts = np.zeros(7, dtype=np.int64)  # by code - 1000; a format without %S leaves 0
    last_date = -1
    last_days = 0
    for i in range(n):
        if not valid[i]:
            continue
        start = offsets[i]
        if offsets[i + 1] - start != width:
            return out, False
        j = 0
        while j < width:
            code = spec[j]
            if code < 1000:
                if data[start + j] != code:
                    return out, False
                j += 1
                continue
            digits = 4 if code == 1001 else 2
            value = 0
            for q in range(digits):
                b = int(data[start + j + q]) - 48
                if b < 0 or b > 9:
                    return out, False
                value = value * 10 + b
            parts[code - 1000] = value
            j += digits
        date = (parts[1] * 100 + parts[2]) * 100 + parts[3]
        if date != last_date:  # rows of a return come in time order: dates repeat
            y, m, d = parts[1], parts[2], parts[3]
            if y < 1 or m < 1 or m > 12 or d < 1:
                return out, False
            leap = (y % 4 == 0 and y % 100 != 0) or y % 400 == 0
            if d > days_in[m - 1] + (1 if m == 2 and leap else 0):
                return out, False
            last_date = date
            last_days = _days_from_civil(y, m, d)
        if parts[4] > 23 or parts[5] > 59 or parts[6] > 59:
            return out, False
        secs = last_days * 86400 + parts[4] * 3600 + parts[5] * 60 + parts[6]
        out[i] = secs * 1_000_000
    return out, True
