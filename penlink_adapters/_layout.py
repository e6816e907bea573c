"""Layout files: the declarative description of one carrier layout, parsed and validated.

A layout is a TOML file (see ``docs/layouts.md``). This module turns the user-authored form
(a TOML mapping) into the resolved, frozen :class:`Layout`; every mistake in a layout file is a
:class:`~tls_core.errors.LayoutError` that names the file and the key.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Literal, cast, get_args

from tls_core.errors import LayoutError

__all__ = [
    "CALL_FIELDS",
    "PARTY_FIELDS",
    "DurationFormat",
    "Layout",
    "Probe",
    "RecordType",
    "ZoneRule",
    "load_layout",
    "norm_name",
    "parse_layout",
]

RecordType = Literal["call", "subscriber", "misc"]
"""Which canonical table a layout's rows become."""

ZoneRule = Literal["utc", "local", "offset", "offset_or_local"]
"""How a layout's times relate to UTC: the legend says UTC; local time of a zone the user
declares; each value carries its own offset; or an offset when present, else a declared zone."""

DurationFormat = Literal["seconds", "mm:ss", "hh:mm:ss", "auto"]
"""How a duration is written; ``auto`` accepts seconds, ``MM:SS`` and ``HH:MM:SS``."""

TargetRule = Literal["none", "column", "by_direction", "self"]

CALL_FIELDS: Final[tuple[str, ...]] = (
    "orig",
    "term",
    "dialed",
    "target",
    "self",
    "other",
    "start",
    "date",
    "time",
    "duration",
    "event_type",
    "direction",
    "leg",
    "target_imei",
    "target_imsi",
    "first_cell",
    "first_sector",
    "first_lat",
    "first_lon",
    "last_cell",
    "last_sector",
    "last_lat",
    "last_lon",
    "orig_ip",
)
"""Canonical call-record fields a layout may map a source column to."""

PARTY_FIELDS: Final[tuple[str, ...]] = (
    "identifier",
    "subscriber_name",
    "aliases",
    "address",
    "birth_date",
    "account_id",
    "service_type",
    "imei",
    "imsi",
    "activated",
    "deactivated",
    "legal_process_ref",
    "relationship",
    "source_description",
)
"""Canonical subscriber/misc-record fields a layout may map a source column to."""

_CANONICAL_EVENTS: Final = frozenset({"voice", "sms", "mms", "data", "forwarded", "voicemail"})
_CANONICAL_DIRECTIONS: Final = frozenset({"outgoing", "incoming", "routed", "unknown"})


def norm_name(name: str) -> str:
    """Return a header name folded for comparison: lower case, alphanumerics only.

    Examples:
        >>> norm_name(" (UTC) Time ")
        'utctime'
    """
    return re.sub(r"[^0-9a-z]+", "", name.lower())


@dataclass(frozen=True)
class Probe:
    """A content test for headerless files: a share of rows whose column matches a pattern."""

    column: str
    """Column name (from the layout's ``names``)."""
    pattern: str
    """Regular expression that the whole (unquoted) value must match."""
    min_share: float = 0.8
    """Share of sampled data rows that must match for the probe to pass."""


