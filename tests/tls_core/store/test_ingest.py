"""Repository.ingest on real carrier files: idempotence, case association, re-exports, failures."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from penlink_adapters import write_scenario
from tls_core.errors import ConfigError, DetectionError, ReadError, StoreError
from tls_core.store import IngestProgress, Repository
from tls_core.store._purge import current_links

FILES = Path(__file__).parents[2] / "adapters" / "files"


@pytest.fixture(scope="module")
def scenario(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict]:
    folder = tmp_path_factory.mktemp("scenario")
    write_scenario(folder, seed=3)
    truth = json.loads((folder / "ground_truth.json").read_text())
    return {c["case_id"]: {**c, "path": folder / c["file"]} for c in truth["cases"]}


def _ingest(repo: Repository, case: dict, *cases: str, **kw):
    args = case["read_args"]
    (report,) = repo.ingest(
        case["path"],
        case_ids=cases or [case["case_id"]],
        actor="alice",
        source_tz=args.get("tz"),
        target=args.get("target"),
        **kw,
    )
    return report


def test_every_scenario_file_ingests_as_the_ground_truth_says(repo, scenario):
    total = 0
    for case in scenario.values():
        report = _ingest(repo, case)
        expected = case["expected"]
        assert report.loaded == expected["loaded"], case["file"]
        assert dict(report.rejected) == expected["rejected"], case["file"]
        assert report.duplicates >= expected["duplicates"]
        assert (
            report.loaded + report.duplicates + report.skipped + sum(report.rejected.values())
            == report.rows_total
        )
        assert not report.noop
        assert report.layout == case["layout"]
        total += report.loaded if report.record_type == "call" else 0
    assert repo.snapshot().row_count("call_records") == total
    assert repo.verify().ok


def test_same_file_twice_is_a_noop_reporting_the_same_batch(repo, scenario):
    first = _ingest(repo, scenario["C03"])
    again = _ingest(repo, scenario["C03"])
    assert again.noop
    assert again.batch_id == first.batch_id
    assert (again.loaded, again.duplicates, again.rows_total) == (0, 0, 0)
    assert again.version == first.version
    assert repo.snapshot().row_count("call_records") == first.loaded


def test_a_stored_file_is_not_read_again(repo, scenario):
    # The registry lookup comes before the read: a layout that does not exist is never
    # resolved for content already stored (and would fail for a file that must be read).
    first = _ingest(repo, scenario["C03"])
    again = _ingest(repo, scenario["C03"], layout="no_such_layout")
    assert again.noop
    assert again.batch_id == first.batch_id
    with pytest.raises(ConfigError):
        _ingest(repo, scenario["C05"], layout="no_such_layout")


def test_same_file_for_another_case_adds_only_the_association(repo, scenario):
    first = _ingest(repo, scenario["C03"])
    other = _ingest(repo, scenario["C03"], "C99")
    assert other.batch_id == first.batch_id
    assert not other.noop
    assert other.linked_cases == ("C99",)
    assert other.loaded == 0
    snap = repo.snapshot()
    assert snap.row_count("call_records") == first.loaded
    assert current_links(snap)[first.batch_id] == {"C03", "C99"}
    both = _ingest(repo, scenario["C03"], "C03", "C99")
    assert both.noop


def _ingest_many(repo: Repository, case: dict, copies: int, **kw):
    args = case["read_args"]
    return repo.ingest(
        [case["path"]] * copies,
        case_ids=[case["case_id"]],
        actor="alice",
        source_tz=args.get("tz"),
        target=args.get("target"),
        **kw,
    )


def test_a_file_committed_earlier_in_the_same_call_is_a_noop(repo, scenario):
    # The lookup is read once per call and again only when the registry has a new commit:
    # the second copy must see the batch the first one committed.
    first, second, third = _ingest_many(repo, scenario["C03"], 3)
    assert not first.noop
    assert first.loaded > 0
    assert second.noop
    assert third.noop
    assert second.batch_id == third.batch_id == first.batch_id
    assert second.version == third.version == first.version
    assert repo.snapshot().row_count("call_records") == first.loaded


def test_the_lookup_sees_changes_made_by_another_process_between_files(repo, scenario):
    # Once the second copy found the batch (a no-op), another writer unlinks it from the case:
    # the third copy must link it again, not report a no-op from what the lookup read before.
    other = Repository.open(repo.root)
    done: list[str] = []

    def between(event: IngestProgress) -> None:
        if event.phase == "done":
            done.append(event.file)
            if len(done) == 2:
                (batch,) = repo.snapshot().batch_ids
                assert other.unlink(batch, "C03", actor="bob").changed

    first, second, third = _ingest_many(repo, scenario["C03"], 3, progress=between)
    assert second.noop
    assert first.batch_id == second.batch_id == third.batch_id
    assert not third.noop
    assert third.linked_cases == ("C03",)
    assert current_links(repo.snapshot())[first.batch_id] == {"C03"}
    assert third.version == first.version + 2  # the unlink, then the link
    assert _ingest(repo, scenario["C03"]).noop


def test_stored_sources_reads_again_only_after_a_commit(repo, scenario):
    from tls_core.store._files import FileChecker
    from tls_core.store._layout import resolve_root
    from tls_core.store._lookup import StoredSources

    layout = resolve_root(repo.root, create=False)
    stored = StoredSources(layout, FileChecker(layout))
    sha = hashlib.sha256(scenario["C03"]["path"].read_bytes()).hexdigest()
    assert stored.find(sha, None) is None
    first = _ingest(repo, scenario["C03"])
    found = stored.find(sha, None)
    assert found is not None
    assert (found.batch_id, found.cases, found.version) == (
        first.batch_id,
        frozenset({"C03"}),
        first.version,
    )
    assert stored.find(sha, "subscriber") is None
    assert Repository.open(repo.root).unlink(first.batch_id, "C03", actor="bob").changed
    after = stored.find(sha, "call")
    assert after is not None
    assert after.cases == frozenset()
    assert after.version == first.version + 1


def test_the_lookup_sees_a_purged_batch_as_not_stored(repo, scenario):
    import datetime as dt

    first = _ingest(repo, scenario["C03"])
    closed = {"C03": (dt.date(2000, 1, 1), False, False)}
    assert repo.purge(closed, today=dt.date(2030, 1, 1), actor="ro").batch_ids
    again = _ingest(repo, scenario["C03"])
    assert not again.noop
    assert again.batch_id != first.batch_id
    assert again.loaded == first.loaded


def test_a_reexport_with_other_formatting_is_counted_as_duplicates(repo, scenario, tmp_path):
    case = scenario["C12"]
    first = _ingest(repo, case)
    header, *rows = case["path"].read_text().splitlines()
    reexport = tmp_path / "reexport.csv"
    reexport.write_bytes(("\r\n".join([header, *reversed(rows)]) + "\r\n").encode())
    again = _ingest(repo, {**case, "path": reexport})
    assert again.batch_id != first.batch_id
    assert not again.noop
    assert again.loaded == 0
    assert again.duplicates == first.loaded + first.duplicates
    assert repo.snapshot().row_count("call_records") == first.loaded


def test_subscriber_files_go_to_their_table_and_may_be_stored_as_misc(repo, scenario):
    sub = _ingest(repo, scenario["S01"])
    assert sub.record_type == "subscriber"
    assert repo.snapshot().row_count("subscriber_records") == sub.loaded
    misc = _ingest(repo, scenario["S01"], "C77", record_type="misc")
    assert misc.record_type == "misc"
    assert misc.loaded == sub.loaded
    assert not misc.noop
    assert repo.snapshot().row_count("misc_records") == sub.loaded
    with pytest.raises(ConfigError, match="not call records") as err:
        _ingest(repo, scenario["M01"], record_type="call")
    assert err.value.file == str(scenario["M01"]["path"])


def test_a_failing_file_names_itself_and_earlier_files_stay_committed(repo, scenario, tmp_path):
    bad = tmp_path / "notes.csv"
    bad.write_text("hello,world\nnothing,here\n")
    good, later = scenario["C03"], scenario["C05"]
    with pytest.raises(DetectionError) as err:
        repo.ingest([good["path"], bad, later["path"]], case_ids=["C03"], actor="alice")
    assert err.value.file is not None
    assert err.value.file.endswith("notes.csv")
    snap = repo.snapshot()
    assert len(snap.batch_ids) == 1
    assert snap.row_count("call_records") == good["expected"]["loaded"]
    assert repo.verify().ok


def test_a_missing_file_is_a_read_error_naming_it(repo, tmp_path):
    with pytest.raises(ReadError) as err:
        repo.ingest(tmp_path / "gone.csv", case_ids=["C1"], actor="alice")
    assert err.value.reason == "unreadable"
    assert err.value.file.endswith("gone.csv")


def test_progress_reports_hash_read_and_done(repo, scenario):
    events: list[IngestProgress] = []
    report = _ingest(repo, scenario["C12"], progress=events.append)
    phases = [e.phase for e in events]
    assert phases[0] == "hash"
    assert phases[-1] == "done"
    assert "read" in phases
    size = scenario["C12"]["path"].stat().st_size
    assert all(e.bytes_total == size and 0 <= e.bytes_done <= size for e in events)
    reads = [e.rows_read for e in events if e.phase == "read"]
    assert reads == sorted(reads)
    assert 0 < reads[-1] <= report.rows_total
    assert events[-1].rows_read == report.rows_total


def test_adapter_sample_files_ingest(repo, tmp_path):
    for case_file in sorted(FILES.glob("*/case.toml")):
        spec = tomllib.loads(case_file.read_text())
        if spec.get("refused") or spec.get("error"):
            continue
        source = tmp_path / case_file.parent.name / spec["file"]
        source.parent.mkdir()
        shutil.copy(case_file.parent / spec["file"], source)
        expected = json.loads((case_file.parent / "expected_report.json").read_text())
        (report,) = repo.ingest(
            source,
            case_ids=["C1"],
            actor="alice",
            layout=spec.get("layout", "auto"),
            source_tz=spec.get("tz"),
            target=spec.get("target"),
            region=spec.get("region"),
        )
        assert dict(report.rejected) == expected["rejected"], case_file
        assert report.loaded + report.duplicates - expected["duplicates"] == expected["loaded"]
    assert repo.verify().ok


def test_bad_arguments_are_refused_before_reading(repo, scenario):
    with pytest.raises(ConfigError):
        repo.ingest(scenario["C03"]["path"], case_ids=[], actor="alice")
    with pytest.raises(ConfigError):
        repo.ingest(scenario["C03"]["path"], case_ids=["../x"], actor="alice")
    with pytest.raises(ConfigError):
        repo.ingest(scenario["C03"]["path"], case_ids=["C1"], actor="")
    with pytest.raises(ConfigError):
        repo.ingest([], case_ids=["C1"], actor="alice")
    assert repo.snapshot().batch_ids == frozenset()


def test_importing_the_store_does_not_import_the_adapters():
    code = "import sys, tls_core.store; print('penlink_adapters' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


_RACER = """
import pathlib, sys, time
from tls_core.store import Repository
repo = Repository.open(sys.argv[1])
print("ready", flush=True)
go = pathlib.Path(sys.argv[3])
while not go.exists():
    time.sleep(0.005)
