"""numba kernels of the adapters' time parsing: fixed-width times straight from the bytes.

:func:`naive_time_kernel` turns a column of fixed-width times (``%Y %m %d %H %M [%S]`` with
literal separators) into microseconds since 1970 in one pass, or says that a value does not
fit, and the caller parses the column with polars instead (``_values.fixed_width_times``).
:func:`join_views_kernel` joins a date column and a time column (``date time``) from their
string views, as ``_convert_time.start_raw`` does with polars when it declines.
"""

from __future__ import annotations

from typing import Any

import numba
import numpy as np

from penlink_adapters._block_kernel import _load64, _put_view, _store64
from penlink_adapters._convert_kernel import view_span
from penlink_adapters._kernels import bare

__all__ = ["JOIN_ELSEWHERE", "JOIN_WORKBOOK", "join_views_kernel", "naive_time_kernel"]

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


JOIN_ELSEWHERE = 1
""":func:`join_views_kernel`'s status: a long value is not in its column's first data buffer."""
JOIN_WORKBOOK = 2
""":func:`join_views_kernel`'s status: a date of 19 bytes or more, or a time of 11 or more
(what a workbook's date or time cell reads as: the caller's polars path trims those)."""


@_inline
def _put(out: Any, at: int, views: Any, words: Any, data: Any, i: int) -> int:
    """Copy value ``i`` of a view column to ``out[at:]``; the position after it, or -1.

    Word by word: up to 16 bytes past the value are written over (``out`` has that slack),
    and a long value is read a word at a time where its buffer has 8 bytes after it. -1: the
    value is not in the column's first data buffer.
    """
    inline, start, width = view_span(words, len(data), i)
    if width < 0:
        return -1
    if inline:  # the view's bytes 4-15, as two words from inside the view
        _store64(out, at, _load64(views, start))
        _store64(out, at + 8, _load64(views, start + 4) >> np.uint64(32))
    elif start + width + 8 <= len(data):
        for p in range(0, width, 8):
            _store64(out, at + p, _load64(data, start + p))
    else:
        for p in range(width):
            out[at + p] = data[start + p]
    return at + width


@_inline
def _declined(status: int) -> tuple[Any, Any, Any, Any, int]:
    """What :func:`join_views_kernel` returns when it declines: empty arrays and ``status``."""
    none = np.zeros(0, dtype=np.uint8)
    return np.zeros(0, np.uint64), np.zeros(0, np.int64), none, np.zeros(0, np.bool_), status


@_jit
def join_views_kernel(
    date_views: Any,
    date_words: Any,
    date_data: Any,
    date_valid: Any,
    time_views: Any,
    time_words: Any,
    time_data: Any,
    time_valid: Any,
) -> tuple[Any, Any, Any, Any, int]:
    """``date + " " + time`` per row (null where either is), from two view columns.

    The arguments are two columns as :func:`~penlink_adapters._convert_kernel.string_views`
    gives them. Returns ``(views, offsets, data, valid, status)``: the joined column as
    Arrow string views (``views``, two words a row, into ``data``) and as offsets into the
    same ``data`` (value ``i`` is ``data[offsets[i]:offsets[i + 1]]``, empty where null),
    and ``status`` 0; or a nonzero status (:data:`JOIN_ELSEWHERE`, :data:`JOIN_WORKBOOK`)
    and nothing made.
    """
    n = len(date_valid)
    total = 0
    for i in range(n):
        date_width = date_words[4 * i] if date_valid[i] else 0
        time_width = time_words[4 * i] if time_valid[i] else 0
        if date_width >= 19 or time_width >= 11:
            return _declined(JOIN_WORKBOOK)
        if date_valid[i] and time_valid[i]:
            total += date_width + 1 + time_width
    views = np.zeros(2 * n, dtype=np.uint64)
    offsets = np.empty(n + 1, dtype=np.int64)
    data = np.empty(total + 16, dtype=np.uint8)  # the slack of _put and _put_view
    valid = np.empty(n, dtype=np.bool_)
    date = (date_views, date_words, date_data, date_valid)
    time = (time_views, time_words, time_data, time_valid)
    if not _join_into(date, time, views, offsets, data, valid):
        return _declined(JOIN_ELSEWHERE)
    return views, offsets, data, valid, 0


@bare
def _join_into(
    date: tuple[Any, Any, Any, Any],
    time: tuple[Any, Any, Any, Any],
    views: Any,
    offsets: Any,
    data: Any,
    valid: Any,
) -> bool:
    """The second pass of :func:`join_views_kernel`, into its outputs; False: declined.

    Compiled without reference counting (:func:`~penlink_adapters._kernels.bare`): with it,
    the inc/decref of the arrays its inlined helpers take cost about 90 ns a row.
    """
    at = 0
    for i in range(len(valid)):
        offsets[i] = at
        valid[i] = date[3][i] and time[3][i]
        if not valid[i]:
            continue
        at = _put(data, at, date[0], date[1], date[2], i)
        if at >= 0:
            data[at] = 32
            at = _put(data, at + 1, time[0], time[1], time[2], i)
        if at < 0:
            return False
        _put_view(views, i, data, offsets[i], at)
    offsets[len(valid)] = at
    return True