@dataclass(frozen=True)
class Layout:
    """One carrier layout, resolved from its TOML file."""

    name: str
    """Registry name, e.g. ``tmobile``."""
    version: str
    """Layout version (the carrier legend's version where there is one)."""
    title: str
    """Human title."""
    record_type: RecordType
    """Which canonical table the rows become."""
    verified: bool
    """False for layouts built without a public legend (configurable starting points)."""
    confidence: str
    """Confidence in the layout's facts: high, medium, low or unknown."""
    refuse: str | None
    """If set, a file of this layout is recognized and refused with this explanation."""
    delimiters: tuple[str, ...]
    """Candidate field delimiters, tried in order."""
    header: bool
    """Whether a header row names the columns."""
    header_lines: int
    """Number of header lines (CUCM: names, then types)."""
    max_preamble: int
    """Rows that may precede the header (logos, report titles)."""
    names: tuple[str, ...]
    """Headerless layouts: the column names in file order."""
    field_counts: tuple[int, ...]
    """Headerless layouts: accepted numbers of fields per row (``names`` is truncated)."""
    required: tuple[str, ...]
    """Header names that must be present (fingerprint)."""
    known: tuple[str, ...]
    """Other header names that belong to the layout (not reported as drift)."""
    optional: tuple[str, ...]
    """Mapped columns whose absence is not drift (``["*"]``: every column not required)."""
    open_header: bool
    """Releases add columns (CUCM): unknown columns are neither drift nor penalized."""
    probes: tuple[Probe, ...]
    """Content probes for headerless files."""
    columns: Mapping[str, tuple[str, ...]]
    """Canonical field -> accepted source column names (aliases), first match wins."""
    call_group: tuple[str, ...]
    """Source columns whose values, joined by ``-``, group the legs of one call."""
    zone: ZoneRule
    """Time-zone rule."""
    time_formats: tuple[str, ...]
    """``strptime`` formats of the start time (date and time joined by one space)."""
    epoch: bool
    """Start time is UTC epoch seconds."""
    date_formats: tuple[str, ...]
    """Formats of date-only fields (birth dates) in subscriber layouts."""
    duration_format: DurationFormat
    """How durations are written."""
    nulls: tuple[str, ...]
    """Values meaning "no value" in every column (compared after stripping blanks)."""
    column_nulls: Mapping[str, tuple[str, ...]]
    """Extra null sentinels per canonical field (Sprint and CUCM ``0``)."""
    direction_map: Mapping[str, str]
    """Folded raw direction code -> canonical direction."""
    event_map: Mapping[str, str]
    """Folded raw event code -> canonical event type."""
    event_default: str | None
    """Event type of rows whose code is missing or unmapped (switch CDRs are all calls)."""
    event_direction: Mapping[str, str]
    """Folded raw event code -> direction it implies (T-Mobile ``mSOriginating``)."""
    target_rule: TargetRule
    """Where the target's identifier is: none, a ``target`` column, orig/term by direction,
    or the ``self`` party column."""
    target_by_direction: Mapping[str, str]
    """For ``by_direction``: canonical direction -> canonical identifier field."""
    region: str
    """Region for national numbers (ISO 3166 alpha-2)."""
    service_events: Mapping[str, str]
    """Digits of a called number -> event type (voicemail pseudo-numbers)."""
    hooks: tuple[str, ...]
    """Named Python hooks from :mod:`penlink_adapters._quirks` for what data cannot say."""
    content_columns: tuple[str, ...]
    """Content-of-communication columns: dropped, and the drop reported."""
    list_separator: str
    """Separator of list values (subscriber aliases)."""
    path: str
    """The TOML file the layout came from."""
    notes: str = ""
    """Free text: sources, caveats."""

    @property
    def label(self) -> str:
        """``name@version``."""
        return f"{self.name}@{self.version}"

    def source_names(self) -> tuple[str, ...]:
        """Every source column name the layout knows (mapped, required or known)."""
        mapped = [n for names in self.columns.values() for n in names]
        return tuple(dict.fromkeys([*self.required, *mapped, *self.call_group, *self.known]))


