"""The TLS interchange format: canonical tables as Parquet plus a JSON manifest.

A package is a directory holding one Parquet file per table and ``manifest.json`` (schema
version, record type, row counts, SHA-256 of each file); see ``docs/interchange.md``. Export
then import is the identity: same schema (with metadata), same rows, same order.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import pyarrow as pa
import pyarrow.parquet as pq

from penlink_adapters._source import sha256_of
from tls_core.errors import ReadError
from tls_core.schema import SCHEMA_VERSION, SCHEMAS, check_table

__all__ = ["FORMAT", "MANIFEST_NAME", "InterchangeFile", "read_interchange", "write_interchange"]

FORMAT: Final = "tls-interchange"
MANIFEST_NAME: Final = "manifest.json"
FORMAT_VERSION: Final = "1"


@dataclass(frozen=True)
class InterchangeFile:
    """One table of a package, as the manifest lists it."""

    file: str
    """File name inside the package directory."""
    record_type: str
    """Canonical schema name (``call_records``, ``rejects``, ...)."""
    rows: int
    """Number of rows."""
    sha256: str
    """Hex SHA-256 of the file's bytes."""


def write_interchange(
    folder: str | Path, tables: Mapping[str, pa.Table], *, producer: str = "tls"
) -> list[InterchangeFile]:
    """Write canonical tables as an interchange package.

    Args:
        folder: Target directory (created; files of the same names are replaced).
        tables: Table name (the file stem) -> a table of a canonical schema.
        producer: Recorded in the manifest.

    Returns:
        The manifest entries.

    Raises:
        SchemaError: a table does not conform to the canonical schema its metadata names.
    """
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    entries = []
    for stem, table in tables.items():
        name = _schema_name(table)
        checked = check_table(table, SCHEMAS[name])
        path = out / f"{stem}.parquet"
        pq.write_table(checked, path)
        entries.append(InterchangeFile(path.name, name, checked.num_rows, sha256_of(path)))
    manifest = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "schema_version": SCHEMA_VERSION,
        "producer": producer,
        "files": [e.__dict__ for e in entries],
    }
    (out / MANIFEST_NAME).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return entries


def read_interchange(folder: str | Path) -> dict[str, pa.Table]:
    """Read and verify an interchange package.

    Returns:
        Table name (file stem) -> table, each checked against its canonical schema.

    Raises:
        ReadError: missing or malformed manifest, a file missing, or a SHA-256, row count,
            schema version or record type that does not match.
    """
    root = Path(folder)
    manifest = _manifest(root)
    tables = {}
    for raw in manifest["files"]:
        entry = InterchangeFile(**raw)
        path = root / entry.file
        if not path.is_file() or sha256_of(path) != entry.sha256:
            raise ReadError(
                "file missing or altered since export (SHA-256 differs)",
                file=str(path),
                reason="integrity",
            )
        if entry.record_type not in SCHEMAS:
            raise ReadError(f"unknown record type {entry.record_type!r}", file=str(path))
        table = check_table(pq.read_table(path), SCHEMAS[entry.record_type], file=str(path))
        if table.num_rows != entry.rows:
            raise ReadError("row count differs from the manifest", file=str(path))
        tables[Path(entry.file).stem] = table
    return tables


def _manifest(root: Path) -> dict[str, Any]:
    path = root / MANIFEST_NAME
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ReadError(f"cannot read manifest: {exc}", file=str(path)) from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise ReadError("not a TLS interchange manifest", file=str(path))
    if data.get("schema_version") != SCHEMA_VERSION:
        raise ReadError(
            f"schema version {data.get('schema_version')!r}, this TLS reads {SCHEMA_VERSION!r}",
            file=str(path),
            reason="schema_version",
        )
    return data


def _schema_name(table: pa.Table) -> str:
    meta = table.schema.metadata or {}
    name = str(meta.get(b"tls.schema", b"").decode())
    if name not in SCHEMAS:
        raise ReadError(f"table has no canonical schema metadata (found {name!r})")
    return name
