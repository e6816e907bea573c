"""Device identifiers: IMEI, IMSI, ESN, MEID (with pseudo-ESN) and UFMI.

Pure-Python, per-value functions. They are the reference for the IMEI kernel and the slow path
for the rarer kinds. Each ``canon_*`` returns ``(canonical, status, reason)``.
"""

from __future__ import annotations

import hashlib
import re
from typing import Final

__all__ = [
    "MCCS",
    "canon_esn",
    "canon_imei",
    "canon_imsi",
    "canon_meid",
    "canon_ufmi",
    "esn_dec_to_hex",
    "esn_hex_to_dec",
    "imei_check_digit",
    "imsi_parts",
    "meid_to_pesn",
]

Canon = tuple[str | None, str, str | None]

# ITU-T E.212 mobile country codes (plus 001 test networks and 901 international).
# Used only by kind="auto" to tell a 14/15-digit IMSI from an IMEI.
_MCC_TEXT: Final = """
001 202 204 206 208 212 213 214 216 218 219 220 221 222 225 226 228 230 231 232 234 235 238
240 242 244 246 247 248 250 255 257 259 260 262 266 268 270 272 274 276 278 280 282 283 284
286 288 289 290 292 293 294 295 297 302 308 310 311 312 313 314 315 316 330 332 334 338 340
342 344 346 348 350 352 354 356 358 360 362 363 364 365 366 368 370 372 374 376 400 401 402
404 405 406 410 412 413 414 415 416 417 418 419 420 421 422 424 425 426 427 428 429 430 431
432 434 436 437 438 440 441 450 452 454 455 456 457 460 461 466 467 470 472 502 505 510 514
515 520 525 528 530 536 537 539 540 541 542 543 544 545 546 547 548 549 550 551 552 553 554
555 602 603 604 605 606 607 608 609 610 611 612 613 614 615 616 617 618 619 620 621 622 623
624 625 626 627 628 629 630 631 632 633 634 635 636 637 638 639 640 641 642 643 645 646 647
648 649 650 651 652 653 654 655 657 658 659 702 704 706 708 710 712 714 716 722 724 730 732
734 736 738 740 742 744 746 748 750 901
"""
MCCS: Final[frozenset[str]] = frozenset(_MCC_TEXT.split())
"""Mobile country codes (ITU-T E.212)."""

# MCCs whose networks use three-digit MNCs (North America and the Caribbean, some of Latin
# America and India's 405 block); elsewhere MNCs have two digits.
_MNC3_MCCS: Final = frozenset(
    [
        "302",
        "310",
        "311",
        "312",
        "313",
        "314",
        "315",
        "316",
        "334",
        "338",
        "342",
        "344",
        "346",
        "348",
        "352",
        "354",
        "356",
        "358",
        "360",
        "365",
        "366",
        "376",
        "405",
        "708",
        "722",
        "732",
    ]
)

_SEPARATORS: Final = re.compile(r"[\s\-./:]")
_UFMI: Final = re.compile(r"^(\d{1,5})\*(\d{1,5})\*(\d{1,5})$")


def _compact(raw: str) -> str:
    return _SEPARATORS.sub("", raw.strip())


def imei_check_digit(tac_snr: str) -> str:
    """Return the Luhn check digit of a 14-digit TAC+SNR (3GPP TS 23.003 annex B).

    >>> imei_check_digit("49015420323751")
    '8'
    """
    total = 0
    for i, ch in enumerate(tac_snr):
        d = ord(ch) - 48
        if i % 2 == 1:
            d *= 2
            d = d - 9 if d > 9 else d
        total += d
    return str((10 - total % 10) % 10)


def canon_imei(raw: str) -> Canon:
    """Canonical IMEI: TAC+SNR (14 digits) and the computed Luhn check digit.

    14 digits (no check digit) and 16 digits (IMEISV: the last two are the software version)
    are accepted as written; a 15-digit value whose check digit is wrong (some returns write
    ``0``) keeps its TAC+SNR and is repaired with ``check_digit_recomputed``.
    """
    s = _compact(raw)
    if not s.isdigit() or not s.isascii() or len(s) not in (14, 15, 16):
        return None, "rejected", "bad_imei"
    body = s[:14]
    check = imei_check_digit(body)
    if len(s) == 15 and s[14] != check:
        return body + check, "repaired", "check_digit_recomputed"
    return body + check, "ok", None


