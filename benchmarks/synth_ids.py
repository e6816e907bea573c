"""Seeded synthetic identifier columns as carriers write them (no real numbers).

NANP numbers use the 555-01XX fictional block's spirit but random area codes and exchanges:
they are synthetic values, not assigned to anyone knowingly, and never leave the benchmark.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

__all__ = ["distinct_identifiers", "identifier_column"]

_INTERNATIONAL = [
    "+44 20 7946 {0:04d}",
    "011 52 55 {0:04d} {1:04d}",
    "+49 30 {0:04d}{1:04d}",
    "+33 1 {2:02d} {3:02d} {2:02d} {3:02d}",
    "011 91 98{1:04d}{0:04d}",
]


def distinct_identifiers(n: int, seed: int = 7) -> list[str]:
    """``n`` distinct-ish raw identifiers in a US return's mix of shapes.

    About 85% NANP numbers in six renderings, 5% international numbers after ``+``/``011``/``00``,
    4% IMEIs, 2% service codes, 2% spreadsheet floats, 1% lossy E-notation, 1% junk.
    """
    rng = np.random.default_rng(seed)
    npa = rng.integers(201, 990, n)
    nxx = rng.integers(200, 999, n)
    line = rng.integers(0, 10000, n)
    shape = rng.choice(100, n)
    out: list[str] = []
    for i in range(n):
        a, b, c, s = int(npa[i]), int(nxx[i]), int(line[i]), int(shape[i])
        if s < 85:
            out.append(_nanp(a, b, c, s % 6))
        elif s < 90:
            fmt = _INTERNATIONAL[s % len(_INTERNATIONAL)]
            out.append(fmt.format(c, b * 10 + s % 10, a % 100, b % 100))
        elif s < 94:
            tac_snr = f"35{a:03d}{b:03d}{c:04d}{s:02d}"
            out.append(tac_snr + _luhn(tac_snr))
        elif s < 96:
            out.append(["911", "411", "611", "*3334", "28828"][c % 5])
        elif s < 98:
            out.append(f"{a}{b}{c:04d}.0")
        elif s < 99:
            out.append(f"{a / 100:.4f}E+9")
        else:
            out.append(f"N/A-{c}")
    return out


def identifier_column(rows: int, distinct: int, seed: int = 7) -> pa.LargeStringArray:
    """``rows`` values drawn uniformly from ``distinct`` identifiers (a cache worst case)."""
    values = pa.array(distinct_identifiers(distinct, seed), pa.large_string())
    picks = np.random.default_rng(seed + 1).integers(0, distinct, rows)
    return values.take(pa.array(picks))


def _nanp(a: int, b: int, c: int, style: int) -> str:
    return [
        f"{a}{b}{c:04d}",
        f"({a}) {b}-{c:04d}",
        f"1{a}{b}{c:04d}",
        f"+1{a}{b}{c:04d}",
        f"{a}-{b}-{c:04d}",
        f"+1 {a} {b} {c:04d}",
    ][style]


def _luhn(digits: str) -> str:
    total = 0
    for i, ch in enumerate(digits):
        d = int(ch) * (2 if i % 2 else 1)
        total += d - 9 if d > 9 else d
    return str((10 - total % 10) % 10)
