"""Read carrier returns in their many layouts into the canonical TLS schema.

A layout is a declarative TOML file (``penlink_adapters/layouts/``, ``docs/layouts.md``);
:func:`detect` scores every layout against a file, :func:`read_return` reads it into the
canonical table, its rejects and a :class:`ReadReport` in which every row is accounted for.
"""

from __future__ import annotations

from penlink_adapters._detect import MIN_CONFIDENCE as MIN_CONFIDENCE
from penlink_adapters._detect import Candidate as Candidate
from penlink_adapters._detect import detect as detect
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

__all__ = [
    "MIN_CONFIDENCE",
    "REJECT_REASONS",
    "Candidate",
    "InterchangeFile",
    "Layout",
    "ReadReport",
    "RejectReason",
    "ReturnScan",
    "Scenario",
    "detect",
    "get_layout_or_raise",
    "list_layouts",
    "load_layout",
    "read_interchange",
    "read_return",
    "scan_return",
    "write_interchange",
    "write_scenario",
]
