"""``verify()``: every committed file against its SHA-256, every log, and what no log names."""

from __future__ import annotations

import os
from dataclasses import dataclass

from tls_core.errors import IntegrityError
from tls_core.store._delta import list_files, log_versions
from tls_core.store._files import FileChecker
from tls_core.store._gc import unreferenced_files
from tls_core.store._layout import TABLES, Layout

__all__ = ["VerifyReport", "verify_repository"]


@dataclass(frozen=True)
class VerifyReport:
    """The outcome of :meth:`Repository.verify`."""

    files_checked: int
    """Committed data files whose size and SHA-256 were checked."""
    problems: tuple[str, ...]
    """Integrity problems (each names a file); empty when the repository is sound."""
    orphans: tuple[str, ...]
    """Store files in no log (left by a crashed commit; never read; removed by the next write)."""
    foreign: tuple[str, ...]
    """Files the store never writes, found in table directories (never read)."""

    @property
    def ok(self) -> bool:
        """True when there is no integrity problem (orphans and foreign files are not)."""
        return not self.problems


def verify_repository(layout: Layout) -> VerifyReport:
    """Check logs, files and symlinks; hash every committed file with a fresh checker."""
    checker = FileChecker(layout)  # fresh: no cached results
    problems = _symlinks(layout)
    checked = 0
    for table in TABLES:
        problems += log_versions(layout, table)
        try:
            _, files = list_files(layout, table)
        except IntegrityError as err:
            problems.append(str(err))
            continue
        for data_file in files:
            checked += 1
            try:
                checker.check(data_file)
            except IntegrityError as err:
                problems.append(str(err))
    try:
        orphans, foreign = unreferenced_files(layout)
    except IntegrityError as err:
        problems.append(str(err))
        orphans, foreign = [], []
    return VerifyReport(checked, tuple(problems), tuple(orphans), tuple(foreign))


def _symlinks(layout: Layout) -> list[str]:
    found: list[str] = []
    for directory, dirs, files in os.walk(layout.root):
        for name in dirs + files:
            path = os.path.join(directory, name)
            if os.path.islink(path):
                found.append(f"{path}: a symbolic link inside the repository [symlink]")
    return found
