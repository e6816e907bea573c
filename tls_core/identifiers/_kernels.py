"""numba kernels over Arrow string buffers: the common identifier shapes.

With :mod:`tls_core.identifiers._dedup` (distinct values, and mapping answers back to every
row), the only modules that import numba.
The kernels work on the raw buffers of an Arrow string array (``offsets``, ``data``) and never
build Python strings.

:func:`phone_kernel` decides only what it can decide exactly as the reference
(:mod:`tls_core.identifiers._reference`) would: NANP digit strings, ``+``/IDD international
numbers of countries whose national-prefix rule is a literal, IMEIs and 14/15-digit IMSIs. For
anything else it answers :data:`FALLBACK` and the reference decides. The differential tests check
that every value the kernel decides equals the reference's answer.
"""

from __future__ import annotations

from typing import Any, Final

import numba
import numpy as np

__all__ = [
    "FALLBACK",
    "MODE_AUTO",
    "MODE_IMEI",
    "MODE_PHONE",
    "SLOT",
    "pack_kernel",
    "phone_kernel",
]

FALLBACK: Final = 255
"""Status written by :func:`phone_kernel` for values the reference must decide."""
SLOT: Final = 24
"""Bytes reserved per canonical output value: "+", a 3-digit country code, 17 national digits."""
MODE_AUTO: Final = 0
MODE_PHONE: Final = 1
MODE_IMEI: Final = 2

# Codes mirrored from _codes (kept literal here so the kernels compile without Python objects).
_K_PHONE, _K_SERVICE, _K_IMSI, _K_IMEI = 1, 2, 3, 4
_S_OK, _S_REPAIRED, _S_REJECTED, _S_EMPTY = 0, 1, 2, 3
_R_SPREADSHEET, _R_CHECK_DIGIT, _R_LOSSY, _R_AMBIGUOUS = 1, 2, 5, 11
_R_LOCAL_ONLY, _R_IMPOSSIBLE, _R_UNPARSEABLE, _R_UNRECOGNIZED = 6, 8, 10, 12
_MAX_PREFIX = 32  # longest junk prefix decided (phonenumbers rejects inputs over 250 bytes)
_MAX_DIGITS = 20

_jit = numba.njit(cache=True, nogil=True)
_inline = numba.njit(cache=True, nogil=True, inline="always")


@_inline
def _luhn(d: Any) -> int:
    total = 0
    for i in range(14):
        v = d[i] - 48
        if i % 2 == 1:
            v *= 2
            if v > 9:
                v -= 9
        total += v
    return (10 - total % 10) % 10


@_inline
def _put(out: Any, base: int, d: Any, start: int, end: int, plus: bool, prefix: int) -> int:
    """Write '+'? + prefix digit? + d[start:end] at out[base:]; return the length."""
    n = 0
    if plus:
        out[base] = 43
        n = 1
    if prefix >= 0:
        out[base + n] = prefix
        n += 1
    for j in range(start, end):
        out[base + n] = d[j]
        n += 1
    return n


@_inline
def _device(
    d: Any, nd: int, mode: int, rbi: Any, mcc_ok: Any, out: Any, base: int
) -> tuple[int, int, int, int]:
    """Decide a 14-16 digit value: returns (kind, status, reason, length)."""
    check = _luhn(d)
    luhn_ok = nd == 15 and d[14] - 48 == check
    modern = rbi[(d[0] - 48) * 10 + d[1] - 48]
    mcc = mcc_ok[(d[0] - 48) * 100 + (d[1] - 48) * 10 + d[2] - 48]
    if mode == MODE_AUTO and nd in (14, 15) and not (nd == 14 and modern):
        if not (nd == 15 and luhn_ok and modern):
            if mcc:
                return _K_IMSI, _S_OK, 0, _put(out, base, d, 0, nd, False, -1)
            if nd == 15 and not luhn_ok:
                return 0, _S_REJECTED, _R_AMBIGUOUS, 0
    n = _put(out, base, d, 0, 14, False, -1)
    out[base + 14] = 48 + check
    n += 1
    if nd == 15 and not luhn_ok:
        return _K_IMEI, _S_REPAIRED, _R_CHECK_DIGIT, n
    return _K_IMEI, _S_OK, 0, n


