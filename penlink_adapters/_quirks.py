"""Carrier quirks that a layout file cannot say: small, named Python hooks.

A layout lists the hooks it needs (``[quirks] hooks = [...]``). Each hook takes the chunk of
raw text columns (canonical field names, nulls already applied; ``<party>_input`` columns hold
the value that identifier normalization will see, initially the raw one; ``_event`` overrides
the event type) and returns it changed, with warnings for the read report. Hooks run before
identifier normalization.
"""

from __future__ import annotations

import ipaddress
import struct
from collections import Counter
from collections.abc import Callable
from typing import Final

import polars as pl

from tls_core.errors import LayoutError

__all__ = ["HOOKS", "Hook", "apply_hooks", "ip_from_signed_int"]

Hook = Callable[[pl.DataFrame], tuple[pl.DataFrame, dict[str, int]]]
"""A quirk: chunk in, chunk and counts of what it did (message -> rows) out."""

PARTIES: Final = ("orig", "term", "dialed", "target")


def _att_dialed_line(df: pl.DataFrame) -> tuple[pl.DataFrame, dict[str, int]]:
    """AT&T: a party cell may hold a second line ``<digits>(D)``, the digits dialed.

    The first line without a ``(D)`` suffix is the party; the ``(D)`` line fills ``dialed``
    when the layout has no dialed column. Other parenthesised suffixes (routing flags) are
    kept in the raw value and removed from the normalization input.
    """
    if "orig" not in df.columns:
        return df, {}
    lines = pl.col("orig").str.split("\n")
    dialed_line = lines.list.eval(
        pl.element().filter(pl.element().str.contains(r"\(D\)"))
    ).list.first()
    party_line = lines.list.eval(
        pl.element().filter(~pl.element().str.contains(r"\(D\)"))
    ).list.first()
    df = df.with_columns(
        party_line.str.strip_chars().alias("orig"),
        dialed_line.str.strip_chars().alias("_att_dialed"),
    )
    if "dialed" in df.columns:
        df = df.with_columns(pl.coalesce("dialed", "_att_dialed").alias("dialed"))
    else:
        df = df.with_columns(pl.col("_att_dialed").alias("dialed"))
    strip = r"\s*\([A-Z]{1,3}\)\s*$"
    df = df.with_columns(
        *(
            pl.col(p).str.replace(strip, "").alias(f"{p}_input")
            for p in ("orig", "term", "dialed")
            if p in df.columns
        )
    ).drop("_att_dialed")
    n = int(df["dialed"].is_not_null().sum()) if "dialed" in df.columns else 0
    return df, {"rows carried a (D) dialed-digits line": n}


def _sprint_voicemail_prefix(df: pl.DataFrame) -> tuple[pl.DataFrame, dict[str, int]]:
    """Sprint: ``11`` before a 10-digit called number = rolled to voicemail, not answered."""
    if "term" not in df.columns:
        return df, {}
    rolled = pl.col("term").str.contains(r"^11[2-9]\d{9}$")
    df = df.with_columns(
        pl.when(rolled)
        .then(pl.col("term").str.slice(2))
        .otherwise(pl.col("term_input"))
        .alias("term_input"),
        pl.when(rolled).then(pl.lit("forwarded")).otherwise(pl.col("_event")).alias("_event"),
    )
    n = int(df.select(rolled.sum()).item() or 0)
    return df, {"calls rolled to voicemail (Sprint 11 prefix stripped)": n}


def _sprint_sector(df: pl.DataFrame) -> tuple[pl.DataFrame, dict[str, int]]:
    """Sprint: a cell like ``2083`` is sector ``2`` of cell ``083``."""
    out = []
    for side in ("first", "last"):
        cell = f"{side}_cell"
        if cell not in df.columns:
            continue
        split = pl.col(cell).str.contains(r"^\d{4,5}$")
        out += [
            pl.when(split)
            .then(pl.col(cell).str.slice(0, 1))
            .otherwise(None)
            .alias(f"{side}_sector"),
            pl.when(split).then(pl.col(cell).str.slice(1)).otherwise(pl.col(cell)).alias(cell),
        ]
    return df.with_columns(out), {}


def _cucm_bridge_ports(df: pl.DataFrame) -> tuple[pl.DataFrame, dict[str, int]]:
    """CUCM: ``b00…`` party numbers are conference-bridge ports, not phones: never normalized."""
    n = 0
    for p in PARTIES:
        if p not in df.columns:
            continue
        port = pl.col(p).str.contains(r"^b\d{6,}$")
        n += int(df.select(port.sum()).item() or 0)
        df = df.with_columns(
            pl.when(port).then(None).otherwise(pl.col(f"{p}_input")).alias(f"{p}_input")
        )
    return df, {"conference-bridge port ids kept raw, not normalized": n}


def _intl_prefix(df: pl.DataFrame) -> tuple[pl.DataFrame, dict[str, int]]:
    """Switch exports: ``00``/``000`` international prefixes become ``+`` before normalization."""
    return (
        df.with_columns(
            pl.col(f"{p}_input").str.replace(r"^000?([1-9]\d{6,})$", "+${1}")
            for p in PARTIES
            if f"{p}_input" in df.columns
        ),
        {},
    )


def ip_from_signed_int(value: str | None) -> str | None:
    """Decode a CUCM IPv4 address: a signed 32-bit integer of the little-endian bytes.

    Examples:
        >>> ip_from_signed_int("-1139627840")
        '192.168.18.188'
        >>> ip_from_signed_int("0") is None
        True
    """
    try:
        number = int(value or "")
    except ValueError:
        return None
    if number == 0 or not -(2**31) <= number < 2**31:
        return None
    return str(ipaddress.IPv4Address(struct.pack("<i", number)))


def _cucm_ip_party(df: pl.DataFrame) -> tuple[pl.DataFrame, dict[str, int]]:
    """CUCM: a leg with no calling number is identified by its decoded origin IP address."""
    if "orig_ip" not in df.columns:
        return df, {}
    ips = pl.Series([ip_from_signed_int(v) for v in df["orig_ip"].to_list()], dtype=pl.String)
    missing = pl.col("orig").is_null()
    df = df.with_columns(ips.alias("orig_ip")).with_columns(
        pl.when(missing).then(pl.col("orig_ip")).otherwise(pl.col("orig")).alias("orig"),
        pl.when(missing)
        .then(pl.col("orig_ip"))
        .otherwise(pl.col("orig_input"))
        .alias("orig_input"),
    )
    return df, {}


HOOKS: Final[dict[str, Hook]] = {
    "att_dialed_line": _att_dialed_line,
    "sprint_voicemail_prefix": _sprint_voicemail_prefix,
    "sprint_sector": _sprint_sector,
    "cucm_bridge_ports": _cucm_bridge_ports,
    "cucm_ip_party": _cucm_ip_party,
    "intl_prefix": _intl_prefix,
}
"""Every hook a layout may name."""


def apply_hooks(
    df: pl.DataFrame, names: tuple[str, ...], *, layout_path: str
) -> tuple[pl.DataFrame, Counter[str]]:
    """Run the named hooks in order.

    Raises:
        LayoutError: a layout names a hook that does not exist.
    """
    counts: Counter[str] = Counter()
    for name in names:
        hook = HOOKS.get(name)
        if hook is None:
            raise LayoutError(
                f"unknown quirk hook {name!r}",
                file=layout_path,
                column="quirks.hooks",
                hint=f"known hooks: {', '.join(sorted(HOOKS))}",
            )
        df, more = hook(df)
        counts.update({k: v for k, v in more.items() if v})
    return df, counts
