"""The column-wise alert fold equals the row-wise reference it replaced (issue 6, speed).

Random ``case_pair_links`` rows (several role pairs per item, null times, ties in strength)
go through step ``alert_evidence`` on a real DuckDB connection and :func:`fold_alerts`; the
alerts, their ``LINK_ALERTS`` rows and the rows read back must equal the reference's.
"""

from __future__ import annotations

import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa
from alerts_reference import reference_alerts, reference_table
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tls_core.link._alerts import fold_alerts, fold_table
from tls_core.link._pairs import alert_evidence_sql
from tls_core.link._records import alerts_from_table, alerts_to_table
from tls_core.link._steps import fetch_arrow, register
from tls_core.store import Repository

_UTC_US = pa.timestamp("us", tz="UTC")
_SCHEMA = pa.schema(
    [
        ("case_a", pa.string()),
        ("case_b", pa.string()),
        ("identifier", pa.string()),
        ("kind", pa.string()),
        ("link_type", pa.string()),
        ("role_a", pa.string()),
        ("role_b", pa.string()),
        ("grade", pa.string()),
        ("records_a", pa.int64()),
        ("records_b", pa.int64()),
        ("first_a", _UTC_US),
        ("last_a", _UTC_US),
        ("first_b", _UTC_US),
        ("last_b", _UTC_US),
    ]
)
_BASE = datetime(2025, 1, 1, tzinfo=UTC)
_ROLES = ("target", "contact", "device", "subscriber", "misc")
_TYPES = ("common_target", "direct_contact", "common_contact", "device_continuity", "misc_match")

times = st.one_of(
    st.none(), st.integers(0, 10**12).map(lambda us: _BASE + timedelta(microseconds=us))
)
# An item is (case pair, identifier, kind, link type); its grade is the same on every row.
items = st.tuples(
    st.sampled_from([("K1", "K2"), ("K1", "K3"), ("K2", "K3"), ("K\u00e9", "Kz")]),
    st.sampled_from(["+12025550101", "+12025550102", "35209900176148", "4901542032375"]),
    st.sampled_from(["phone", "imei"]),
    st.sampled_from(_TYPES),
    st.sampled_from(["exact", "imei_tac_snr"]),
)
role_rows = st.lists(
    st.tuples(
        st.sampled_from(_ROLES),
        st.sampled_from(_ROLES),
        st.integers(1, 70),
        st.integers(1, 70),
        times,
        times,
        times,
        times,
    ),
    min_size=1,
    max_size=3,
)


def _table(spec: list[tuple[tuple[object, ...], list[tuple[object, ...]]]]) -> pa.Table:
    rows = []
    seen = set()
    for (pair, ident, kind, link_type, grade), role_list in spec:
        if (pair, ident, kind, link_type) in seen:
            continue
        seen.add((pair, ident, kind, link_type))
        for role_a, role_b, n_a, n_b, f_a, l_a, f_b, l_b in role_list:
            rows.append(
                dict(zip(_SCHEMA.names, (*pair, ident, kind, link_type, role_a, role_b, grade,
                                         n_a, n_b, f_a, l_a, f_b, l_b), strict=True))
            )  # fmt: skip
    return pa.Table.from_pylist(rows, schema=_SCHEMA)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(spec=st.lists(st.tuples(items, role_rows), max_size=12))
def test_fold_equals_the_row_wise_reference(spec):
    links = _table(spec)
    with tempfile.TemporaryDirectory() as tmp:
        con = Repository.open(Path(tmp) / "repo").snapshot().connect()
        try:
            register(con, "case_pair_links", links)
            evidence = fetch_arrow(con, "alert_evidence", alert_evidence_sql())
        finally:
            con.close()
    found, folded = fold_alerts(evidence)
    assert fold_table(evidence).equals(folded)  # the same table, without Python objects
    expected = reference_alerts(links)
    assert found == expected
    created = datetime(2026, 1, 1, tzinfo=UTC)
    table = alerts_to_table(folded, 7, created)
    assert table.equals(reference_table(expected, 7, created), check_metadata=True)
    assert alerts_from_table(table) == expected
