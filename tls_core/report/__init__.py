"""The link-chart report: a self-contained offline HTML page, the chart as SVG (and PNG).

Build a :class:`ReportData` (what the reader may see: cases, shared identifiers, links with
their evidence, restricted pointers, timeline, contacts) and call :func:`write_report`. The
report renders only its input: it opens no repository and applies no access policy. See
``docs/report.md``.
"""

from __future__ import annotations

from tls_core.report._chart import Chart as Chart
from tls_core.report._chart import ChartEdge as ChartEdge
from tls_core.report._chart import ChartNode as ChartNode
from tls_core.report._chart import NodeKind as NodeKind
from tls_core.report._chart import build_chart as build_chart
from tls_core.report._model import ChartLinkType as ChartLinkType
from tls_core.report._model import CommonContact as CommonContact
from tls_core.report._model import Contact as Contact
from tls_core.report._model import Evidence as Evidence
from tls_core.report._model import ReportCase as ReportCase
from tls_core.report._model import ReportData as ReportData
from tls_core.report._model import ReportIdentifier as ReportIdentifier
from tls_core.report._model import ReportLink as ReportLink
from tls_core.report._model import RestrictedPointer as RestrictedPointer
from tls_core.report._model import TimelineEvent as TimelineEvent
from tls_core.report._model import TopContacts as TopContacts
from tls_core.report._model import check_report_data as check_report_data
from tls_core.report._write import PngOption as PngOption
from tls_core.report._write import ReportFiles as ReportFiles
from tls_core.report._write import write_report as write_report

__all__ = [
    "Chart",
    "ChartEdge",
    "ChartLinkType",
    "ChartNode",
    "CommonContact",
    "Contact",
    "Evidence",
    "NodeKind",
    "PngOption",
    "ReportCase",
    "ReportData",
    "ReportFiles",
    "ReportIdentifier",
    "ReportLink",
    "RestrictedPointer",
    "TimelineEvent",
    "TopContacts",
    "build_chart",
    "check_report_data",
    "write_report",
]