def luhn_ok(digits: str) -> bool:
    """Return whether a 15-digit string carries a correct IMEI check digit."""
    return imei_check_digit(digits[:14]) == digits[14]


def canon_imsi(raw: str) -> Canon:
    """Canonical IMSI: its 14 or 15 digits (MCC + MNC + MSIN), separators removed."""
    s = _compact(raw)
    if not s.isdigit() or not s.isascii() or len(s) not in (14, 15):
        return None, "rejected", "bad_imsi"
    return s, "ok", None


def imsi_parts(imsi: str) -> tuple[str, str, str]:
    """Split a canonical IMSI into (MCC, MNC, MSIN).

    The MNC length is not in the IMSI itself; it is taken from the MCC (three digits in North
    America and a few other regions, two elsewhere).

    >>> imsi_parts("310260123456789")
    ('310', '260', '123456789')
    """
    mcc = imsi[:3]
    mnc_len = 3 if mcc in _MNC3_MCCS else 2
    return mcc, imsi[3 : 3 + mnc_len], imsi[3 + mnc_len :]


def esn_hex_to_dec(esn_hex: str) -> str:
    """Convert an 8-hex-digit ESN to its 11-digit decimal form (3 + 8 digits).

    >>> esn_hex_to_dec("8051F1AB")
    '12805370283'
    """
    value = int(esn_hex, 16)
    return f"{value >> 24:03d}{value & 0xFFFFFF:08d}"


def esn_dec_to_hex(esn_dec: str) -> str:
    """Convert an 11-digit decimal ESN to its canonical 8-hex-digit form (upper case).

    >>> esn_dec_to_hex("12805370283")
    '8051F1AB'
    """
    mfr, serial = int(esn_dec[:3]), int(esn_dec[3:])
    if len(esn_dec) != 11 or mfr > 0xFF or serial > 0xFFFFFF:
        raise ValueError(f"not a decimal ESN: {esn_dec!r}")
    return f"{mfr:02X}{serial:06X}"


def canon_esn(raw: str) -> Canon:
    """Canonical ESN: 8 upper-case hex digits; an 11-digit decimal ESN is converted."""
    s = _compact(raw)
    if s[:2].lower() == "0x":
        s = s[2:]
    if len(s) == 11 and s.isdigit() and s.isascii():
        try:
            return esn_dec_to_hex(s), "ok", None
        except ValueError:
            return None, "rejected", "bad_esn"
    if len(s) == 8 and _is_hex(s):
        return s.upper(), "ok", None
    return None, "rejected", "bad_esn"


def meid_to_pesn(meid: str) -> str:
    """Return the pseudo-ESN of a canonical MEID: ``80`` + the low 24 bits of its SHA-1.

    The hash is taken over the MEID's 56-bit value (7 bytes), not its text.

    >>> meid_to_pesn("A0000000002329")
    '8051F1AB'
    """
    digest = hashlib.sha1(bytes.fromhex(meid), usedforsecurity=False).hexdigest()
    return "80" + digest[-6:].upper()


def canon_meid(raw: str) -> Canon:
    """Canonical MEID: 14 upper-case hex digits.

    Accepts 14 hex digits, 15 (a trailing check character, dropped: it is not part of the
    MEID) and the 18-digit decimal form (10 digits manufacturer code + 8 digits serial).
    """
    s = _compact(raw)
    if s[:2].lower() == "0x":
        s = s[2:]
    if len(s) == 18 and s.isdigit() and s.isascii():
        high, low = int(s[:10]), int(s[10:])
        if high > 0xFFFFFFFF or low > 0xFFFFFF:
            return None, "rejected", "bad_meid"
        return f"{high:08X}{low:06X}", "ok", None
    if len(s) in (14, 15) and _is_hex(s):
        return s[:14].upper(), "ok", None
    return None, "rejected", "bad_meid"


def canon_ufmi(raw: str) -> Canon:
    """Canonical UFMI (iDEN urban*fleet*member): three decimal ids without leading zeros."""
    m = _UFMI.match(re.sub(r"\s", "", raw))
    if m is None:
        return None, "rejected", "bad_ufmi"
    return "*".join(str(int(part)) for part in m.groups()), "ok", None


def _is_hex(s: str) -> bool:
    return s.isascii() and all(c in "0123456789abcdefABCDEF" for c in s)
