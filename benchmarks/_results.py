"""Write one section of benchmarks/RESULTS.md, with the machine and versions that produced it."""

from __future__ import annotations

import os
import platform
import re
import statistics
from importlib.metadata import version
from pathlib import Path

RESULTS = Path(__file__).with_name("RESULTS.md")
_HEADER = """# Benchmark results

Each section is written by the command it names, on the machine it names; rerun the command to
refresh it. Figures are medians with min-max over repeated runs in one process, after a warm-up
(numba compiles once and caches). Ratios compare runs made side by side in the same process.
A section's notes (between its `notes` markers: what each session measured, changed or
dropped) are kept when the command rewrites the section.
"""


def machine() -> str:
    """One line naming the machine and the versions that matter."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
        mem_kb = int(Path("/proc/meminfo").read_text().split()[1])
        mem = f"{mem_kb / 2**20:.0f} GiB"
    except OSError:
        mem = "?"
    packages = ["numba", "pyarrow", "phonenumbers", "numpy", "polars", "duckdb"]
    versions = ", ".join(f"{p} {version(p)}" for p in packages)
    return (
        f"{cpu}, {os.cpu_count()} cores, {mem}; {platform.system()} {platform.release()}; "
        f"Python {platform.python_version()}; {versions}"
    )


def spread(times: list[float]) -> str:
    """Median with min-max, in seconds."""
    return f"{statistics.median(times):.3f} s ({min(times):.3f}-{max(times):.3f})"


def write_section(name: str, body: str) -> None:
    """Replace (or append) the section ``name`` of RESULTS.md, keeping its notes.

    The notes of a section are the text between ``<!-- name:notes:start -->`` and
    ``<!-- name:notes:end -->`` inside it: the history the sessions wrote by hand (what was
    measured, changed and dropped, with its figures). A rerun replaces the section's body,
    written by the command, and puts the notes back after it, unchanged.
    """
    text = RESULTS.read_text() if RESULTS.exists() else _HEADER
    RESULTS.write_text(replace_section(text, name, body))


def replace_section(text: str, name: str, body: str) -> str:
    """``text`` with the section ``name`` replaced by ``body`` (appended when missing).

    The section's notes block, if it has one, follows the new body unchanged.
    """
    start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
    pattern = re.compile(re.escape(start) + ".*?" + re.escape(end), re.S)
    notes = re.compile(
        re.escape(f"<!-- {name}:notes:start -->") + ".*?" + re.escape(f"<!-- {name}:notes:end -->"),
        re.S,
    )
    old = pattern.search(text)
    kept = notes.search(old.group(0)) if old is not None else None
    tail = f"\n\n{kept.group(0)}" if kept is not None else ""
    block = f"{start}\n{body.strip()}{tail}\n{end}"
    if old is None:
        return f"{text}\n{block}\n"
    return text[: old.start()] + block + text[old.end() :]