@_inline
def _intl(
    d: Any,
    k: int,
    nd: int,
    cc_known: Any,
    cc_fast: Any,
    cc_lengths: Any,
    cc_np: Any,
    cc_np_len: Any,
    out: Any,
    base: int,
) -> int:
    """Decide d[k:] as country code + national number; return the length, or 0 to fall back."""
    if k >= nd or d[k] == 48:
        return 0
    cc = 0
    cc_end = -1
    for j in range(k, min(k + 3, nd)):
        cc = cc * 10 + d[j] - 48
        if cc_known[cc]:
            cc_end = j + 1
            break
    if cc_end < 0 or not cc_fast[cc]:
        return 0
    nl = nd - cc_end
    if nl < 2 or nl > 17 or not (cc_lengths[cc] >> nl) & 1:
        return 0
    for p in range(cc_np.shape[1]):
        plen = cc_np_len[cc, p]
        if plen == 0 or plen > nl:
            continue
        hit = True
        for j in range(plen):
            if d[cc_end + j] != cc_np[cc, p, j]:
                hit = False
                break
        if hit:
            return 0
    if cc == 1 and (d[cc_end] < 50 or d[cc_end + 3] < 50):
        return 0
    return _put(out, base, d, k, nd, True, -1)


@_jit
def phone_kernel(
    offsets: Any,
    data: Any,
    valid: Any,
    mode: int,
    nanp: bool,
    idd: Any,
    cc_known: Any,
    cc_fast: Any,
    cc_lengths: Any,
    cc_np: Any,
    cc_np_len: Any,
    rbi: Any,
    mcc_ok: Any,
    short_junk: bool,
) -> tuple[Any, Any, Any, Any, Any]:
    """Normalize the common shapes; return (kind, status, reason, out, out_len) arrays.

    ``short_junk``: decide short numbers after a junk prefix (:func:`_short_junk_reason`).
    """
    n = offsets.shape[0] - 1
    kind = np.zeros(n, dtype=np.uint8)
    status = np.full(n, FALLBACK, dtype=np.uint8)
    reason = np.zeros(n, dtype=np.uint8)
    out = np.empty(n * SLOT, dtype=np.uint8)
    out_len = np.zeros(n, dtype=np.uint8)
    d = np.empty(_MAX_DIGITS, dtype=np.int64)
    for i in range(n):
        if not valid[i]:
            status[i] = _S_EMPTY
            continue
        s, e = offsets[i], offsets[i + 1]
        while s < e and (data[s] == 32 or 9 <= data[s] <= 13):
            s += 1
        while e > s and (data[e - 1] == 32 or 9 <= data[e - 1] <= 13):
            e -= 1
        if s == e:
            status[i] = _S_EMPTY
            continue
        lossy = _e_notation(data, s, e)
        if lossy == 1:
            kind[i] = _K_IMEI if mode == MODE_IMEI else _K_PHONE
            status[i], reason[i] = _S_REJECTED, _R_LOSSY
            continue
        if lossy == 2:
            continue
        if mode != MODE_IMEI and (data[s] == 42 or data[s] == 35):
            ln = _star_code(data, s, e, out, i * SLOT)
            if ln > 0:
                kind[i], status[i], out_len[i] = _K_SERVICE, _S_OK, ln
            continue
        r = _junk_prefix(data, s, e) if mode != MODE_IMEI else -1
        if r >= 0:
            k, st, rs, ln = _after_junk(
                data, r, e, d, mode == MODE_AUTO, short_junk, nanp, idd, cc_known, cc_fast,
                cc_lengths, cc_np, cc_np_len, rbi, mcc_ok, out, i * SLOT,
            )  # fmt: skip
            if st != FALLBACK:
                kind[i], status[i], reason[i], out_len[i] = k, st, rs, ln
            continue
        repaired = _spreadsheet_end(data, s, e)
        if repaired > 0:
            e = repaired
        nd, plus, dots, ok = _digits(data, s, e, d, mode != MODE_IMEI)
        if not ok or nd == 0 or (mode == MODE_AUTO and dots == 3):
            continue
        base = i * SLOT
        k, st, rs, ln = 0, FALLBACK, 0, 0
        if mode == MODE_IMEI:
            if not plus and 14 <= nd <= 16:
                k, st, rs, ln = _device(d, nd, mode, rbi, mcc_ok, out, base)
        else:
            k, st, rs, ln = _phone(
                d, nd, plus, mode, nanp, idd, cc_known, cc_fast, cc_lengths, cc_np,
                cc_np_len, rbi, mcc_ok, out, base,
            )  # fmt: skip
        if st == FALLBACK:
            continue
        if repaired > 0 and st == _S_OK:
            st, rs = _S_REPAIRED, _R_SPREADSHEET
        kind[i], status[i], reason[i], out_len[i] = k, st, rs, ln
    return kind, status, reason, out, out_len


