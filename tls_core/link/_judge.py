"""Which alerts to deliver: new ones, and delivered ones that grew (column-wise), and delivery.

An alert is **new** when its case pair was never delivered, and an **update** when its
``(kind, identifier, link_type)`` set is not within the delivered one or its weight (sum over
items of the smaller record count) reached :data:`GROWTH_FACTOR` times the delivered weight.
"""

from __future__ import annotations

from typing import Final, Literal

import pyarrow as pa
import pyarrow.compute as pc

from tls_core.link._alerts import Alert
from tls_core.link._records import AlertRows
from tls_core.link._state import Delivered
from tls_core.protocols import LinkNotice, LinkNotifier

__all__ = ["GROWTH_FACTOR", "deliver", "judge"]

GROWTH_FACTOR: Final = 2
"""A delivered alert is delivered again (as an update) when its evidence weight reaches this
many times the weight delivered, or when it gains an identifier or a link type."""


def judge(table: pa.Table, delivered: dict[str, Delivered]) -> tuple[AlertRows, AlertRows]:
    """Split ``LINK_ALERTS`` rows into ``(new, updated)``; the rest have not grown.

    Only the rows of alerts delivered before are read into Python (to compare signatures).
    """
    ids = table.column("alert_id")
    known = pc.is_in(ids, value_set=pa.array(sorted(delivered), pa.string()))
    old = table.filter(known)
    grown = pa.array(sorted(_grown(old, delivered)), pa.string())
    updated = old.filter(pc.is_in(old.column("alert_id"), value_set=grown))
    return AlertRows(table.filter(pc.invert(known))), AlertRows(updated)


def _grown(rows: pa.Table, delivered: dict[str, Delivered]) -> set[str]:
    columns = (
        "alert_id",
        "identifier_kind",
        "identifier_canonical",
        "link_type",
        "records_a",
        "records_b",
    )
    signature: dict[str, set[tuple[str, str, str]]] = {}
    weight: dict[str, int] = {}
    for key, kind, ident, link_type, records_a, records_b in zip(
        *(rows.column(n).to_pylist() for n in columns), strict=True
    ):
        signature.setdefault(key, set()).add((kind, ident, link_type))
        weight[key] = weight.get(key, 0) + min(records_a, records_b)
    return {
        key
        for key, items in signature.items()
        if not items <= delivered[key].signature
        or weight[key] >= GROWTH_FACTOR * max(delivered[key].weight, 1)
    }


def deliver(
    notifier: LinkNotifier,
    actor: str,
    new: AlertRows,
    updated: AlertRows,
    delivered: dict[str, Delivered],
) -> int:
    """Notify both owners of each alert; record it in ``delivered``; return notices queued."""
    count = 0
    groups: tuple[tuple[Literal["new", "update"], AlertRows], ...] = (
        ("new", new),
        ("update", updated),
    )
    for status, group in groups:
        for alert in group:
            count += notifier.notify_link(_notice(actor, alert, status))
            delivered[alert.alert_id] = Delivered(alert.signature, alert.weight)
    return count


def _notice(actor: str, alert: Alert, status: Literal["new", "update"]) -> LinkNotice:
    return LinkNotice(
        actor=actor,
        alert_id=alert.alert_id,
        case_a=alert.case_a,
        case_b=alert.case_b,
        status=status,
        link_types=alert.link_types,
        strength=alert.strength,
        identifiers=tuple((e.kind, e.identifier, e.link_type) for e in alert.evidence),
    )