(report,) = repo.ingest(sys.argv[2], case_ids=["C03"], actor="alice")
print(report.batch_id, report.loaded, report.noop, flush=True)
"""


def test_two_processes_ingesting_the_same_file_store_it_once(repo, scenario, tmp_path):
    go = tmp_path / "go"
    args = [str(repo.root), str(scenario["C03"]["path"]), str(go)]
    racers = [
        subprocess.Popen([sys.executable, "-c", _RACER, *args], stdout=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    for racer in racers:
        assert racer.stdout is not None
        assert racer.stdout.readline().strip() == "ready"
    go.touch()
    results = []
    for racer in racers:
        out, _ = racer.communicate(timeout=120)
        assert racer.returncode == 0
        batch, loaded, noop = out.split()
        results.append((batch, int(loaded), noop == "True"))
    assert results[0][0] == results[1][0]
    assert sorted((loaded, noop) for _, loaded, noop in results) == [(0, True), (24, False)]
    assert repo.snapshot().row_count("call_records") == 24


def _growing(scenario, tmp_path, phase):
    """A copy of a return, and a progress callback appending a line at the first ``phase``."""
    path = tmp_path / "changing.csv"
    shutil.copy(scenario["C12"]["path"], path)
    touched: list[bool] = []

    def meddle(event: IngestProgress) -> None:
        if event.phase == phase and not touched:
            touched.append(True)  # a carrier export still being written: one more line
            with path.open("ab") as fh:
                fh.write(b"\n")

    return {**scenario["C12"], "path": path}, meddle, touched


def test_a_file_changed_after_its_hash_commits_nothing(repo, scenario, tmp_path):
    """The adapters take the store's hash on trust; the file's identity proves it still holds."""
    case, meddle, touched = _growing(scenario, tmp_path, "read")
    before = repo.snapshot().version
    with pytest.raises(StoreError) as err:
        _ingest(repo, case, progress=meddle)
    assert touched
    assert err.value.reason == "source_changed"
    assert err.value.file == str(case["path"])
    assert repo.snapshot().version == before
    assert repo.verify().ok


def test_a_change_before_the_hash_ends_is_hashed_and_read(repo, scenario, tmp_path):
    case, meddle, touched = _growing(scenario, tmp_path, "hash")
    report = _ingest(repo, case, progress=meddle)
    assert touched
    assert report.sha256 == hashlib.sha256(case["path"].read_bytes()).hexdigest()
    assert report.loaded == scenario["C12"]["expected"]["loaded"]