@_inline
def _phone(
    d: Any,
    nd: int,
    plus: bool,
    mode: int,
    nanp: bool,
    idd: Any,
    cc_known: Any,
    cc_fast: Any,
    cc_lengths: Any,
    cc_np: Any,
    cc_np_len: Any,
    rbi: Any,
    mcc_ok: Any,
    out: Any,
    base: int,
) -> tuple[int, int, int, int]:
    if plus:
        ln = _intl(d, 0, nd, cc_known, cc_fast, cc_lengths, cc_np, cc_np_len, out, base)
        return (_K_PHONE, _S_OK, 0, ln) if ln else (0, FALLBACK, 0, 0)
    ni = idd.shape[0]
    if ni and nd > ni:
        starts = True
        for j in range(ni):
            if d[j] != idd[j]:
                starts = False
                break
        if starts:
            ln = _intl(d, ni, nd, cc_known, cc_fast, cc_lengths, cc_np, cc_np_len, out, base)
            return (_K_PHONE, _S_OK, 0, ln) if ln else (0, FALLBACK, 0, 0)
    if mode == MODE_AUTO and 14 <= nd <= 16:
        return _device(d, nd, mode, rbi, mcc_ok, out, base)
    if not nanp:
        return 0, FALLBACK, 0, 0
    if 3 <= nd <= 6:
        return _K_SERVICE, _S_OK, 0, _put(out, base, d, 0, nd, False, -1)
    if nd == 10 and d[0] >= 50 and d[3] >= 50:
        return _K_PHONE, _S_OK, 0, _put(out, base, d, 0, 10, True, 49)
    if nd == 11 and d[0] == 49 and d[1] >= 50 and d[4] >= 50:
        return _K_PHONE, _S_OK, 0, _put(out, base, d, 0, 11, True, -1)
    return 0, FALLBACK, 0, 0


@_inline
def _after_junk(
    data: Any,
    r: int,
    e: int,
    d: Any,
    auto: bool,
    short_junk: bool,
    nanp: bool,
    idd: Any,
    cc_known: Any,
    cc_fast: Any,
    cc_lengths: Any,
    cc_np: Any,
    cc_np_len: Any,
    rbi: Any,
    mcc_ok: Any,
    out: Any,
    base: int,
) -> tuple[int, int, int, int]:
    """Decide a value whose junk prefix ends at ``r``: what ``phonenumbers`` makes of data[r:e].

    ``phonenumbers.parse`` starts reading a number at its first digit, so it answers what it
    answers for the digits alone; the letters only keep the value from being a service code or
    a device identifier (the reference parses it as a phone number). The short lengths are
    decided only in regions that parse like the US (:func:`_short_junk_reason`).

    The prefix is kept narrow so that no other reference rule applies (:func:`_junk_prefix`).
    """
    nd, contiguous = _junk_digits(data, r, e, d)
    if nd < 0:
        return 0, FALLBACK, 0, 0
    if nd <= 1:  # not a viable number for phonenumbers, in any region
        return _K_PHONE, _S_REJECTED, _R_UNRECOGNIZED if auto else _R_UNPARSEABLE, 0
    ni = idd.shape[0]
    dialed_out = ni > 0 and nd >= ni
    for j in range(min(ni, nd)):
        if d[j] != idd[j]:
            dialed_out = False
    if dialed_out or nd >= 10:
        k, st, rs, ln = _phone(
            d, nd, False, MODE_PHONE, nanp, idd, cc_known, cc_fast, cc_lengths, cc_np,
            cc_np_len, rbi, mcc_ok, out, base,
        )  # fmt: skip
        return (0, FALLBACK, 0, 0) if k != _K_PHONE else (k, st, rs, ln)
    reason = _short_junk_reason(d, nd, contiguous) if short_junk else 0
    if reason == 0:
        return 0, FALLBACK, 0, 0
    return _K_PHONE, _S_REJECTED, reason, 0


@_inline
def _e_notation(data: Any, s: int, e: int) -> int:
    """0: not E-notation; 1: E-notation that lost digits; 2: E-notation holding every digit.

    The shape is ``+?digits(.digits)?[eE]+?digits``; digits are lost unless the exponent equals
    the number of fraction digits.
    """
    j = s + 1 if data[s] == 43 else s
    whole = 0
    while j < e and 48 <= data[j] <= 57:
        whole += 1
        j += 1
    if whole == 0:
        return 0
    frac = 0
    if j < e and data[j] == 46:
        j += 1
        while j < e and 48 <= data[j] <= 57:
            frac += 1
            j += 1
        if frac == 0:
            return 0
    if j >= e or (data[j] != 69 and data[j] != 101):
        return 0
    j += 1
    if j < e and data[j] == 43:
        j += 1
    exp = 0
    exp_digits = 0
    while j < e and 48 <= data[j] <= 57:
        if exp < 1000:
            exp = exp * 10 + int(data[j]) - 48
        exp_digits += 1
        j += 1
    if exp_digits == 0 or j != e:
        return 0
    return 2 if exp == frac else 1


