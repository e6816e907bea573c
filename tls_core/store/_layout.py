"""Where things live in a repository directory, and the stored schemas of its tables.

Every path is derived from a validated id or hash; nothing a user or a file says becomes a path.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Final, Literal, get_args

import pyarrow as pa

from tls_core.errors import ConfigError, IntegrityError, StoreError
from tls_core.schema import CALL_RECORDS, MISC_RECORDS, REJECTS, SUBSCRIBER_RECORDS

__all__ = [
    "RECORD_TABLES",
    "STORED_SCHEMAS",
    "TABLES",
    "Layout",
    "RecordType",
    "TableName",
    "check_case_id",
    "check_hex_id",
    "check_sha256",
    "file_name",
    "is_store_file_name",
    "parse_file_name",
]

RecordType = Literal["call", "subscriber", "misc"]
"""Which TLS record type a batch holds: call detail, subscriber (verified) or misc (unverified)."""

TableName = Literal[
    "call_records",
    "subscriber_records",
    "misc_records",
    "rejects",
    "record_refs",
    "case_batches",
    "registry",
]
"""The Delta tables of a repository (see ``docs/storage.md``)."""

TABLES: Final[tuple[TableName, ...]] = get_args(TableName)
RECORD_TABLES: Final[dict[RecordType, TableName]] = {
    "call": "call_records",
    "subscriber": "subscriber_records",
    "misc": "misc_records",
}
FORMAT_VERSION: Final = "1"

_UTC = pa.timestamp("us", tz="UTC")
_HEX32 = re.compile(r"[0-9a-f]{32}")
_HEX64 = re.compile(r"[0-9a-f]{64}")
_FILE = re.compile(r"([0-9a-f]{32})-([0-9a-f]{64})\.parquet")
_CASE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:/-]{0,127}")


def _with_owner(schema: pa.Schema) -> pa.Schema:
    # The store adds the batch id as a real column (not a Hive partition) so that every data
    # file says which batch it belongs to, in its name and in its rows.
    return schema.append(pa.field("batch_id", pa.string(), nullable=False))


STORED_SCHEMAS: Final[dict[TableName, pa.Schema]] = {
    "call_records": _with_owner(CALL_RECORDS),
    "subscriber_records": _with_owner(SUBSCRIBER_RECORDS),
    "misc_records": _with_owner(MISC_RECORDS),
    "rejects": _with_owner(REJECTS),
    "record_refs": pa.schema(
        [
            pa.field("record_id", pa.string(), nullable=False),
            pa.field("batch_id", pa.string(), nullable=False),
        ]
    ),
    "case_batches": pa.schema(
        [
            pa.field("batch_id", pa.string(), nullable=False),
            pa.field("case_id", pa.string(), nullable=False),
            pa.field("linked", pa.bool_(), nullable=False),
            pa.field("op_id", pa.string(), nullable=False),
            pa.field("at_utc", _UTC, nullable=False),
        ]
    ),
    "registry": pa.schema(
        [
            pa.field("op_id", pa.string(), nullable=False),
            pa.field("op", pa.string(), nullable=False),
            pa.field("batch_id", pa.string(), nullable=False),
            pa.field("record_type", pa.string()),
            pa.field("source_sha256", pa.string()),
            pa.field("source_name", pa.string()),
            pa.field("case_ids", pa.list_(pa.string())),
            pa.field("actor", pa.string(), nullable=False),
            pa.field("at_utc", _UTC, nullable=False),
            pa.field("loaded", pa.int64()),
            pa.field("duplicates", pa.int64()),
            pa.field("rejected", pa.int64()),
        ]
    ),
}
"""Schema of each table as stored: the canonical columns plus what the store needs."""


@dataclass(frozen=True)
class Layout:
    """The paths of one repository directory."""

    root: Path
    """The repository directory (resolved, absolute)."""

    @property
    def internal(self) -> Path:
        """``_tls/``: format marker, lock file and staging area (never read as data)."""
        return self.root / "_tls"

    @property
    def lock_file(self) -> Path:
        """The advisory lock that serializes commits."""
        return self.internal / "lock"

    @property
    def staging(self) -> Path:
        """Files being written by a commit that has not published them yet."""
        return self.internal / "staging"

    @property
    def cache(self) -> Path:
        """``_tls/cache/``: derived, rebuildable caches (search index, link state); never data."""
        return self.internal / "cache"

    @property
    def format_file(self) -> Path:
        """Says that this directory is a TLS repository, and of which format version."""
        return self.internal / "format"

    def table(self, name: TableName) -> Path:
        """Directory of one Delta table."""
        return self.root / "tables" / name

    def data_file(self, table: TableName, name: str) -> Path:
        """Absolute path of a data file of ``table``, refusing anything but a store file name.

        Raises:
            IntegrityError: the name is not ``<owner>-<sha256>.parquet`` (``../``, absolute
                paths, foreign files) or the path is a symlink.
        """
        parse_file_name(name, table=table)
        path = self.table(table) / name
        if path.is_symlink():
            raise IntegrityError("a data file is a symbolic link", file=str(path), reason="symlink")
        return path

    def check_no_symlinks(self) -> None:
        """Refuse a repository whose own directories are symlinks planted inside it.

        Raises:
            IntegrityError: naming the first symlink found.
        """
        for path in (self.internal, self.root / "tables", *(self.table(t) for t in TABLES)):
            if path.is_symlink():
                raise IntegrityError(
                    "a repository directory is a symbolic link", file=str(path), reason="symlink"
                )
            log = path / "_delta_log"
            if log.is_symlink():
                raise IntegrityError(
                    "a transaction log is a symbolic link", file=str(log), reason="symlink"
                )


def is_store_file_name(name: str) -> bool:
    """True when ``name`` is ``<owner>-<sha256>.parquet``, the only name the store writes."""
    return _FILE.fullmatch(name) is not None


def file_name(owner_id: str, sha256: str) -> str:
    """Name of a data file: its owner (batch or operation id) and its content hash."""
    return f"{check_hex_id(owner_id)}-{check_sha256(sha256)}.parquet"


def parse_file_name(name: str, *, table: str) -> tuple[str, str]:
    """Return ``(owner_id, sha256)`` of a store file name.

    Raises:
        IntegrityError: the name is not one the store writes.
    """
    match = _FILE.fullmatch(name)
    if match is None or os.sep in name:
        raise IntegrityError(
            f"the {table} log names a file the store never writes",
            file=name,
            reason="foreign_path",
            hint="the transaction log was edited or a foreign file was committed",
        )
    return match.group(1), match.group(2)


def check_hex_id(value: str) -> str:
    """Return ``value`` if it is a batch or operation id (32 lowercase hex digits).

    Raises:
        ConfigError: otherwise.
    """
    if not isinstance(value, str) or _HEX32.fullmatch(value) is None:
        raise ConfigError(
            "not a batch id (32 lowercase hex digits)", value=str(value), reason="bad_batch_id"
        )
    return value


def check_sha256(value: str) -> str:
    """Return ``value`` if it is a hex SHA-256 (64 lowercase hex digits).

    Raises:
        ConfigError: otherwise.
    """
    if not isinstance(value, str) or _HEX64.fullmatch(value) is None:
        raise ConfigError(
            "not a SHA-256 (64 lowercase hex digits)", value=str(value), reason="bad_sha256"
        )
    return value


def check_case_id(value: str) -> str:
    """Return ``value`` if it is a plausible case id (1-128 printable ASCII, no spaces).

    Raises:
        ConfigError: otherwise.
    """
    if not isinstance(value, str) or _CASE.fullmatch(value) is None:
        raise ConfigError(
            "not a case id (letters, digits and . _ : / -, at most 128)",
            value=str(value),
            reason="bad_case_id",
        )
    return value


def resolve_root(path: str | os.PathLike[str], *, create: bool) -> Layout:
    """Resolve and check the repository directory.

    Raises:
        StoreError: it does not exist and ``create`` is false, or it is not a directory.
    """
    root = Path(path).absolute()
    if root.exists() and not root.is_dir():
        raise StoreError("the repository path is not a directory", file=str(root))
    if not root.exists():
        if not create:
            raise StoreError(
                "no repository here", file=str(root), reason="no_repository", hint="create it"
            )
        root.mkdir(parents=True)
    return Layout(root.resolve())
