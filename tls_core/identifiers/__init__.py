"""The identifier canon: one canonical value for every way a carrier writes a device id.

Kinds: phone (E.164), service (N11, star and short codes), IMSI, IMEI, ESN, MEID, UFMI, e-mail,
URL and IP address. :func:`normalize` is the vectorized entry point; :func:`normalize_value`
the per-value reference it agrees with; :func:`match_grade` grades how two identifiers match.
See ``docs/identifiers.md``.
"""

from __future__ import annotations

from tls_core.identifiers._codes import REASONS as REASONS
from tls_core.identifiers._codes import STATUSES as STATUSES
from tls_core.identifiers._codes import Reason as Reason
from tls_core.identifiers._codes import Status as Status
from tls_core.identifiers._devices import esn_dec_to_hex as esn_dec_to_hex
from tls_core.identifiers._devices import esn_hex_to_dec as esn_hex_to_dec
from tls_core.identifiers._devices import imei_check_digit as imei_check_digit
from tls_core.identifiers._devices import imsi_parts as imsi_parts
from tls_core.identifiers._devices import meid_to_pesn as meid_to_pesn
from tls_core.identifiers._match import GRADE_STRENGTH as GRADE_STRENGTH
from tls_core.identifiers._match import Identifier as Identifier
from tls_core.identifiers._match import match_grade as match_grade
from tls_core.identifiers._normalize import IntoValues as IntoValues
from tls_core.identifiers._normalize import KindOption as KindOption
from tls_core.identifiers._normalize import normalize as normalize
from tls_core.identifiers._reference import normalize_one as _normalize_one

__all__ = [
    "GRADE_STRENGTH",
    "REASONS",
    "STATUSES",
    "Identifier",
    "IntoValues",
    "KindOption",
    "Reason",
    "Status",
    "esn_dec_to_hex",
    "esn_hex_to_dec",
    "imei_check_digit",
    "imsi_parts",
    "match_grade",
    "meid_to_pesn",
    "normalize",
    "normalize_value",
]


def normalize_value(
    value: str | None, kind: KindOption = "auto", *, default_region: str = "US"
) -> tuple[str | None, str | None, str, str | None]:
    """Normalize one value with the reference; returns (kind, canonical, status, reason).

    >>> normalize_value("011 44 20 7946 0958")
    ('phone', '+442079460958', 'ok', None)
    """
    from tls_core.identifiers._normalize import check_kind
    from tls_core.identifiers._phone import check_region

    return _normalize_one(value, check_kind(kind), check_region(default_region))
