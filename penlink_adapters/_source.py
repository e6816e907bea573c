"""Opening a return file: fingerprint (SHA-256), encoding, and a stream of raw rows.

Text files are decoded as UTF-8 (with or without BOM), UTF-16 (with BOM, or without one when
NUL bytes betray it) or, when the bytes are not UTF-8, cp1252. Rows come from the standard
``csv`` module, which handles quoted multi-line cells, ``""`` escapes and CRLF/LF alike; each row
carries the 1-based physical line where it starts. XLSX workbooks are read through polars with
fastexcel, every cell as text, so that identifiers keep their leading zeros.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
import os
import threading
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import numpy as np

from tls_core.errors import ReadError

__all__ = ["Row", "SourceInfo", "inspect_source", "iter_rows", "sample_text", "sha256_of"]

Row = tuple[int, list[str]]
"""A raw row: the 1-based line (or sheet row) where it starts, and its fields as text."""

_BLOCK: Final = 1 << 20
_SCAN_BLOCK: Final = 1 << 22
_ZIP_MAGIC: Final = b"PK\x03\x04"


@dataclass(frozen=True)
class SourceInfo:
    """What a first pass over the bytes of a file tells."""

    path: str
    """The file."""
    sha256: str
    """Hex SHA-256 of the file's bytes."""
    size: int
    """Size in bytes."""
    encoding: str
    """Python codec used to decode it (``xlsx`` for workbooks)."""
    plain: bool = False
    """UTF-8 text without quote characters, NUL bytes or lone CRs: one row is one line."""


def inspect_source(
    path: str | Path, *, sha256: str | None = None, hash_now: bool = True
) -> SourceInfo:
    """Hash the file and choose its encoding in one streaming pass.

    ``sha256``: the caller vouches for the content hash (it hashed the file itself): it is
    taken as is and the file is not hashed again (issue 5). ``hash_now=False``: the file is
    not hashed and ``sha256`` is left empty: the caller hashes it (:func:`sha256_of`) meanwhile.

    Raises:
        ReadError: the file cannot be opened.
    """
    p = Path(path)
    digest = hashlib.sha256()
    hash_it = sha256 is None and hash_now
    try:
        with p.open("rb", buffering=0) as fh:
            # Reads and buffers no larger than the file (fresh memory is zeroed page by page).
            stat_size = os.fstat(fh.fileno()).st_size
            head = fh.read(min(_BLOCK, max(stat_size, 1)))
            encoding = _bom_encoding(head)
            decoder = codecs.getincrementaldecoder("utf-8")() if encoding is None else None
            plain = encoding in (None, "utf-8-sig")
            cr = False
            # Blocks are read into two buffers in turn (no fresh memory per block): SHA-256
            # releases the GIL on large buffers, so one is hashed in a thread while the other
            # is read and checked (one block in flight, hashed in file order).
            room = min(_SCAN_BLOCK, max(stat_size - len(head), 1))
            buffers = [memoryview(bytearray(room)) for _ in range(2 if hash_it else 1)]
            block, turn = memoryview(head), 0
            with ThreadPoolExecutor(max_workers=1) as hasher:
                hashing: Future[None] | None = None
                while len(block):
                    if hashing is not None:
                        hashing.result()
                    if hash_it:
                        hashing = hasher.submit(digest.update, block)
                    if plain or decoder is not None:
                        plain_here, ascii_here = _check(block, cr)
                        plain = plain and plain_here
                        cr = block[-1] == 13
                        if decoder is not None and not (ascii_here and not decoder.getstate()[0]):
                            try:
                                decoder.decode(bytes(block))
                            except UnicodeDecodeError:
                                decoder = None
                                encoding = "cp1252"
                    into = buffers[turn]
                    turn = (turn + 1) % len(buffers)
                    block = into[: fh.readinto(into)]
                if hashing is not None:
                    hashing.result()
            if decoder is not None:
                try:
                    decoder.decode(b"", final=True)  # a truncated last character
                except UnicodeDecodeError:
                    encoding = "cp1252"
            size = fh.tell()
    except OSError as exc:
        raise ReadError(f"cannot read file: {exc.strerror}", file=str(p), reason="io") from None
    if encoding is None:
        encoding = "utf-8"
    plain = plain and encoding in ("utf-8", "utf-8-sig")
    if sha256 is None:
        sha256 = digest.hexdigest() if hash_now else ""
    return SourceInfo(str(p), sha256, size, encoding, plain)