def load_layout(path: str | Path) -> Layout:
    """Load and validate one layout TOML file.

    Args:
        path: The ``.toml`` file.

    Returns:
        The resolved layout.

    Raises:
        LayoutError: the file cannot be read, is not TOML, or breaks a rule of the format.
    """
    p = Path(path)
    try:
        data = tomllib.loads(p.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise LayoutError(f"cannot read layout file: {exc}", file=str(p)) from None
    return parse_layout(data, source=str(p))


def parse_layout(data: Mapping[str, Any], *, source: str = "<memory>") -> Layout:
    """Resolve the user-authored mapping of a layout file into a :class:`Layout`.

    Raises:
        LayoutError: naming the offending key.
    """
    r = _Reader(data, source)
    _check_keys(r)
    meta = r.table("layout")
    fmt = r.table("format")
    fp = r.table("fingerprint")
    time = r.table("time")
    record_type = r.choice(meta, "layout.record_type", get_args(RecordType), "call")
    header = r.get(fmt, "format.header", bool, True)
    names = r.strs(fmt, "format.names")
    if not header and not names:
        raise r.error("format.names", "a headerless layout must list its column names")
    columns = _columns(r, record_type)
    if not header:
        for fld, aliases in columns.items():
            for alias in aliases:
                if alias not in names:
                    raise r.error(f"columns.{fld}", f"{alias!r} is not in format.names")
    zone = r.choice(time, "time.zone", get_args(ZoneRule), "local")
    return Layout(
        name=r.get(meta, "layout.name", str),
        version=str(r.get(meta, "layout.version", str)),
        title=r.get(meta, "layout.title", str, ""),
        record_type=cast(RecordType, record_type),
        verified=r.get(meta, "layout.verified", bool, True),
        confidence=r.get(meta, "layout.confidence", str, "unknown"),
        refuse=r.get(meta, "layout.refuse", str, "") or None,
        delimiters=r.strs(fmt, "format.delimiters") or (",",),
        header=header,
        header_lines=r.get(fmt, "format.header_lines", int, 1 if header else 0),
        max_preamble=r.get(fmt, "format.max_preamble", int, 0),
        names=names,
        field_counts=tuple(r.get(fmt, "format.field_counts", list, [len(names)])),
        required=r.strs(fp, "fingerprint.required"),
        known=r.strs(fp, "fingerprint.known"),
        optional=r.strs(fp, "fingerprint.optional"),
        open_header=r.get(fp, "fingerprint.open", bool, False),
        probes=_probes(r, fp, names),
        columns=columns,
        call_group=r.strs(r.table("call_group"), "call_group.columns"),
        zone=cast(ZoneRule, zone),
        time_formats=r.strs(time, "time.formats"),
        epoch=r.get(time, "time.epoch", bool, False),
        date_formats=r.strs(time, "time.date_formats") or ("%Y-%m-%d",),
        duration_format=cast(
            DurationFormat,
            r.choice(r.table("duration"), "duration.format", get_args(DurationFormat), "auto"),
        ),
        nulls=r.strs(r.table("nulls"), "nulls.values") or ("",),
        column_nulls=_str_lists(r, r.table("nulls").get("columns", {}), "nulls.columns"),
        direction_map=_code_map(r, "direction", _CANONICAL_DIRECTIONS),
        event_map=_code_map(r, "event_type", _CANONICAL_EVENTS),
        event_default=_event_default(r),
        event_direction=_fold_keys(
            _str_map(r, r.table("event_type").get("direction", {}), "event_type.direction")
        ),
        target_rule=cast(
            TargetRule,
            r.choice(r.table("target"), "target.rule", get_args(TargetRule), "none"),
        ),
        target_by_direction=_str_map(
            r, r.table("target").get("by_direction", {}), "target.by_direction"
        ),
        region=r.get(r.table("numbers"), "numbers.region", str, "US"),
        service_events=_str_map(
            r, r.table("numbers").get("service_events", {}), "numbers.service_events"
        ),
        hooks=r.strs(r.table("quirks"), "quirks.hooks"),
        content_columns=r.strs(r.table("content"), "content.columns"),
        list_separator=r.get(fmt, "format.list_separator", str, ";"),
        path=source,
        notes=r.get(meta, "layout.notes", str, ""),
    )


class _Reader:
    """Typed access to the TOML mapping, raising :class:`LayoutError` with the key."""

    def __init__(self, data: Mapping[str, Any], source: str) -> None:
        self.data = data
        self.source = source

    def error(self, key: str, message: str) -> LayoutError:
        return LayoutError(
            f"layout key {key}: {message}",
            file=self.source,
            column=key,
            reason="bad_layout",
            hint="see docs/layouts.md for the layout file format",
        )

    def table(self, key: str) -> Mapping[str, Any]:
        value = self.data.get(key, {})
        if not isinstance(value, Mapping):
            raise self.error(key, "must be a table")
        return value

    def get(self, table: Mapping[str, Any], key: str, kind: type, *default: Any) -> Any:
        leaf = key.rsplit(".", 1)[-1]
        if leaf not in table:
            if default:
                return default[0]
            raise self.error(key, "is required")
        value = table[leaf]
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            raise self.error(key, f"must be {kind.__name__}, not {type(value).__name__}")
        return value

    def strs(self, table: Mapping[str, Any], key: str) -> tuple[str, ...]:
        value = self.get(table, key, list, [])
        if not all(isinstance(v, str) for v in value):
            raise self.error(key, "must be a list of strings")
        return tuple(value)

    def choice(
        self, table: Mapping[str, Any], key: str, options: tuple[str, ...], default: str
    ) -> str:
        value = self.get(table, key, str, default)
        if value not in options:
            raise self.error(key, f"is {value!r}; expected one of {', '.join(options)}")
        return str(value)


def _columns(r: _Reader, record_type: str) -> dict[str, tuple[str, ...]]:
    allowed = CALL_FIELDS if record_type == "call" else PARTY_FIELDS
    out: dict[str, tuple[str, ...]] = {}
    for fld, spec in r.table("columns").items():
        if fld not in allowed:
            raise r.error(f"columns.{fld}", f"unknown canonical field; expected {allowed}")
        if isinstance(spec, str):
            out[fld] = (spec,)
        elif isinstance(spec, list) and spec and all(isinstance(s, str) for s in spec):
            out[fld] = tuple(spec)
        else:
            raise r.error(f"columns.{fld}", "must be a column name or a list of aliases")
    return out


def _probes(r: _Reader, fp: Mapping[str, Any], names: tuple[str, ...]) -> tuple[Probe, ...]:
    out = []
    for i, raw in enumerate(r.get(fp, "fingerprint.probes", list, [])):
        key = f"fingerprint.probes[{i}]"
        if not isinstance(raw, Mapping) or not {"column", "pattern"} <= raw.keys():
            raise r.error(key, "needs column and pattern")
        if raw["column"] not in names:
            raise r.error(key, f"column {raw['column']!r} is not in format.names")
        try:
            re.compile(raw["pattern"])
        except re.error as exc:
            raise r.error(key, f"bad pattern: {exc}") from None
        out.append(Probe(str(raw["column"]), str(raw["pattern"]), float(raw.get("min_share", 0.8))))
    return tuple(out)


def _str_map(r: _Reader, value: Any, key: str) -> dict[str, str]:
    if not isinstance(value, Mapping) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    ):
        raise r.error(key, "must be a table of strings")
    return dict(value)


