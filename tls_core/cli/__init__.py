"""The ``tls`` command: the one place that wires the packages together.

Each command group lives in its own ``_*.py`` module and registers itself on :data:`app` when
imported below; conventions shared by every command are in :mod:`tls_core.cli._common` and
``docs/cli.md``.
"""

from __future__ import annotations

from tls_core.cli import _cases as _cases
from tls_core.cli import _link as _link
from tls_core.cli import _normalize as _normalize
from tls_core.cli import _read as _read
from tls_core.cli import _search as _search
from tls_core.cli import _store as _store
from tls_core.cli._app import app as app
from tls_core.cli._app import main as main

__all__ = ["app", "main"]
