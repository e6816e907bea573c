"""What the files of one ``Repository.ingest`` call share (issue 5).

The files of one call are read one after the other with the same
:class:`~penlink_adapters.IdentifierMemo`, so the contacts they share are normalized once.
Sharing it must change nothing that is stored, and a memo filled for one region must not
serve another. The next file is hashed while the file before it is read, and its read begun
while the commit of the file before it ends: nothing of it may be committed early, a change to
it in between must be seen, and a next file that needs no read is not opened.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from penlink_adapters import IdentifierMemo, read_return, scan_return
from tls_core.errors import ReadError
from tls_core.store import IngestProgress, Repository


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


def test_a_next_file_changed_after_its_early_hash_is_hashed_and_read_again(tmp_path):
    contacts = [f"312555{i:04d}" for i in range(30)]
    first = _write(tmp_path / "a.csv", "2125550142", contacts, 0)
    second = _write(tmp_path / "b.csv", "2125550142", contacts, 5)
    extra = _write(tmp_path / "extra.csv", "2125550142", ["3125559999"], 9).read_bytes()
    events: list[IngestProgress] = []

    def meddle(event: IngestProgress) -> None:
        events.append(event)
        if event.phase == "done" and event.file == str(first):  # the second was hashed ahead
            with second.open("ab") as fh:
                fh.write(extra.split(b"\n", 1)[1])  # one more call, header left out

    repo = Repository.open(tmp_path / "repo")
    one, two = repo.ingest([first, second], case_ids=["C1"], actor="alice", progress=meddle)
    assert two.sha256 == hashlib.sha256(second.read_bytes()).hexdigest()
    assert (one.loaded, two.loaded) == (30, 31)
    later = [e.phase for e in events if e.file == str(second)]
    assert later[0] == "hash"
    assert later[-1] == "done"
    assert repo.verify().ok


def test_a_next_file_read_ahead_reports_its_hash_then_its_reads(tmp_path):
    contacts = [f"312555{i:04d}" for i in range(30)]
    paths = [_write(tmp_path / f"{n}.csv", "2125550142", contacts, n) for n in range(3)]
    events: list[IngestProgress] = []
    repo = Repository.open(tmp_path / "repo")
    reports = repo.ingest(paths, case_ids=["C1"], actor="alice", progress=events.append)
    assert [r.loaded for r in reports] == [30, 30, 30]
    for path in paths[1:]:
        mine = [e for e in events if e.file == str(path)]
        size = path.stat().st_size
        assert mine[0].phase == "hash"
        assert mine[0].bytes_done == size
        assert mine[-1].phase == "done"
        assert "read" in [e.phase for e in mine]


def test_a_next_file_that_cannot_be_read_fails_in_its_turn(tmp_path):
    first = _write(tmp_path / "a.csv", "2125550142", ["3125550100"], 0)
    repo = Repository.open(tmp_path / "repo")
    with pytest.raises(ReadError) as err:
        repo.ingest([first, tmp_path / "missing.csv"], case_ids=["C1"], actor="alice")
    assert err.value.file == str(tmp_path / "missing.csv")
    assert repo.snapshot().row_count("call_records") == 1
    assert repo.verify().ok


def test_a_next_file_is_hashed_at_once_and_opened_only_when_its_read_begins(tmp_path):
    from tls_core.store._source import NextFile

    path = _write(tmp_path / "a.csv", "2125550142", ["3125550100"], 0)
    opened: list[tuple[Path, str]] = []

    def open_scan(p: Path, sha: str) -> list[tuple[pa.Table, pa.Table]]:
        opened.append((p, sha))
        return []

    sha = hashlib.sha256(path.read_bytes()).hexdigest()
    waiting = NextFile(path, open_scan)
    taken = waiting.take(None)  # its read was not begun: the hash only
    assert taken is not None
    assert taken[0][0] == sha
    assert taken[1:] == (None, None)
    waiting.close()
    assert opened == []
    begun = NextFile(path, open_scan)
    begun.begin()
    taken = begun.take(None)
    assert taken is not None
    assert taken[1] == []
    assert taken[2] is not None
    begun.close()
    assert opened == [(path, sha)]


def test_a_call_whose_files_are_all_stored_reads_none_and_imports_no_adapter(tmp_path):
    import subprocess
    import sys

    contacts = [f"312555{i:04d}" for i in range(5)]
    paths = [_write(tmp_path / f"{n}.csv", "2125550142", contacts, n) for n in range(3)]
    Repository.open(tmp_path / "repo").ingest(paths, case_ids=["C1"], actor="alice")
    code = (
        "import sys; from tls_core.store import Repository; "
        "r = Repository.open(sys.argv[1]).ingest(sys.argv[2:], case_ids=['C1'], actor='alice'); "
        "print([x.noop for x in r], 'penlink_adapters' in sys.modules)"
    )
    argv = [sys.executable, "-c", code, str(tmp_path / "repo"), *map(str, paths)]
    out = subprocess.run(argv, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[True, True, True] False"