@_inline
def _star_code(data: Any, s: int, e: int, out: Any, base: int) -> int:
    """Write a ``*``/``#`` feature code without separators; 0 when it is not one (fall back)."""
    n = 0
    for j in range(s, e):
        c = data[j]
        if (48 <= c <= 57) or c == 42 or c == 35:
            if n >= SLOT:
                return 0
            out[base + n] = c
            n += 1
        elif not (c == 32 or c == 45 or c == 46 or c == 47 or c == 40 or c == 41 or c == 9):
            return 0
    return n if n >= 2 else 0


@_inline
def _spreadsheet_end(data: Any, s: int, e: int) -> int:
    """Return the end of the integer part if data[s:e] is ``digits.0+``, else 0."""
    dot = -1
    for j in range(s, e):
        c = data[j]
        if c == 46:
            if dot >= 0:
                return 0
            dot = j
        elif c < 48 or c > 57 or (dot >= 0 and c != 48):
            return 0
    if dot <= s or dot == e - 1:
        return 0
    return dot


@_inline
def _digits(data: Any, s: int, e: int, d: Any, parens: bool) -> tuple[int, bool, int, bool]:
    """Collect digits of data[s:e]; returns (count, leading plus, dots, shape is simple).

    Not simple: a tab (``phonenumbers`` rejects it) or, unless ``parens``, a parenthesis.
    """
    nd = 0
    dots = 0
    plus = data[s] == 43
    for j in range(s + 1 if plus else s, e):
        c = data[j]
        if 48 <= c <= 57:
            if nd >= _MAX_DIGITS:
                return nd, plus, dots, False
            d[nd] = c
            nd += 1
        elif c == 46:
            dots += 1
        elif not (c == 32 or c == 45 or c == 47 or (parens and (c == 40 or c == 41))):
            return nd, plus, dots, False
    return nd, plus, dots, True


@_jit
def pack_kernel(out: Any, out_len: Any) -> tuple[Any, Any]:
    """Pack fixed-width output slots into Arrow (int64 offsets, data) buffers."""
    n = out_len.shape[0]
    offsets = np.empty(n + 1, dtype=np.int64)
    offsets[0] = 0
    for i in range(n):
        offsets[i + 1] = offsets[i] + out_len[i]
    data = np.empty(offsets[n], dtype=np.uint8)
    for i in range(n):
        base = i * SLOT
        o = offsets[i]
        for j in range(out_len[i]):
            data[o + j] = out[base + j]
    return offsets, data


@_inline
def _junk_prefix(data: Any, s: int, e: int) -> int:
    """End of the junk prefix of data[s:e] (where its digits start, or ``e``); -1 if none.

    A junk prefix is followed by a digit or by nothing at all. It is kept narrow so that no
    other reference rule can apply: ASCII letters, spaces, ``-`` and ``/`` only (no ``@``,
    ``:`` or ``.``: e-mail, IP, URL), at least one letter that is not a hex digit (an all-hex
    value may be an ESN or MEID), at most :data:`_MAX_PREFIX` bytes.
    """
    non_hex = False
    j = s
    while j < e and j - s <= _MAX_PREFIX:
        c = data[j] | 32  # ASCII lower case (digits and separators checked before)
        if 48 <= data[j] <= 57:
            break
        if 97 <= c <= 122:
            non_hex = non_hex or c > 102
        elif not (data[j] == 32 or data[j] == 45 or data[j] == 47):
            return -1
        j += 1
    if not non_hex or j - s > _MAX_PREFIX:
        return -1
    return j


@_inline
def _junk_digits(data: Any, r: int, e: int, d: Any) -> tuple[int, bool]:
    """Digits of data[r:e] into ``d``: (count, whether no separator splits them).

    The count is -1 if data[r:e] holds anything but digits, spaces, ``-``, ``(`` and ``)``,
    or more than :data:`_MAX_DIGITS` digits.
    """
    nd = 0
    contiguous = True
    for j in range(r, e):
        c = data[j]
        if 48 <= c <= 57:
            if nd >= _MAX_DIGITS:
                return -1, False
            if nd > 0 and not (48 <= data[j - 1] <= 57):
                contiguous = False
            d[nd] = c
            nd += 1
        elif not (c == 32 or c == 45 or c == 40 or c == 41):
            return -1, False
    return nd, contiguous


@_inline
def _short_junk_reason(d: Any, nd: int, contiguous: bool) -> int:
    """Reason for 2-9 digits after a junk prefix in a US-like region; 0 to fall back.

    The number does not start with the international prefix (the caller checks). Two digits
    must be written together (``1-2`` is not a viable number for ``phonenumbers``); eight or
    nine starting with the national prefix ``1`` may be local-only numbers.
    """
    if nd == 2:
        return _R_IMPOSSIBLE if contiguous else 0
    if 3 <= nd <= 6:
        return _R_IMPOSSIBLE
    if nd == 7:
        return _R_LOCAL_ONLY
    if (nd == 8 or nd == 9) and d[0] != 49:
        return _R_IMPOSSIBLE
    return 0
