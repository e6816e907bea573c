"""The numba kernel of the record-id index lookup: which files of a segment hold a key.

A segment's entries are sorted ``key48 << 16 | ordinal``; a query is sorted, distinct masked
keys (``key48 << 16``). An entry holds the query's key ``q`` when ``q <= entry <= q | 0xFFFF``.
Both sides sorted, one forward walk answers every key: for each key, gallop from the previous
position to the first entry ``>= q`` (steps doubling, then a binary search in the last step),
then take the entries up to ``q | 0xFFFF``. That is ``O(m log(n / m))`` for ``m`` keys and
``n`` entries, and reads the entries forwards: NumPy's ``searchsorted`` (two of them, one
binary search from scratch per key over the whole segment) cost about a tenth of a commit's
thread in a ten-file ingest (perf, 1 M-row batches against segments of up to 9 M entries).
"""

from __future__ import annotations

import numba
import numpy as np
import numpy.typing as npt

__all__ = ["files_hit"]


@numba.njit(cache=True, nogil=True)
def _files_hit(
    entries: npt.NDArray[np.uint64], query: npt.NDArray[np.uint64], files: int
) -> npt.NDArray[np.bool_]:  # pragma: no cover - compiled (the nojit job runs it as Python)
    hit = np.zeros(files, dtype=np.bool_)
    ordinal = np.uint64(0xFFFF)
    n = len(entries)
    i = 0
    for j in range(len(query)):
        q = query[j]
        if i >= n:
            break
        if entries[i] < q:  # gallop to the first entry >= q: entries[lo] < q <= entries[hi]
            lo = i
            step = 1
            hi = i + step
            while hi < n and entries[hi] < q:
                lo = hi
                step *= 2
                hi = lo + step
            if hi > n:
                hi = n
            while hi - lo > 1:
                mid = (lo + hi) // 2
                if entries[mid] < q:
                    lo = mid
                else:
                    hi = mid
            i = hi
        last = q | ordinal
        while i < n and entries[i] <= last:
            hit[np.intp(entries[i] & ordinal)] = True
            i += 1
    return hit


def files_hit(
    entries: npt.NDArray[np.uint64], query: npt.NDArray[np.uint64], files: int
) -> set[int]:
    """Ordinals (below ``files``) of the entries holding one of the query's keys.

    Args:
        entries: A segment's entries, sorted.
        query: Masked keys (low 16 bits zero), sorted and distinct.
        files: How many files the segment lists (every entry's ordinal is below it).
    """
    if not len(entries) or not len(query):
        return set()
    hit = _files_hit(entries, query, files)
    return {int(i) for i in np.flatnonzero(hit)}