def _str_lists(r: _Reader, value: Any, key: str) -> dict[str, tuple[str, ...]]:
    if not isinstance(value, Mapping):
        raise r.error(key, "must be a table of string lists")
    out = {}
    for k, v in value.items():
        if not isinstance(v, list) or not all(isinstance(s, str) for s in v):
            raise r.error(f"{key}.{k}", "must be a list of strings")
        out[str(k)] = tuple(v)
    return out


def _fold_keys(mapping: Mapping[str, str]) -> dict[str, str]:
    return {k.strip().lower(): v for k, v in mapping.items()}


def _code_map(r: _Reader, table: str, allowed: frozenset[str]) -> dict[str, str]:
    mapping = _str_map(r, r.table(table).get("map", {}), f"{table}.map")
    for code, value in mapping.items():
        if value not in allowed:
            raise r.error(f"{table}.map.{code}", f"{value!r} is not one of {sorted(allowed)}")
    return _fold_keys(mapping)


def _event_default(r: _Reader) -> str | None:
    value = r.get(r.table("event_type"), "event_type.default", str, "")
    if value and value not in _CANONICAL_EVENTS:
        raise r.error("event_type.default", f"{value!r} is not one of {sorted(_CANONICAL_EVENTS)}")
    return str(value) or None


_KEYS: Final[dict[str, frozenset[str]]] = {
    "layout": frozenset(
        {"name", "version", "title", "record_type", "verified", "confidence", "refuse", "notes"}
    ),
    "format": frozenset(
        {"delimiters", "header", "header_lines", "max_preamble", "names", "field_counts"}
        | {"list_separator"}
    ),
    "fingerprint": frozenset({"required", "optional", "known", "open", "probes"}),
    "columns": frozenset(CALL_FIELDS + PARTY_FIELDS),
    "call_group": frozenset({"columns"}),
    "time": frozenset({"zone", "formats", "epoch", "date_formats"}),
    "duration": frozenset({"format"}),
    "nulls": frozenset({"values", "columns"}),
    "direction": frozenset({"map"}),
    "event_type": frozenset({"map", "direction", "default"}),
    "target": frozenset({"rule", "by_direction"}),
    "numbers": frozenset({"region", "service_events"}),
    "quirks": frozenset({"hooks"}),
    "content": frozenset({"columns"}),
}


def _check_keys(r: _Reader) -> None:
    """A misspelt key would silently change a layout: refuse unknown tables and keys."""
    for table, value in r.data.items():
        if table not in _KEYS:
            raise r.error(table, f"unknown table; expected one of {', '.join(_KEYS)}")
        if isinstance(value, Mapping):
            for key in value:
                if key not in _KEYS[table]:
                    raise r.error(f"{table}.{key}", "unknown key")
