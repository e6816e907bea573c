"""Phone numbers and service codes: the ``phonenumbers`` reference, and the kernel's tables.

:func:`canon_phone` is the per-value reference: what it accepts, and how, defines the canon.
:func:`kernel_tables` derives, from the same ``phonenumbers`` metadata, the tables the numba
kernel uses for the shapes it decides itself.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache, lru_cache
from typing import Any, Final

import numpy as np
import phonenumbers
from phonenumbers import NumberParseException, PhoneMetadata, PhoneNumberFormat, ValidationResult
from phonenumbers.phonenumberutil import (
    COUNTRY_CODE_TO_REGION_CODE,
    SUPPORTED_REGIONS,
    region_code_for_country_code,
)

from tls_core.errors import ConfigError

__all__ = [
    "KernelTables",
    "canon_phone",
    "check_region",
    "kernel_tables",
    "region_idd",
    "short_junk_rules",
]

Canon = tuple[str | None, str | None, str, str | None]
"""(kind, canonical, status, reason)."""

_SERVICE_STAR: Final = re.compile(r"^[*#][0-9*#]+$")
_SEPARATORS: Final = re.compile(r"[\s\-./()]")
_LITERAL_ALTERNATION: Final = re.compile(r"^\d+(\|\d+)*$")
# Reporting-body prefixes of currently allocated IMEI TACs (01 CTIA, 35 BABT, 86 TIA, 99 GHA).
MODERN_RBI: Final = frozenset({"01", "35", "86", "99"})

_PARSE_REASONS: Final = {
    NumberParseException.INVALID_COUNTRY_CODE: "invalid_country_code",
    NumberParseException.NOT_A_NUMBER: "unparseable",
}
_POSSIBLE_REASONS: Final = {
    ValidationResult.IS_POSSIBLE_LOCAL_ONLY: "local_only_number",
    ValidationResult.INVALID_COUNTRY_CODE: "invalid_country_code",
}


def check_region(region: str) -> str:
    """Return ``region`` upper-cased if ``phonenumbers`` knows it, else raise ConfigError."""
    upper = region.upper()
    if upper not in SUPPORTED_REGIONS:
        raise ConfigError(
            f"unknown dialing region {region!r}",
            value=region,
            reason="unknown_region",
            hint="use an ISO 3166 alpha-2 code such as US, CA, GB, MX",
        )
    return upper


def canon_phone(s: str, region: str) -> Canon:
    """Normalize a trimmed, non-empty value as a phone number or a service code.

    Accepted: what ``phonenumbers.parse(s, region)`` parses to a number whose length is
    possible for its country (``IS_POSSIBLE``, not local-only), formatted as E.164; in the NANP
    the area code and exchange must not start with 0 or 1. A value of 3-6 digits that is not
    a possible number, or a ``*``/``#`` code, is a service code kept as dialed (never E.164).
    """
    compact = _SEPARATORS.sub("", s)
    if _SERVICE_STAR.match(compact):
        return "service", compact, "ok", None
    kind, canonical, status, reason = _parse(s, region)
    short = compact.isascii() and compact.isdigit() and 3 <= len(compact) <= 6
    if status == "rejected" and short and not s.lstrip().startswith("+"):
        return "service", compact, "ok", None
    return kind, canonical, status, reason


def _parse(s: str, region: str) -> Canon:
    try:
        number = phonenumbers.parse(s, region)
    except NumberParseException as err:
        return "phone", None, "rejected", _PARSE_REASONS.get(err.error_type, "impossible_number")
    possible = phonenumbers.is_possible_number_with_reason(number)
    if possible != ValidationResult.IS_POSSIBLE:
        return "phone", None, "rejected", _POSSIBLE_REASONS.get(possible, "impossible_number")
    nsn = phonenumbers.national_significant_number(number)
    if number.country_code == 1 and (nsn[0] in "01" or nsn[3] in "01"):
        return "phone", None, "rejected", "invalid_nanp"
    e164 = phonenumbers.format_number(number, PhoneNumberFormat.E164)
    if number.extension:
        return "phone", e164, "repaired", "extension_dropped"
    return "phone", e164, "ok", None


def region_idd(region: str) -> str | None:
    """The region's international dialing prefix when it is a literal (``011``, ``00``)."""
    meta = PhoneMetadata.metadata_for_region(region)
    idd = None if meta is None else meta.international_prefix
    return idd if idd is not None and idd.isdigit() else None


