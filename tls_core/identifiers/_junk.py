"""numba helpers: values with a junk prefix (``N/A-1234``, ``NONE``), decided without the reference.

``phonenumbers.parse`` starts reading a number at its first digit (or ``+``), so for a value of
letters and separators followed by plain digits it answers what it answers for the digits alone.
What differs from the digits alone is the reference's own shortcuts: the letters keep the value
from being a service code or a device identifier, so it is parsed as a phone number. The short
lengths are decided only in regions that parse like the US (:func:`short_junk_reason`); longer
ones go through the ordinary kernel path (:mod:`tls_core.identifiers._kernels`).

The prefix is kept narrow so that no other reference rule can apply: ASCII letters, spaces,
``-`` and ``/`` only (no ``@``, ``:`` or ``.``: e-mail, IP, URL), at least one letter that is
not a hex digit (an all-hex value may be an ESN or MEID), at most :data:`MAX_PREFIX` bytes.
"""

from __future__ import annotations

from typing import Any, Final

import numba

__all__ = ["MAX_PREFIX", "junk_digits", "junk_prefix", "short_junk_reason"]

MAX_PREFIX: Final = 32
"""Longest junk prefix decided here (``phonenumbers`` rejects inputs over 250 characters)."""

# Reason codes mirrored from _codes (tests check them against REASON_CODE).
R_LOCAL_ONLY: Final = 6
R_IMPOSSIBLE: Final = 8

_inline = numba.njit(cache=True, nogil=True, inline="always")


@_inline
def junk_prefix(data: Any, s: int, e: int) -> int:
    """End of the junk prefix of data[s:e] (where its digits start, or ``e``); -1 if none.

    A junk prefix is followed by a digit or by nothing at all.
    """
    non_hex = False
    j = s
    while j < e and j - s <= MAX_PREFIX:
        c = data[j] | 32  # ASCII lower case (digits and separators checked before)
        if 48 <= data[j] <= 57:
            break
        if 97 <= c <= 122:
            non_hex = non_hex or c > 102
        elif not (data[j] == 32 or data[j] == 45 or data[j] == 47):
            return -1
        j += 1
    if not non_hex or j - s > MAX_PREFIX:
        return -1
    return j


@_inline
def junk_digits(data: Any, r: int, e: int, d: Any, max_digits: int) -> tuple[int, bool]:
    """Digits of data[r:e] into ``d``: (count, whether no separator splits them).

    The count is -1 if data[r:e] holds anything but digits, spaces, ``-``, ``(`` and ``)``,
    or more than ``max_digits`` digits.
    """
    nd = 0
    contiguous = True
    for j in range(r, e):
        c = data[j]
        if 48 <= c <= 57:
            if nd >= max_digits:
                return -1, False
            if nd > 0 and j > r and not (48 <= data[j - 1] <= 57):
                contiguous = False
            d[nd] = c
            nd += 1
        elif not (c == 32 or c == 45 or c == 40 or c == 41):
            return -1, False
    return nd, contiguous


@_inline
def short_junk_reason(d: Any, nd: int, contiguous: bool) -> int:
    """Reason for 2-9 digits after a junk prefix in a US-like region; 0 to fall back.

    The number does not start with the international prefix (the caller checks). Two digits
    must be written together (``1-2`` is not a viable number for ``phonenumbers``); eight or
    nine starting with the national prefix ``1`` may be local-only numbers.
    """
    if nd == 2:
        return R_IMPOSSIBLE if contiguous else 0
    if 3 <= nd <= 6:
        return R_IMPOSSIBLE
    if nd == 7:
        return R_LOCAL_ONLY
    if (nd == 8 or nd == 9) and d[0] != 49:
        return R_IMPOSSIBLE
    return 0
