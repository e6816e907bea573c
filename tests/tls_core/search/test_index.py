"""The occurrence index: rebuilt when the snapshot changes, never served stale or corrupt."""

from __future__ import annotations

import json
import os
import time

import pytest
from searchkit import commit_calls

from tls_core.search import search
from tls_core.search._index import index_dir, open_index
from tls_core.search._keys import match_key
from tls_core.search._runs import ROW_GROUP_ROWS

A = "+12065550101"
X = "+12135550142"


def _run(repo, office, value, actor="alice"):
    return search(
        repo, value, actor=actor, access=office, directory=office, notifier=office, audit=office
    )


@pytest.fixture
def case(repo, office):
    office.open_case("alice", "SEA-1", owner="alice")
    office.open_case("bob", "HOU-2", owner="bob")
    commit_calls(repo, "SEA-1", "one.csv", [(A, X, 0)])
    return repo


def test_built_then_current_then_rebuilt_after_a_commit(case, office):
    first = _run(case, office, X)
    assert first.index == "built"
    assert [c.case_number for c in first.cases] == ["SEA-1"]
    assert _run(case, office, X).index == "current"
    commit_calls(case, "HOU-2", "two.csv", [("+17135550102", X, 3)])
    after = _run(case, office, X)
    assert after.index == "stale"
    assert [c.case_number for c in after.cases] == ["HOU-2", "SEA-1"]
    assert after.snapshot_version > first.snapshot_version
    assert _run(case, office, X).index == "current"


def test_a_stale_index_is_never_served_even_if_its_file_is_intact(case, office):
    _run(case, office, X)
    directory = index_dir(case)
    old = json.loads((directory / "manifest.json").read_text())
    commit_calls(case, "HOU-2", "two.csv", [("+17135550102", X, 3)])
    _run(case, office, X)
    # Put the old manifest (and its still valid files) back: its key names an older snapshot.
    (directory / "manifest.json").write_text(json.dumps(old))
    result = _run(case, office, X)
    assert result.index == "stale"
    assert [c.case_number for c in result.cases] == ["HOU-2", "SEA-1"]


