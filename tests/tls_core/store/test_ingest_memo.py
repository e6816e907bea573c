"""One identifier memo per ``Repository.ingest`` call, shared by its files (issue 5).

The files of one call are read one after the other with the same
:class:`~penlink_adapters.IdentifierMemo`, so the contacts they share are normalized once.
Sharing it must change nothing that is stored, and a memo filled for one region must not
serve another.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
from hypothesis import given, settings
from hypothesis import strategies as st

from penlink_adapters import IdentifierMemo, read_return, scan_return
from tls_core.store import Repository


def _write(path: Path, target: str, contacts: list[str], day: int) -> Path:
    """A T-Mobile-layout return of ``target`` calling each of ``contacts`` in turn."""
    from penlink_adapters import get_layout_or_raise
    from penlink_adapters._synth_render import SynthCall, call_fields, render_rows

    layout = get_layout_or_raise("tmobile")
    start = datetime(2022, 5, 1, tzinfo=UTC) + timedelta(days=day)
    rows = [
        call_fields(
            layout,
            SynthCall(
                target=target,
                other=other,
                start=start + timedelta(minutes=i),
                duration=30 + i,
                direction="outgoing" if i % 2 else "incoming",
                event="voice",
            ),
            None,
        )
        for i, other in enumerate(contacts)
    ]
    path.write_text(render_rows(layout, rows), newline="")
    return path


def _stored(repo: Repository) -> pa.Table:
    """Every stored call record but its batch, in ``record_id`` order."""
    table = repo.snapshot().read("call_records").drop_columns(["batch_id"])
    return table.take(pc.sort_indices(table, [("record_id", "ascending")]))


def _scan(path: Path, region: str, memo: IdentifierMemo | None) -> pa.Table:
    parts = [records for records, _ in scan_return(path, region=region, memo=memo)]
    return pa.concat_tables(parts)


def test_files_sharing_contacts_store_the_same_records_in_one_call_as_in_two(tmp_path):
    contacts = [f"312555{i:04d}" for i in range(40)]
    first = _write(tmp_path / "a.csv", "2125550142", contacts, 0)
    second = _write(tmp_path / "b.csv", "2125550142", contacts[20:] + ["+442079460000"], 3)
    together = Repository.open(tmp_path / "together")
    reports = together.ingest([first, second], case_ids=["C1"], actor="alice")
    apart = Repository.open(tmp_path / "apart")
    for path in (first, second):
        apart.ingest(path, case_ids=["C1"], actor="alice")
    assert [r.loaded for r in reports] == [40, 21]
    assert _stored(together).equals(_stored(apart))
    assert together.verify().ok


def test_a_memo_used_for_one_region_then_another_gives_the_second_regions_results(tmp_path):
    path = _write(tmp_path / "r.csv", "2079460000", ["2079460001", "3125550100", "07700900123"], 0)
    memo = IdentifierMemo()
    us = _scan(path, "US", memo)
    assert memo.region == "US"
    gb = _scan(path, "GB", memo)
    assert memo.region == "GB"
    assert gb.equals(read_return(path, region="GB")[0])
    assert us.equals(read_return(path, region="US")[0])
    assert not gb.column("orig_canonical").equals(us.column("orig_canonical"))


_NUMBER = st.integers(0, 60).map(lambda i: f"31255501{i:02d}")


@settings(max_examples=25, deadline=None)
@given(
    files=st.lists(st.lists(_NUMBER, min_size=1, max_size=30), min_size=1, max_size=4),
    limit=st.sampled_from([3, 20, 1_000_000]),
)
def test_a_shared_memo_reads_every_file_as_a_fresh_one_does(tmp_path_factory, files, limit):
    """Differential: files read in turn with one memo (limit crossed or not) as each alone."""
    folder = tmp_path_factory.mktemp("shared")
    memo = IdentifierMemo(limit=limit)
    for day, contacts in enumerate(files):
        path = _write(folder / f"f{day}.csv", "2125550142", contacts, day)
        assert _scan(path, "US", memo).equals(_scan(path, "US", None))
