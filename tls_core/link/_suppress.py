"""Suppression of common numbers: a curated list shipped as data, plus a learned weight.

Voicemail access numbers, N11 codes, directory assistance and carrier service numbers touch
many unrelated cases and link nothing. They are listed in ``common_numbers.toml`` (shipped)
and in an optional deployment file of the same form. Every identifier that touches at least
:attr:`LinkSettings.hub_cases` cases is suppressed too (the learned, corpus-wide weight).
Suppression happens before case pairs are formed, so a hub in every case costs one row per
case, not one per pair. Suppressed identifiers are reported by :func:`tls_core.link.hubs`.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Final, Literal, overload

import pyarrow as pa

from tls_core.errors import ConfigError

__all__ = [
    "DEFAULT_HUB_CASES",
    "Hub",
    "HubReason",
    "HubRows",
    "LinkSettings",
    "Suppression",
    "load_suppression",
]

DEFAULT_HUB_CASES: Final = 10
"""Default learned threshold: an identifier seen in this many cases or more is a hub."""

HubReason = Literal["curated", "kind", "learned"]
"""Why an identifier is suppressed: the curated list, its kind (service codes), or the
learned weight (it touches at least ``hub_cases`` cases)."""


@dataclass(frozen=True)
class LinkSettings:
    """How the linker suppresses common identifiers (the user-authored form)."""

    hub_cases: int = DEFAULT_HUB_CASES
    """An identifier present in at least this many cases is suppressed as a hub (>= 3)."""
    common_numbers: Path | None = None
    """A deployment's own list, same form as the shipped ``common_numbers.toml``."""

    def __post_init__(self) -> None:
        if self.hub_cases < 3:
            raise ConfigError(
                "hub_cases must be at least 3 (two cases sharing a number is a link)",
                value=str(self.hub_cases),
                reason="bad_hub_cases",
            )


@dataclass(frozen=True)
class Hub:
    """An identifier that links nothing because it is common (``tls hubs``)."""

    identifier: str
    """Canonical value."""
    kind: str
    """Identifier kind."""
    reason: HubReason
    """``curated``, ``kind`` or ``learned``."""
    detail: str
    """The curated reason, or the learned count and threshold."""
    cases: int
    """How many cases hold it."""


class HubRows(Sequence[Hub]):
    """Hubs kept as their ``hubs`` rows, built as :class:`Hub` objects on first use.

    A run finds every hub (tens of thousands at 50 M records) and most callers only count them.
    """

    __hash__ = None  # type: ignore[assignment]  # mutable cache; compared by content

    def __init__(self, table: pa.Table, hub_cases: int) -> None:
        self._table = table
        self._hub_cases = hub_cases
        self._built: list[Hub] | None = None

    @property
    def table(self) -> pa.Table:
        """The rows: identifier, kind, cases, reason, detail (most cases first)."""
        return self._table

    def _hubs(self) -> list[Hub]:
        if self._built is None:
            table = self._table
            names = ("identifier", "kind", "reason", "detail", "cases")
            columns = [table.column(n).to_pylist() for n in names]
            learned = f"(threshold {self._hub_cases})"
            self._built = [
                Hub(i, k, r, f"in {n} cases {learned}" if r == "learned" else d, n)
                for i, k, r, d, n in zip(*columns, strict=True)
            ]
        return self._built

    def __len__(self) -> int:
        return int(self._table.num_rows)

    @overload
    def __getitem__(self, index: int) -> Hub: ...

    @overload
    def __getitem__(self, index: slice) -> list[Hub]: ...

    def __getitem__(self, index: int | slice) -> Hub | list[Hub]:
        return self._hubs()[index]

    def __iter__(self) -> Iterator[Hub]:
        return iter(self._hubs())

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Sequence) and not isinstance(other, str):
            return len(self) == len(other) and self._hubs() == list(other)
        return NotImplemented

    def __repr__(self) -> str:
        return f"HubRows({len(self)} hubs)"


@dataclass(frozen=True)
class Suppression:
    """The resolved suppression lists, as tables the SQL steps join."""

    numbers: pa.Table
    """``(identifier, kind, reason)``: exact canonical values."""
    patterns: pa.Table
    """``(pattern, kind, reason)``: SQL ``LIKE`` patterns on the canonical value."""
    kinds: pa.Table
    """``(kind, reason)``: every identifier of these kinds."""


def load_suppression(settings: LinkSettings) -> Suppression:
    """Read the shipped list and the deployment's file into :class:`Suppression`.

    Raises:
        ConfigError: the deployment file is missing or malformed.

    >>> s = load_suppression(LinkSettings())
    >>> "+18056377249" in s.numbers.column("identifier").to_pylist()
    True
    """
    text = resources.files("tls_core.link").joinpath("common_numbers.toml").read_text()
    docs = [_parse(text, "common_numbers.toml")]
    if settings.common_numbers is not None:
        path = settings.common_numbers
        try:
            docs.append(_parse(path.read_text(encoding="utf-8"), str(path)))
        except OSError as err:
            raise ConfigError(
                f"cannot read the common numbers file: {err}", file=str(path), reason="io"
            ) from err
    numbers: dict[str, list[str]] = {"identifier": [], "kind": [], "reason": []}
    patterns: dict[str, list[str]] = {"pattern": [], "kind": [], "reason": []}
    kinds: dict[str, list[str]] = {"kind": [], "reason": []}
    for doc in docs:
        for kind, reason in doc["kinds"].items():
            kinds["kind"].append(kind)
            kinds["reason"].append(reason)
        for entry in doc["number"]:
            target = patterns if "like" in entry else numbers
            target["pattern" if "like" in entry else "identifier"].append(
                entry.get("like", entry.get("identifier"))
            )
            target["kind"].append(entry["kind"])
            target["reason"].append(entry["reason"])
    return Suppression(pa.table(numbers), pa.table(patterns), pa.table(kinds))


def _parse(text: str, file: str) -> dict[str, Any]:
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"not valid TOML: {err}", file=file, reason="bad_toml") from err
    kinds = doc.get("kinds", {})
    entries = doc.get("number", [])
    if not isinstance(kinds, dict) or not isinstance(entries, list):
        raise ConfigError("expected a [kinds] table and [[number]] entries", file=file)
    for i, entry in enumerate(entries):
        has_one = ("identifier" in entry) != ("like" in entry)
        fields_ok = all(isinstance(entry.get(k), str) for k in ("kind", "reason"))
        if not (isinstance(entry, dict) and has_one and fields_ok):
            raise ConfigError(
                "a [[number]] entry needs kind, reason and one of identifier or like",
                file=file,
                row=i + 1,
                reason="bad_common_number",
            )
    return {"kinds": {str(k): str(v) for k, v in kinds.items()}, "number": entries}
