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
    first = np.full(7, -1, dtype=np.int64)  # by code - 1000: where the field starts
    literals = np.zeros(width, dtype=np.int64)
    n_literals = 0
    for j in range(width):
        if spec[j] < 1000:
            literals[n_literals] = j
            n_literals += 1
        elif first[spec[j] - 1000] < 0:
            first[spec[j] - 1000] = j
    last = -1  # the previous value with a valid date: its date digits are compared first
    last_days = 0
    for i in range(n):
        if not valid[i]:
            continue
        start = offsets[i]
        if offsets[i + 1] - start != width:
            return out, False
        for q in range(n_literals):
            if data[start + literals[q]] != spec[literals[q]]:
                return out, False
        if last < 0 or not _same_date(data, start, offsets[last], first):
            days = _date_days(data, start, first)
            if days == _BAD:
                return out, False
            last_days = days
        last = i
        hour = _digits(data, start + first[4], 2)
        minute = _digits(data, start + first[5], 2)
        second = _digits(data, start + first[6], 2) if first[6] >= 0 else 0
        if hour < 0 or hour > 23 or minute < 0 or minute > 59 or second < 0 or second > 59:
            return out, False
        out[i] = (last_days * 86400 + hour * 3600 + minute * 60 + second) * 1_000_000
    return out, True


_BAD = -(2**62)
""":func:`_date_days` of a date that does not fit."""


@_inline
def _digits(data: Any, start: int, count: int) -> int:
    """The number written by ``count`` ASCII digits at ``start``; -1 when one is not a digit."""
    value = 0
    for q in range(count):
        b = int(data[start + q]) - 48
        if b < 0 or b > 9:
            return -1
        value = value * 10 + b
    return value


@_inline
def _same_date(data: Any, start: int, before: int, first: Any) -> bool:
    """Whether the date digits of the values at ``start`` and ``before`` are the same bytes."""
    for code, count in ((1, 4), (2, 2), (3, 2)):
        at = first[code]
        for q in range(count):
            if data[start + at + q] != data[before + at + q]:
                return False
    return True


@_inline
def _date_days(data: Any, start: int, first: Any) -> int:
    """Days since 1970 of the value's date fields, :data:`_BAD` when they are not a date."""
    y = _digits(data, start + first[1], 4)
    m = _digits(data, start + first[2], 2)
    d = _digits(data, start + first[3], 2)
    if y < 1 or m < 1 or m > 12 or d < 1:
        return _BAD
    leap = (y % 4 == 0 and y % 100 != 0) or y % 400 == 0
    days_in = (31, 29 if leap else 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)
    if d > days_in[m - 1]:
        return _BAD
    return _days_from_civil(y, m, d)