def sha256_of(path: str | Path, *, stop: threading.Event | None = None) -> str:
    """The hex SHA-256 of a file's bytes (read in blocks; SHA-256 releases the GIL).

    ``stop``: when set, hashing ends early and the result is empty (no one wants it).

    Raises:
        ReadError: the file cannot be read.
    """
    digest = hashlib.sha256()
    block = bytearray(_SCAN_BLOCK)
    view = memoryview(block)
    try:
        with open(path, "rb", buffering=0) as fh:
            while n := fh.readinto(view):
                if stop is not None and stop.is_set():
                    return ""
                digest.update(view[:n])
    except OSError as exc:
        raise ReadError(f"cannot read file: {exc.strerror}", file=str(path), reason="io") from None
    return digest.hexdigest()


def _check(block: bytes | memoryview, after_cr: bool) -> tuple[bool, bool]:
    """Whether a block can be plain, and whether it is ASCII (one numba pass).

    Plain: no quote, no NUL and no CR outside CRLF (``after_cr``: the last block ended with
    CR); see :func:`penlink_adapters._kernels.plain_block_kernel`.
    """
    from penlink_adapters._kernels import plain_block_kernel

    plain, ascii_only = plain_block_kernel(np.frombuffer(block, dtype=np.uint8), after_cr)
    return bool(plain), bool(ascii_only)


def _bom_encoding(head: bytes) -> str | None:
    if head.startswith(_ZIP_MAGIC):
        return "xlsx"
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    sample = head[:4096]
    if len(sample) >= 4 and sample.count(b"\x00") >= len(sample) // 3:
        # UTF-16 without a BOM: every other byte of ASCII text is NUL.
        return "utf-16-le" if sample[1::2].count(0) > sample[0::2].count(0) else "utf-16-be"
    return None


def sample_text(info: SourceInfo, *, max_chars: int = 65536) -> str:
    """Return the first ``max_chars`` characters of a text file, decoded."""
    if info.encoding == "xlsx":
        return ""
    with open(info.path, "rb") as fh:
        head = fh.read(max_chars * 4)
    # bytes.decode replaces a character cut at the end; a text stream would raise.
    return head.decode(info.encoding, errors="replace")[:max_chars]


def iter_rows(info: SourceInfo, delimiter: str) -> Iterator[Row]:
    """Yield every row of the file with the line (or sheet row) where it starts.

    Raises:
        ReadError: the file is not well-formed delimited text (or a readable workbook).
    """
    if info.encoding == "xlsx":
        yield from _iter_xlsx(info)
        return
    with _open_text(info) as fh:
        reader = csv.reader(fh, delimiter=delimiter, quotechar='"', doublequote=True, strict=False)
        start = 1
        try:
            for fields in reader:
                yield start, fields
                start = reader.line_num + 1
        except (csv.Error, UnicodeDecodeError) as exc:
            raise ReadError(
                f"malformed delimited text: {exc}",
                file=info.path,
                row=start,
                reason="bad_file",
                hint="check the delimiter and quoting, or pass --layout",
            ) from None


def sample_rows(info: SourceInfo, delimiter: str, *, limit: int = 80) -> list[Row]:
    """Return up to ``limit`` rows from the start of the file (for detection)."""
    if info.encoding == "xlsx":
        out = []
        for row in _iter_xlsx(info):
            out.append(row)
            if len(out) >= limit:
                break
        return out
    text = sample_text(info)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=False)
    rows: list[Row] = []
    start = 1
    try:
        for fields in reader:
            rows.append((start, fields))
            start = reader.line_num + 1
            if len(rows) >= limit:
                break
    except csv.Error:
        pass
    return rows


def _open_text(info: SourceInfo) -> io.TextIOWrapper:
    # newline="" lets csv see the CRLF/LF inside quoted cells as written.
    errors = "replace" if info.encoding == "cp1252" else "strict"
    return open(info.path, encoding=info.encoding, errors=errors, newline="")


def _iter_xlsx(info: SourceInfo) -> Iterator[Row]:
    try:
        import polars as pl

        frame = pl.read_excel(
            info.path,
            sheet_id=1,
            has_header=False,
            infer_schema_length=0,
            raise_if_empty=False,
        )
    except ImportError as exc:
        raise ReadError(
            f"reading XLSX needs the fastexcel package ({exc})",
            file=info.path,
            reason="missing_dependency",
            hint="pip install fastexcel",
        ) from None
    except Exception as exc:  # fastexcel raises its own untyped errors
        raise ReadError(f"cannot read workbook: {exc}", file=info.path, reason="bad_file") from None
    frame = frame.select(frame.columns).cast(pl.String)
    for i, values in enumerate(frame.iter_rows(), start=1):
        yield i, ["" if v is None else str(v) for v in values]
