"""Small integer codes for kinds, statuses and reasons, shared by the kernels and Python."""

from __future__ import annotations

from typing import Final, Literal, get_args

from tls_core.schema import IDENTIFIER_KINDS

__all__ = [
    "KINDS",
    "REASONS",
    "STATUSES",
    "Reason",
    "Status",
]

Status = Literal["ok", "repaired", "rejected", "empty"]
"""``ok``: canonical as written; ``repaired``: canonical after a documented repair (see the
reason); ``rejected``: no canonical value (see the reason); ``empty``: null or blank input."""

Reason = Literal[
    # repairs (status "repaired")
    "spreadsheet_float",
    "check_digit_recomputed",
    "extension_dropped",
    "from_e_notation",
    # rejections (status "rejected")
    "lossy_number",
    "local_only_number",
    "invalid_nanp",
    "impossible_number",
    "invalid_country_code",
    "unparseable",
    "ambiguous_identifier",
    "unrecognized",
    "bad_imei",
    "bad_imsi",
    "bad_esn",
    "bad_meid",
    "bad_ufmi",
    "bad_email",
    "bad_url",
    "bad_ip",
]
"""Closed set of reason codes, documented in ``docs/identifiers.md``."""

# Index 0 means "none" in every table below; kernels write these indices.
KINDS: Final[tuple[str | None, ...]] = (None, *IDENTIFIER_KINDS)
STATUSES: Final[tuple[str, ...]] = get_args(Status)
REASONS: Final[tuple[str | None, ...]] = (None, *get_args(Reason))

KIND_CODE: Final[dict[str | None, int]] = {k: i for i, k in enumerate(KINDS)}
STATUS_CODE: Final[dict[str, int]] = {s: i for i, s in enumerate(STATUSES)}
REASON_CODE: Final[dict[str | None, int]] = {r: i for i, r in enumerate(REASONS)}
