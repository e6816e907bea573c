"""Graded matching of two normalized identifiers; each grade has a name alerts show."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from tls_core.identifiers._devices import meid_to_pesn
from tls_core.schema import MatchGrade

__all__ = ["GRADE_STRENGTH", "Identifier", "match_grade"]

GRADE_STRENGTH: Final[dict[str, float]] = {
    "exact": 1.0,
    "imei_tac_snr": 0.95,
    "national_number": 0.6,
    "meid_pesn": 0.3,
}
"""Relative confidence of each grade. A pseudo-ESN is a 24-bit hash: collisions are common."""


@dataclass(frozen=True)
class Identifier:
    """A normalized identifier as stored: its kind, canonical value and the raw text."""

    kind: str
    canonical: str
    raw: str | None = None


def match_grade(a: Identifier, b: Identifier) -> MatchGrade | None:
    """Return how ``a`` and ``b`` match, strongest grade first, or None.

    - ``exact``: same kind and canonical value (for IMEIs, also the same check digit and
      software version as written).
    - ``imei_tac_snr``: IMEIs (or IMEISVs) equal on TAC and serial, whatever their check digit
      or software version: the same handset written two ways.
    - ``national_number``: phone numbers equal on the national significant number under
      different country codes (a return that wrote a number without its country code).
    - ``meid_pesn``: an MEID and an ESN that is its pseudo-ESN.

    >>> match_grade(Identifier("imei", "490154203237518", "490154203237510"),
    ...             Identifier("imei", "490154203237518", "490154203237518"))
    'imei_tac_snr'
    >>> match_grade(Identifier("meid", "A0000000002329"), Identifier("esn", "8051F1AB"))
    'meid_pesn'
    """
    if a.kind == b.kind and a.canonical == b.canonical:
        if a.kind == "imei" and _imei_suffix(a) != _imei_suffix(b):
            return "imei_tac_snr"
        return "exact"
    if {a.kind, b.kind} == {"meid", "esn"}:
        meid, esn = (a, b) if a.kind == "meid" else (b, a)
        return "meid_pesn" if meid_to_pesn(meid.canonical) == esn.canonical else None
    if a.kind == b.kind == "phone":
        return "national_number" if _nsn(a.canonical) == _nsn(b.canonical) else None
    return None


def _imei_suffix(ident: Identifier) -> str:
    digits = "".join(c for c in ident.raw or ident.canonical if c.isdigit())
    return digits[14:]


def _nsn(e164: str) -> str:
    import phonenumbers

    return str(phonenumbers.national_significant_number(phonenumbers.parse(e164)))
