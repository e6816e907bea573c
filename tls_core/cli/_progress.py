"""A spinner with the elapsed time for long commands (``docs/cli.md``, "Progress").

Shown on stderr, so ``--json`` output on stdout stays clean; off when stdout is not a terminal
(a pipe, a file, a nightly job's log) or with ``--quiet``.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Annotated

import typer

__all__ = ["QuietOpt", "working"]

QuietOpt = Annotated[bool, typer.Option("--quiet", help="No progress display.")]
"""``--quiet``: no spinner or progress bars (they are also off when stdout is not a terminal)."""


@contextmanager
def working(label: str, *, quiet: bool) -> Iterator[Callable[[str], None]]:
    """Show ``label``, a spinner and the elapsed time while the block runs.

    Yields a function that replaces the detail shown after the label (e.g. the current step).
    """
    if quiet or not sys.stdout.isatty():
        yield _ignore
        return
    from rich.console import Console
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    columns = (SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn())
    with Progress(*columns, console=Console(stderr=True), transient=True) as progress:
        task = progress.add_task(label, total=None)

        def detail(text: str) -> None:
            progress.update(task, description=f"{label}: {text}" if text else label)

        yield detail


def _ignore(_text: str) -> None:
    """The detail function when nothing is shown."""
