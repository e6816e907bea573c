"""CPU of identifier normalization on memo hits, per 1 M rows (issues 3 and 5).

Usage: ``PYTHONPATH=<tree> python benchmarks/memo_hits.py [FILE] [RUNS]``; run it for main's
tree and a branch's alternately (the machine is shared: compare the best runs). Prints the
CPU of ``normalize_columns`` over a file's converted chunks with a warm memo (all hits) and
with a fresh memo per pass (misses, then hits).
"""

from __future__ import annotations

import sys
import time

from penlink_adapters import scan_return
from penlink_adapters._identify import IdentifierMemo, normalize_columns

FILE = "/tmp/tls-bench-tmobile-1000000-7.csv"
PARTIES = ("orig", "term", "dialed", "target")


def main() -> None:
    """Time warm-memo and fresh-memo passes; print CPU seconds per pass."""
    path = sys.argv[1] if len(sys.argv) > 1 else FILE
    runs = int(sys.argv[2]) if len(sys.argv) > 2 else 7
    scan = scan_return(path, threads=1)
    chunks = [scan._convert(c)[0] for c in scan._chunks()]
    memo = IdentifierMemo()
    for chunk in chunks:  # fills the memo; compiles the kernels
        normalize_columns(chunk, PARTIES, scan._region, memo)
    for label, fresh in (("hits", False), ("fresh-memo", True)):
        times = []
        for _ in range(runs):
            pass_memo = IdentifierMemo() if fresh else memo
            t0 = time.process_time()
            for chunk in chunks:
                normalize_columns(chunk, PARTIES, scan._region, pass_memo)
            times.append(time.process_time() - t0)
        print(label, " ".join(f"{t:.4f}" for t in times), f"min {min(times):.4f}")


if __name__ == "__main__":
    main()
