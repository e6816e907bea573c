"""Read carrier returns in their many layouts into the canonical TLS schema.

A layout is a declarative TOML file (``penlink_adapters/layouts/``, ``docs/layouts.md``);
:func:`detect` scores every layout against a file, :func:`read_return` reads it into the
canonical table, its rejects and a :class:`ReadReport` in which every row is accounted for.

Importing the package is cheap: the modules (and polars) load on first use of a name.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from penlink_adapters._detect import MIN_CONFIDENCE as MIN_CONFIDENCE
    from penlink_adapters._detect import Candidate as Candidate
    from penlink_adapters._detect import detect as detect
    from penlink_adapters._identify import IdentifierMemo as IdentifierMemo
    from penlink_adapters._interchange import InterchangeFile as InterchangeFile
    from penlink_adapters._interchange import read_interchange as read_interchange
    from penlink_adapters._interchange import write_interchange as write_interchange
    from penlink_adapters._layout import Layout as Layout
    from penlink_adapters._layout import load_layout as load_layout
    from penlink_adapters._read import ReturnScan as ReturnScan
    from penlink_adapters._read import read_return as read_return
    from penlink_adapters._read import scan_return as scan_return
    from penlink_adapters._registry import get_layout_or_raise as get_layout_or_raise
    from penlink_adapters._registry import list_layouts as list_layouts
    from penlink_adapters._report import REJECT_REASONS as REJECT_REASONS
    from penlink_adapters._report import ReadReport as ReadReport
    from penlink_adapters._report import RejectReason as RejectReason
    from penlink_adapters._synth import Scenario as Scenario
    from penlink_adapters._synth import write_scenario as write_scenario

_WHERE: dict[str, str] = {
    "MIN_CONFIDENCE": "_detect",
    "Candidate": "_detect",
    "detect": "_detect",
    "IdentifierMemo": "_identify",
    "InterchangeFile": "_interchange",
    "read_interchange": "_interchange",
    "write_interchange": "_interchange",
    "Layout": "_layout",
    "load_layout": "_layout",
    "ReturnScan": "_read",
    "read_return": "_read",
    "scan_return": "_read",
    "get_layout_or_raise": "_registry",
    "list_layouts": "_registry",
    "REJECT_REASONS": "_report",
    "ReadReport": "_report",
    "RejectReason": "_report",
    "Scenario": "_synth",
    "write_scenario": "_synth",
}

__all__ = sorted(_WHERE)


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'penlink_adapters' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"penlink_adapters.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
