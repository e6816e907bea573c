"""Match keys: the sort key of the occurrence index, shared by every graded spelling.

Two identifiers that :func:`tls_core.identifiers.match_grade` grades as matching always have the
same match key, so one point lookup finds the exact and the graded matches together:

- ``phone:<national significant number>`` (E.164 without its country code: country codes are
  prefix-free, so the split needs no parsing);
- ``imei:<TAC + serial>`` (14 digits, whatever the check digit or software version);
- ``pesn:<pseudo-ESN>`` for an ESN and for an MEID (its pseudo-ESN);
- ``<kind>:<canonical>`` for every other kind.

Candidates under one key are then graded with ``match_grade``; a pseudo-ESN collision between
two MEIDs grades ``None`` and is dropped.
"""

from __future__ import annotations

from functools import cache

from tls_core.identifiers import meid_to_pesn

__all__ = ["country_codes", "match_key", "nsn"]


def match_key(kind: str, canonical: str) -> str:
    """Return the index key of one normalized identifier.

    >>> match_key("phone", "+442079460958")
    'phone:2079460958'
    >>> match_key("imei", "490154203237518")
    'imei:49015420323751'
    """
    if kind == "phone":
        return "phone:" + nsn(canonical)
    if kind == "imei":
        return "imei:" + canonical[:14]
    if kind == "esn":
        return "pesn:" + canonical
    if kind == "meid":
        return "pesn:" + meid_to_pesn(canonical)
    return f"{kind}:{canonical}"


def nsn(e164: str) -> str:
    """Return the national significant number of an E.164 value (country code stripped)."""
    digits = e164.removeprefix("+")
    codes = country_codes()
    for width in (1, 2, 3):
        if digits[:width] in codes:
            return digits[width:]
    return digits


@cache
def country_codes() -> frozenset[str]:
    """Every ITU country calling code ``phonenumbers`` knows, as digit strings."""
    import phonenumbers

    return frozenset(str(code) for code in phonenumbers.COUNTRY_CODE_TO_REGION_CODE)