@pytest.mark.parametrize("which", ["occurrences", "summary"])
@pytest.mark.parametrize("damage", ["flip_row_group", "truncate", "flip_footer", "delete"])
def test_a_corrupted_index_is_rebuilt_not_served(case, office, damage, which):
    _run(case, office, X)
    directory = index_dir(case)
    manifest = json.loads((directory / "manifest.json").read_text())
    entry = manifest["runs"][0]["files"][which]
    path = directory / entry["file"]
    data = bytearray(path.read_bytes())
    if damage == "flip_row_group":
        start, end, _ = entry["row_groups"][0]
        data[(start + end) // 2] ^= 0xFF
        path.write_bytes(bytes(data))
    elif damage == "flip_footer":
        start, end, _ = entry["footer"]
        data[start + 2] ^= 0xFF
        path.write_bytes(bytes(data))
    elif damage == "truncate":
        path.write_bytes(bytes(data[:-10]))
    else:
        path.unlink()
    result = _run(case, office, X)
    assert result.index == "corrupt"
    assert [(c.case_number, c.records) for c in result.cases] == [("SEA-1", 1)]
    assert len(result.records) == 1
    assert _run(case, office, X).index == "current"


def test_a_garbled_manifest_means_a_rebuild(case, office):
    _run(case, office, X)
    (index_dir(case) / "manifest.json").write_text("{not json")
    assert _run(case, office, X).index == "built"


def test_a_point_lookup_reads_one_row_group(repo, office):
    calls = [(A, f"+1202555{i:04d}", i) for i in range(3 * ROW_GROUP_ROWS)]
    commit_calls(repo, "SEA-1", "big.csv", calls)
    index, _ = open_index(repo, repo.snapshot())
    (run,) = index.runs
    occ = run.occurrences
    assert len(occ.row_groups) >= 3
    key = match_key("phone", "+12025551234")
    assert len(occ.row_groups_for(key)) == 1
    assert len(run.summary.row_groups_for(key)) == 1
    rows = occ.lookup(key)
    assert rows.column("identifier").to_pylist() == ["+12025551234"]
    # The busiest identifier (the target, in every record) spans several row groups of the
    # occurrences, but one summary row.
    busy = match_key("phone", A)
    assert occ.lookup(busy).num_rows == 3 * ROW_GROUP_ROWS
    assert len(occ.row_groups_for(busy)) >= 3
    assert run.summary.lookup(busy).column("occurrences").to_pylist() == [3 * ROW_GROUP_ROWS]


def test_busiest_identifier_reads_only_what_the_limit_needs(repo, office):
    office.open_case("alice", "SEA-1", owner="alice")
    calls = [(A, f"+1202555{i:04d}", i) for i in range(3 * ROW_GROUP_ROWS)]
    commit_calls(repo, "SEA-1", "big.csv", calls)
    result = _run(repo, office, A)
    assert result.cases[0].records == 3 * ROW_GROUP_ROWS
    assert len(result.records) == 1000
    assert result.truncated
    everything = search(
        repo,
        A,
        actor="alice",
        access=office,
        directory=office,
        notifier=office,
        audit=office,
        limit=10 * ROW_GROUP_ROWS,
    )
    assert len(everything.records) == 3 * ROW_GROUP_ROWS
    assert not everything.truncated
    assert everything.records[:1000] == result.records


def test_old_index_files_are_removed_once_a_minute_old(case, office):
    _run(case, office, X)
    directory = index_dir(case)
    first = json.loads((directory / "manifest.json").read_text())["links"]["file"]
    commit_calls(case, "HOU-2", "two.csv", [("+17135550102", X, 3)])
    _run(case, office, X)
    # The previous links file is recent: another process may still be reading it.
    assert (directory / first).exists()
    os.utime(directory / first, (time.time() - 120, time.time() - 120))
    commit_calls(case, "HOU-2", "three.csv", [("+17135550102", X, 4)])
    _run(case, office, X)
    assert not (directory / first).exists()
    # Three runs (two files each), this refresh's links file and the last one's.
    assert len(list(directory.glob("*.parquet"))) == 3 * 2 + 2


def test_a_commit_after_a_cached_log_listing_is_seen(case, office):
    from tls_core.search._index import log_versions
    from tls_core.store._layout import TABLES, Layout

    # Age every log directory past the racy second, so its listing is cached by its mtime.
    past = time.time_ns() - 5_000_000_000
    for table in TABLES:
        os.utime(Layout(case.root).table(table) / "_delta_log", ns=(past, past))
    before = log_versions(case)
    assert log_versions(case) == before  # served from the cache
    assert _run(case, office, X).index == "built"
    commit_calls(case, "HOU-2", "two.csv", [("+17135550102", X, 3)])
    after = log_versions(case)
    assert after["registry"] > before["registry"]
    assert _run(case, office, X).index == "stale"  # and the index is rebuilt, not served


def test_footers_are_warmed_once_and_a_damaged_footer_is_not_opened(case, office):
    from tls_core.search import _parts

    _run(case, office, X)  # the first load warms the footers of every run's files
    index, _ = open_index(case, case.snapshot())
    run = index.runs[0]
    files = [run.summary, run.occurrences]
    assert _parts.warm(files) is None  # already opened or being opened
    path = run.summary.path
    data = bytearray(path.read_bytes())
    data[run.summary.footer.start + 2] ^= 0xFF  # same size; a new (inode, size, mtime, ctime)
    path.write_bytes(bytes(data))
    thread = _parts.warm(files)
    assert thread is not None  # the changed file is a new version: warmed anew
    thread.join()
    stat = (
        path.stat().st_ino,
        path.stat().st_size,
        path.stat().st_mtime_ns,
        path.stat().st_ctime_ns,
    )
    assert (path, stat) not in _parts._OPENED  # its footer failed its check: not parsed
    result = _run(case, office, X)
    assert result.index == "corrupt"
    assert [(c.case_number, c.records) for c in result.cases] == [("SEA-1", 1)]


def test_a_forked_child_opens_a_file_the_parent_was_opening(case, office):
    import threading

    from tls_core.search import _parts

    _run(case, office, X)
    index, _ = open_index(case, case.snapshot())
    path = index.runs[0].occurrences.path
    st = path.stat()
    key = (path, (st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns))
    _parts._OPENED.pop(key, None)
    busy = _parts._OPENING.setdefault(key, threading.Lock())
    busy.acquire()  # as a warming thread in the middle of parsing this footer would hold it
    try:
        pid = os.fork()
        if pid == 0:  # the child has no warming thread: it must not wait for one
            code = 1
            try:
                _parts._parquet(key[0], *key[1])
                code = 0
            finally:
                os._exit(code)
    finally:
        busy.release()
        _parts._OPENING.pop(key, None)
    deadline = time.monotonic() + 30
    while (done := os.waitpid(pid, os.WNOHANG))[0] == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    if done[0] == 0:
        os.kill(pid, 9)
        os.waitpid(pid, 0)
    assert done[0] == pid
    assert os.waitstatus_to_exitcode(done[1]) == 0


def test_a_decoded_row_group_is_reused_until_its_file_changes(case, office):
    from tls_core.errors import IntegrityError

    _run(case, office, X)
    index, _ = open_index(case, case.snapshot())
    part = index.runs[0].occurrences
    first = part.read([0], ["record_id", "role"])
    assert part.read([0], ["record_id", "role"]) is first  # decoded once, kept
    assert part.read([0], ["record_id"]) is not first  # other columns: another decode
    data = part.path.read_bytes()
    part.path.write_bytes(data)  # the same bytes, a new (inode, size, mtime, ctime)
    again = part.read([0], ["record_id", "role"])
    assert again is not first
    assert again.equals(first)
    start, end = part.row_groups[0].start, part.row_groups[0].end
    damaged = bytearray(data)
    damaged[(start + end) // 2] ^= 0xFF
    part.path.write_bytes(bytes(damaged))
    with pytest.raises(IntegrityError):
        part.read([0], ["record_id", "role"])
