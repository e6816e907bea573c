"""The per-value reference normalizer: the definition of the canon, and the slow path.

:func:`normalize_one` decides any value, one at a time, with plain Python and
``phonenumbers``. The vectorized :func:`tls_core.identifiers.normalize` uses the numba kernel
for the common shapes and this function for the rest; tests check that both agree everywhere.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Final

from tls_core.identifiers._devices import (
    MCCS,
    canon_esn,
    canon_imei,
    canon_imsi,
    canon_meid,
    canon_ufmi,
    luhn_ok,
)
from tls_core.identifiers._network import canon_email, canon_ip, canon_url, looks_like_url
from tls_core.identifiers._phone import MODERN_RBI, canon_phone, region_idd

__all__ = ["Result", "normalize_one"]

Result = tuple[str | None, str | None, str, str | None]
"""(kind, canonical, status, reason)."""

_E_NOTATION: Final = re.compile(r"^\+?(\d+)(?:\.(\d+))?[eE]\+?(\d+)$")
_SPREADSHEET_FLOAT: Final = re.compile(r"^(\d+)\.0+$")
_IPV4_SHAPE: Final = re.compile(r"^\d{1,3}(\.\d{1,3}){3}$")
_UFMI_SHAPE: Final = re.compile(r"^\s*\d+\s*\*\s*\d+\s*\*\s*\d+\s*$")
_SEPARATORS: Final = re.compile(r"[\s\-./()]")
_HEX_LETTERS: Final = re.compile(r"^[0-9A-Fa-f]*[A-Fa-f][0-9A-Fa-f]*$")
_NUMERIC_KINDS: Final = frozenset({"auto", "phone", "imei", "imsi", "esn", "meid"})

_Plain = Callable[[str], tuple[str | None, str, str | None]]
_BY_KIND: Final[dict[str, _Plain]] = {
    "imei": canon_imei,
    "imsi": canon_imsi,
    "esn": canon_esn,
    "meid": canon_meid,
    "ufmi": canon_ufmi,
    "email": canon_email,
    "url": canon_url,
    "ip": canon_ip,
}


def normalize_one(raw: str | None, kind: str, region: str) -> Result:
    """Normalize one value as ``kind`` (``"auto"`` to detect it) in dialing region ``region``."""
    if raw is None or not raw.strip():
        return None, None, "empty", None
    s = raw.strip()
    repair = None
    if kind in _NUMERIC_KINDS:
        digits = _from_e_notation(s)
        if digits == "":
            return ("phone" if kind == "auto" else kind), None, "rejected", "lossy_number"
        if digits is not None:
            s, repair = digits, "from_e_notation"
        elif m := _SPREADSHEET_FLOAT.match(s):
            s, repair = m.group(1), "spreadsheet_float"
    result = _detect(s, region) if kind == "auto" else _as_kind(s, kind, region)
    if repair is not None and result[2] == "ok":
        return result[0], result[1], "repaired", repair
    return result


def _as_kind(s: str, kind: str, region: str) -> Result:
    if kind in ("phone", "service"):
        return canon_phone(s, region)
    canonical, status, reason = _BY_KIND[kind](s)
    return kind, canonical, status, reason


def _detect(s: str, region: str) -> Result:
    """Guess the kind of a value seen without context (``kind="auto"``)."""
    if "@" in s:
        return _as_kind(s, "email", region)
    if looks_like_url(s):
        return _as_kind(s, "url", region)
    if ":" in s or _IPV4_SHAPE.match(s):
        result = _as_kind(s, "ip", region)
        if result[2] == "ok":
            return result
    if _UFMI_SHAPE.match(s):
        return _as_kind(s, "ufmi", region)
    compact = _SEPARATORS.sub("", s)
    if _HEX_LETTERS.match(compact) and len(compact) in (8, 14, 15):
        return _as_kind(s, "esn" if len(compact) == 8 else "meid", region)
    if compact.isascii() and compact.isdigit():
        idd = region_idd(region)
        if idd and compact.startswith(idd):
            result = canon_phone(s, region)
            if result[2] != "rejected":
                return result
        device = _device(compact)
        if device is not None:
            return device
    kind, canonical, status, reason = canon_phone(s, region)
    if reason == "unparseable":
        reason = "unrecognized"
    return kind, canonical, status, reason


def _device(digits: str) -> Result | None:
    """IMEI, IMEISV, IMSI or MEID by length and shape; None when it is none of them."""
    n = len(digits)
    if n == 18:
        return _as_kind(digits, "meid", "US")
    if n not in (14, 15, 16):
        return None
    modern = digits[:2] in MODERN_RBI
    mcc = digits[:3] in MCCS
    if n == 16 or (n == 14 and modern):
        return _as_kind(digits, "imei", "US")
    if n == 15 and luhn_ok(digits) and modern:
        return _as_kind(digits, "imei", "US")
    if mcc:
        return _as_kind(digits, "imsi", "US")
    if n == 15 and not luhn_ok(digits):
        return None, None, "rejected", "ambiguous_identifier"
    return _as_kind(digits, "imei", "US")


def _from_e_notation(s: str) -> str | None:
    """Digits of a number written in E-notation; ``""`` if precision was lost; None if not one.

    ``1.21355E+10`` stands for any of 12135500000-12135549999: the digits are gone.
    ``2.135550142E+9`` still holds every digit and is recovered.
    """
    m = _E_NOTATION.match(s)
    if m is None:
        return None
    whole, frac, exp = m.group(1), m.group(2) or "", int(m.group(3))
    if exp != len(frac):
        return ""
    return whole + frac