@cache
def short_junk_rules(region: str) -> bool:
    """Whether the region parses short numbers like the US (the kernel's junk-prefix rules).

    National numbers of 10 digits, local-only ones of 7, national prefix ``1`` with no
    transform rule, international prefix ``011``: the US, Puerto Rico, Jamaica and a few more.
    ``tests/tls_core/identifiers/test_differential.py`` checks the rules against the reference.
    """
    meta = PhoneMetadata.metadata_for_region(region)
    if meta is None or meta.general_desc is None:
        return False
    return (
        meta.country_code == 1
        and meta.national_prefix_for_parsing == "1"
        and meta.national_prefix_transform_rule is None
        and meta.international_prefix == "011"
        and tuple(meta.general_desc.possible_length) == (10,)
        and tuple(meta.general_desc.possible_length_local_only) == (7,)
    )


@dataclass(frozen=True)
class KernelTables:
    """Arrays the phone kernel indexes by country calling code (0-999)."""

    cc_known: Any
    """Whether a code is a country calling code at all."""
    cc_fast: Any
    """Whether the kernel may decide numbers of that code (literal national-prefix rule)."""
    cc_lengths: Any
    """Bit L set when a national significant number of L digits is possible."""
    cc_np: Any
    """National prefixes for parsing, as ASCII digits, up to 4 alternatives of 8 digits."""
    cc_np_len: Any
    """Length of each alternative in ``cc_np`` (0 = unused)."""
    rbi: Any
    """Whether two leading digits are a current IMEI reporting-body identifier."""
    mcc_ok: Any
    """Whether three leading digits are a mobile country code."""


@lru_cache(maxsize=1)
def kernel_tables() -> KernelTables:
    """Build (once per process) the kernel tables from ``phonenumbers`` metadata."""
    from tls_core.identifiers._devices import MCCS

    cc_known = np.zeros(1000, dtype=np.bool_)
    cc_fast = np.zeros(1000, dtype=np.bool_)
    cc_lengths = np.zeros(1000, dtype=np.int64)
    cc_np = np.zeros((1000, 4, 8), dtype=np.uint8)
    cc_np_len = np.zeros((1000, 4), dtype=np.int64)
    for cc in COUNTRY_CODE_TO_REGION_CODE:
        cc_known[cc] = True
        meta = PhoneMetadata.metadata_for_region_or_calling_code(
            cc, region_code_for_country_code(cc)
        )
        if meta is None:
            continue
        cc_lengths[cc] = _possible_length_mask(cc)
        prefix = meta.national_prefix_for_parsing
        alternatives = [] if prefix is None else prefix.split("|")
        simple = prefix is None or _LITERAL_ALTERNATION.match(prefix) is not None
        if not simple or meta.national_prefix_transform_rule is not None:
            continue
        if len(alternatives) > 4 or any(len(a) > 8 for a in alternatives):
            continue
        for j, alt in enumerate(alternatives):
            cc_np[cc, j, : len(alt)] = np.frombuffer(alt.encode(), dtype=np.uint8)
            cc_np_len[cc, j] = len(alt)
        cc_fast[cc] = True
    rbi = np.zeros(100, dtype=np.bool_)
    rbi[[int(p) for p in MODERN_RBI]] = True
    mcc_ok = np.zeros(1000, dtype=np.bool_)
    mcc_ok[[int(m) for m in MCCS]] = True
    return KernelTables(cc_known, cc_fast, cc_lengths, cc_np, cc_np_len, rbi, mcc_ok)


def _possible_length_mask(cc: int) -> int:
    """Bit L is set when ``phonenumbers`` calls an L-digit national number possible."""
    mask = 0
    for length in range(2, 18):
        number = phonenumbers.PhoneNumber(country_code=cc, national_number=int("5" * length))
        if phonenumbers.is_possible_number_with_reason(number) == ValidationResult.IS_POSSIBLE:
            mask |= 1 << length
    return mask
