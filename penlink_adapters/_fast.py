"""The vectorized path for *plain* text files: UTF-8, no quote character, LF or CRLF.

Without quotes a row is exactly one line and a field is exactly the text between delimiters,
so lines and fields can be cut out of the bytes in bulk (a numba kernel,
:mod:`penlink_adapters._block_kernel`: no Python object per line) while every accounting rule of the
row-by-row path (:class:`penlink_adapters._rows.RowSorter`) still holds: the same line numbers,
the same non-record rules (candidates are found vectorized, then decided by the same Python
function), the same duplicate rule (identical lines) and the same field-count rule. Files that
are not plain, or whose delimiter is not one byte, take the row-by-row path.

A block is cut in place and sorted by one fused kernel pass (:mod:`penlink_adapters._plain_cut`);
only a block with a CR elsewhere than before a LF is cut from a copy without any CR, by the
same kernel and rules (:func:`~penlink_adapters._plain_cut.copy_lines`), so one file may mix
both kinds of blocks.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Final

import numpy as np

from penlink_adapters._line_set import LIMIT, LineSet
from penlink_adapters._plain_cut import PAD, Cut, CutSpec, copy_lines, cut_padded, sort_cut
from penlink_adapters._recycle import BLOCKS
from penlink_adapters._rows import Chunk, RowSorter
from penlink_adapters._source import SourceInfo, iter_rows

__all__ = ["iter_plain_chunks"]

_BLOCK: Final = 1 << 24
"""The most bytes read into one block."""
_FIRST_BLOCK: Final = 1 << 20
"""The bytes of a file's first block, whose lines give the mean line length."""
_FILL: Final = 0.98
"""The share of a chunk's rows that a block is sized to hold (see :func:`_block_size`)."""


def iter_plain_chunks(info: SourceInfo, sorter: RowSorter) -> Iterator[Chunk]:
    """Yield record chunks of a plain file, counting every other line on ``sorter``."""
    if sorter.plan.delimiter in "\r\n":  # a line end: lines cannot be cut at it in bulk
        yield from sorter.chunks(iter_rows(info, sorter.plan.delimiter))
        return
    position = 0
    seen: LineSet | None = None
    try:
        for first_line, lines in _line_blocks(info, sorter.chunk_rows, CutSpec.of(sorter.plan)):
            if seen is None:
                seen = LineSet(_expected_capacity(info.size, lines), source=info.path)
            head = 0
            header_end = _header_end(sorter)
            heads = lines.head(max(0, header_end - position))
            while head < len(heads):
                fields = heads[head].split(sorter.plan.delimiter)
                kind = sorter.head_kind(position + head, fields)
                if kind is not None:
                    sorter.skipped[kind] += 1
                head += 1
            sorter.total += head
            position += head
            body = lines.slice(head, len(lines) - head)
            if len(body):
                chunk = sort_cut(sorter, body, first_line + head, seen)
                position += len(body)
                if chunk is not None:
                    yield chunk
    finally:
        if seen is not None:
            seen.close()


def _expected_capacity(size: int, lines: Cut) -> int:
    """A line-set size for the whole file, guessed from its first lines (at most its limit).

    Sized once rather than grown by doubling: no rehash of the lines seen so far. The set
    still grows past the guess when the file has more lines, and spills past its limit.
    """
    chars = lines.chars() + 2 * len(lines)  # with line ends
    expected = size * len(lines) // max(chars, 1)
    capacity = 1 << 16
    while 3 * capacity < 4 * expected and capacity < LIMIT:
        capacity *= 2
    return capacity


def _header_end(sorter: RowSorter) -> int:
    plan = sorter.plan
    if plan.header_index is None:
        return 0
    return plan.header_index + plan.layout.header_lines


def _line_blocks(info: SourceInfo, max_lines: int, spec: CutSpec) -> Iterator[tuple[int, Cut]]:
    """Blocks of whole lines (1-based number of the first), without line ends.

    A block is read into an array with room after it for the kernel's loads (no copy of its
    bytes) and cut in place, unless a CR stands elsewhere than before a LF: then its lines
    are cut from a copy without any CR (:func:`~penlink_adapters._plain_cut.copy_lines`).
    """
    line = 1
    carry = b""
    consumed = 0  # bytes of the lines cut so far, with their line ends
    with open(info.path, "rb") as fh:
        if info.encoding == "utf-8-sig":
            fh.read(3)
        while True:
            # A line longer than a block: read as much again as is carried (no quadratic copy).
            block = max(_block_size(max_lines, consumed, line - 1), len(carry))
            buf = BLOCKS.empty(len(carry) + block + PAD, np.uint8)
            buf[: len(carry)] = np.frombuffer(carry, dtype=np.uint8)
            got = fh.readinto(buf.data[len(carry) : len(carry) + block])
            size = len(carry) + got
            if not size:
                return
            if got:
                cut = _last_lf(buf, size)
                if cut < 0:
                    carry = buf[:size].tobytes()
                    continue
                carry, size = buf[cut + 1 : size].tobytes(), cut + 1
            else:
                carry = b""
            consumed += size
            lines = cut_padded(buf, size, spec) or copy_lines(buf[:size].tobytes(), spec)
            for start in range(0, len(lines), max_lines):
                yield line + start, lines.slice(start, max_lines)
            line += len(lines)
            if not got:
                return


def _block_size(max_lines: int, consumed: int, lines: int) -> int:
    """Bytes to read into the next block: about one chunk of lines, at most :data:`_BLOCK`.

    Sized from the mean length of the lines so far to hold a little less than ``max_lines``
    lines, so that a block is one chunk: a block of 16 MiB cut into chunks of 100,000 rows
    gave one chunk of 100,000 and one of about 50,000 (T-Mobile layout), and a chunk costs
    more than its rows (polars' queries, Arrow arrays); one chunk a block took 4% less CPU.
    """
    if not lines:
        return min(_BLOCK, _FIRST_BLOCK)
    return min(_BLOCK, max(_FIRST_BLOCK, int(_FILL * max_lines * consumed / lines)))


def _last_lf(buf: Any, size: int) -> int:
    """The index of the last LF in ``buf[:size]``, or -1 (looked for from the end)."""
    stop = size
    while stop > 0:
        start = max(0, stop - (1 << 16))
        at = buf[start:stop].tobytes().rfind(b"\n")
        if at >= 0:
            return start + int(at)
        stop = start
    return -1
