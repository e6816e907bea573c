"""Reading: encodings, XLSX, zones, streaming, accounting, content columns."""

from __future__ import annotations

import csv
import dataclasses
import io
from datetime import UTC, datetime, time
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pytest
import xlsxwriter

import penlink_adapters as pla
from tls_core.errors import ConfigError, DetectionError, ReadError

TMOBILE = Path(__file__).parent / "files" / "tmobile" / "tmobile_v170711.csv"


def _rows(table: pa.Table) -> list[dict[str, object]]:
    drop = {"source_sha256"}
    return [{k: v for k, v in r.items() if k not in drop} for r in table.to_pylist()]


@pytest.mark.parametrize(
    ("encoding", "newline"),
    [
        ("utf-8", "\n"),
        ("utf-8-sig", "\r\n"),
        ("utf-16", "\r\n"),
        ("utf-16", "\n"),
        ("cp1252", "\n"),
    ],
)
def test_encodings_and_line_endings_read_the_same(
    tmp_path: Path, encoding: str, newline: str
) -> None:
    text = TMOBILE.read_text(encoding="utf-8").replace("SWITCH01", "SWITCH-Zürich")
    path = tmp_path / "tmo.csv"
    path.write_bytes(text.replace("\r\n", "\n").replace("\n", newline).encode(encoding))
    expected, expected_rejects, _ = pla.read_return(TMOBILE)
    records, rejects, report = pla.read_return(path)
    assert report.encoding in {encoding, "utf-8" if encoding == "utf-8-sig" else encoding}
    assert _rows(records) == _rows(expected)
    assert rejects.num_rows == expected_rejects.num_rows
    assert report.balanced


def test_cp1252_is_chosen_when_bytes_are_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "phonebook.csv"
    path.write_bytes(
        "identifier,name,source_description\n2125550901,Café Olé,Seized phone book\n".encode(
            "cp1252"
        )
    )
    records, _, report = pla.read_return(path)
    assert report.encoding == "cp1252"
    assert records.column("subscriber_name").to_pylist() == ["Café Olé"]


def test_xlsx_with_preamble_keeps_identifiers_as_text(tmp_path: Path) -> None:
    rows = list(csv.reader(io.StringIO(TMOBILE.read_text(encoding="utf-8"))))
    path = tmp_path / "tmo.xlsx"
    book = xlsxwriter.Workbook(str(path))
    sheet = book.add_worksheet()
    for i, row in enumerate(rows):
        for j, value in enumerate(row):
            # Carriers' workbooks hold numbers as numbers: identifiers must come back as text.
            if value.isdigit() and len(value) < 16:
                sheet.write_number(i, j, int(value))
            elif value:
                sheet.write_string(i, j, value)
    book.close()
    records, _, report = pla.read_return(path)
    expected, _, expected_report = pla.read_return(TMOBILE)
    assert report.encoding == "xlsx"
    assert report.layout == "tmobile"
    assert records.column("orig_raw").to_pylist() == expected.column("orig_raw").to_pylist()
    assert records.column("target_imsi").to_pylist() == expected.column("target_imsi").to_pylist()
    assert report.loaded == expected_report.loaded


def test_local_layout_without_zone_is_refused(io_files_path: Path) -> None:
    with pytest.raises(ReadError) as info:
        pla.read_return(io_files_path / "sprint_cdma" / "sprint_cdma.csv")
    assert info.value.reason == "zone_required"


def test_unknown_zone_is_a_config_error(io_files_path: Path) -> None:
    with pytest.raises(ConfigError, match="unknown time zone"):
        pla.read_return(io_files_path / "sprint_cdma" / "sprint_cdma.csv", source_tz="Mars/Base")


def test_tz_is_ignored_with_a_warning_for_utc_layouts() -> None:
    _, _, report = pla.read_return(TMOBILE, source_tz="America/Chicago")
    assert report.tz_source == "carrier_utc"
    assert any("--tz America/Chicago ignored" in w for w in report.warnings)


def test_dst_rejections_are_never_shifted(io_files_path: Path) -> None:
    _, rejects, report = pla.read_return(
        io_files_path / "generic" / "analyst.csv", source_tz="America/New_York"
    )
    assert report.rejected["dst_nonexistent"] == 1
    assert report.rejected["dst_ambiguous"] == 1
    reasons = dict(
        zip(
            rejects.column("source_row").to_pylist(),
            rejects.column("reason").to_pylist(),
            strict=True,
        )
    )
    assert reasons[4] == "dst_nonexistent"
    assert reasons[5] == "dst_ambiguous"


def test_streaming_in_small_chunks_equals_one_read() -> None:
    whole, whole_rejects, whole_report = pla.read_return(TMOBILE)
    scan = pla.scan_return(TMOBILE, chunk_rows=2)
    parts = list(scan)
    assert len(parts) > 3
    records = pa.concat_tables([p[0] for p in parts])
    rejects = pa.concat_tables([p[1] for p in parts])
    assert records.equals(whole)
    assert rejects.num_rows == whole_rejects.num_rows
    assert scan.report() == whole_report


def test_report_before_the_end_is_an_error() -> None:
    scan = pla.scan_return(TMOBILE)
    with pytest.raises(ReadError):
        scan.report()


def test_content_column_never_survives() -> None:
    records, rejects, report = pla.read_return(TMOBILE)
    assert report.dropped_columns == ("Message Text",)
    text = str(records.to_pylist()) + str(rejects.to_pylist())
    assert "hello there" not in text


def test_wrong_field_count_is_a_bad_row(tmp_path: Path) -> None:
    path = tmp_path / "tmo.csv"
    lines = TMOBILE.read_text(encoding="utf-8").splitlines()
    lines.insert(6, "03/14/2021,07:31:00,0,SMSc")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    _, rejects, report = pla.read_return(path)
    assert report.rejected["bad_row"] == 1
    assert (
        "4 fields, expected 15"
        in rejects.filter(pc.equal(rejects.column("reason"), "bad_row")).column("detail")[0].as_py()
    )
    assert report.balanced


def test_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.csv"
    path.write_bytes(b"")
    with pytest.raises(DetectionError, match="no known layout"):
        pla.read_return(path)


def test_target_inferred_from_rows_when_not_given(io_files_path: Path) -> None:
    _, _, report = pla.read_return(io_files_path / "orange_d4d" / "A_orange.csv", source_tz="UTC")
    assert (report.target, report.target_source) == ("A_orange", "rows")


@pytest.mark.parametrize(
    ("folder", "file", "tz"),
    [("att", "att_records_key.csv", None), ("sprint_cdma", "sprint_cdma.csv", "America/Chicago")],
)
def test_report_does_not_depend_on_chunking(
    io_files_path: Path, folder: str, file: str, tz: str | None
) -> None:
    path = io_files_path / folder / file
    _, _, whole = pla.read_return(path, source_tz=tz)
    scan = pla.scan_return(path, source_tz=tz, chunk_rows=1)
    records = pa.concat_tables([p[0] for p in scan])
    assert scan.report() == whole
    assert records.num_rows == whole.loaded


def test_wrong_explicit_layout_warns(io_files_path: Path) -> None:
    path = io_files_path / "att" / "att_records_key.csv"
    _, _, report = pla.read_return(path, layout="tmobile")
    assert any("does not look like layout tmobile" in w for w in report.warnings)
    assert report.balanced


def test_xlsx_date_and_time_cells(tmp_path: Path) -> None:
    path = tmp_path / "tmo.xlsx"
    book = xlsxwriter.Workbook(str(path))
    sheet = book.add_worksheet()
    date_fmt = book.add_format({"num_format": "mm/dd/yyyy"})
    time_fmt = book.add_format({"num_format": "hh:mm:ss"})
    sheet.write_row(0, 0, ["T-Mobile USA"])
    sheet.write_row(1, 0, TMOBILE.read_text(encoding="utf-8").splitlines()[4].split(","))
    sheet.write_datetime(2, 0, datetime(2021, 3, 14), date_fmt)
    sheet.write_datetime(2, 1, time(10, 0, 5), time_fmt)
    sheet.write_row(2, 2, [60, "mSOriginating", "Outgoing"])
    sheet.write_number(2, 5, 2125550001)
    sheet.write_number(2, 7, 2125550002)
    book.close()
    records, rejects, report = pla.read_return(path)
    assert report.layout == "tmobile"
    assert rejects.num_rows == 0
    assert records.column("start_utc")[0].as_py() == datetime(2021, 3, 14, 10, 0, 5, tzinfo=UTC)
    assert records.column("orig_canonical").to_pylist() == ["+12125550001"]


@pytest.mark.parametrize("fast", [True, False])
def test_a_vouched_sha256_is_used_and_not_recomputed_5(tmp_path: Path, fast: bool) -> None:
    """Issue 5: a caller that hashed the file passes the hash; the adapters take it as is."""
    import hashlib

    path = tmp_path / "calls.csv"
    path.write_bytes(TMOBILE.read_bytes() + b"broken,row\n")  # a reject too
    true_sha = hashlib.sha256(path.read_bytes()).hexdigest()
    vouched = "0123456789abcdef" * 4  # not the file's hash: proves no second hash ran
    plain = pla.ReturnScan(path, "auto", None, None, None, 100_000, fast=fast)
    given = pla.ReturnScan(path, "auto", None, None, None, 100_000, fast=fast, sha256=vouched)
    assert plain.info.sha256 == true_sha
    assert given.info.sha256 == vouched
    plain_parts, given_parts = list(plain), list(given)
    for parts, sha in ((plain_parts, true_sha), (given_parts, vouched)):
        records = pa.concat_tables([p[0] for p in parts])
        rejects = pa.concat_tables([p[1] for p in parts])
        assert records.num_rows > 0
        assert rejects.num_rows > 0
        assert set(records.column("source_sha256").to_pylist()) == {sha}
        assert set(rejects.column("source_sha256").to_pylist()) == {sha}
    assert given.report().sha256 == vouched
    assert plain.report() == dataclasses.replace(given.report(), sha256=true_sha)
    records, _, report = pla.read_return(path, sha256=vouched)
    assert report.sha256 == vouched
    assert set(records.column("source_sha256").to_pylist()) == {vouched}


@pytest.mark.parametrize("threads", [1, 2])
def test_the_hash_of_a_scan_is_the_files_whoever_computes_it(tmp_path: Path, threads: int) -> None:
    """With two threads the file is hashed in a helper thread while it is read; the
    provenance of every record and reject and the report carry the same hash as with one."""
    import hashlib

    path = tmp_path / "calls.csv"
    path.write_bytes(TMOBILE.read_bytes() + b"broken,row\n")  # a reject too
    true_sha = hashlib.sha256(path.read_bytes()).hexdigest()
    scan = pla.scan_return(path, threads=threads)  # type: ignore[arg-type]
    parts = list(scan)
    for table in (*(p[0] for p in parts), *(p[1] for p in parts)):
        assert set(table.column("source_sha256").to_pylist()) <= {true_sha}
    assert sum(p[1].num_rows for p in parts) > 0
    assert scan.report().sha256 == true_sha == scan.info.sha256


def test_a_hash_nobody_wants_stops_early(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A scan that fails before it starts (here: no layout fits) stops its helper's hash."""
    import hashlib
    import threading
    import time

    from penlink_adapters import _read
    from penlink_adapters._source import sha256_of

    stops: list[threading.Event] = []

    def watched(path: Path, *, stop: threading.Event | None = None) -> str:
        assert stop is not None
        stops.append(stop)
        return sha256_of(path, stop=stop)

    monkeypatch.setattr(_read, "sha256_of", watched)
    path = tmp_path / "notes.csv"
    path.write_bytes(b"colour,shape\nred,square\n" * 400_000)
    with pytest.raises(DetectionError):
        pla.scan_return(path)
    # The helper thread may start the hash only after the scan has failed: wait for it.
    deadline = time.monotonic() + 30
    while not stops and time.monotonic() < deadline:
        time.sleep(0.01)
    assert len(stops) == 1
    assert stops[0].is_set()
    assert sha256_of(path, stop=stops[0]) == ""
    assert sha256_of(path) == hashlib.sha256(path.read_bytes()).hexdigest()
    with pytest.raises(ReadError):
        sha256_of(tmp_path / "missing.csv")


@pytest.mark.parametrize("how", ["error", "dropped"])
def test_a_read_left_unfinished_stops_the_hash(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, how: str
) -> None:
    """A scan whose read fails while the helper hashes the file, or that is dropped unread,
    stops the hash; its ``info`` still names the file's SHA-256 (hashed again when asked)."""
    import gc
    import hashlib
    import threading

    from benchmarks.read_scale import synth_file
    from penlink_adapters import _read
    from penlink_adapters._source import sha256_of

    path = synth_file(3_000, seed=5)
    stops: list[threading.Event] = []
    stopped = threading.Event()

    def waiting(path: Path, *, stop: threading.Event | None = None) -> str:
        assert stop is not None
        stops.append(stop)
        if stop.wait(10):  # a hash that takes until no one wants it
            stopped.set()
            return sha256_of(path, stop=stop)
        return sha256_of(path)

    def failing(self: _read.ReturnScan, chunk: object) -> object:
        raise ReadError("conversion failed", file=str(path))

    monkeypatch.setattr(_read, "sha256_of", waiting)
    scan = pla.ReturnScan(path, "auto", None, None, None, 100, threads=2)
    if how == "error":
        monkeypatch.setattr(_read.ReturnScan, "_convert", failing)
        with pytest.raises(ReadError, match="conversion failed"):
            list(scan)
        assert stopped.wait(10)
        monkeypatch.setattr(_read, "sha256_of", sha256_of)
        assert scan.info.sha256 == hashlib.sha256(Path(path).read_bytes()).hexdigest()
    else:
        del scan
        gc.collect()
        assert stopped.wait(10)
    assert len(stops) == 1
    assert stops[0].is_set()


def test_chunks_held_while_hashing_come_out_in_order(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """While the helper thread hashes, the tables are assembled and held (up to a bound) and
    the steps before them keep working; the chunks then come out in order, records and
    rejects each naming the file's hash: the same as a one-thread scan."""
    import hashlib
    import threading

    from benchmarks.read_scale import synth_file
    from penlink_adapters import _read
    from penlink_adapters._source import sha256_of

    lines = synth_file(3_000, seed=5).read_bytes().split(b"\r\n")
    for at in range(7, len(lines) - 1, 97):  # a date no calendar has: a reject in most chunks
        lines[at] = b"13/45/2021" + lines[at][len(b"03/01/2021") :]
    path = tmp_path / "held.csv"
    path.write_bytes(b"\r\n".join(lines))
    assembled: list[int] = []
    seen_by_hash: list[int] = []
    assemble = _read.ReturnScan._assemble

    def counted(self: _read.ReturnScan, *args: Any) -> Any:
        assembled.append(1)
        return assemble(self, *args)

    def slow(path: Path, *, stop: threading.Event | None = None) -> str:
        import time as clock

        deadline = clock.monotonic() + 10
        while len(assembled) < _read.HELD_WHILE_HASHING and clock.monotonic() < deadline:
            clock.sleep(0.01)
        seen_by_hash.append(len(assembled))
        return sha256_of(path, stop=stop)

    monkeypatch.setattr(_read.ReturnScan, "_assemble", counted)
    monkeypatch.setattr(_read, "sha256_of", slow)
    two = list(pla.ReturnScan(path, "auto", None, None, None, 100, threads=2))
    # Tables made while the hash waited, and no more than the bound (the next chunk's tables
    # may be made while the hash ends: they wait for it then).
    assert _read.HELD_WHILE_HASHING <= seen_by_hash[0] <= _read.HELD_WHILE_HASHING + 1
    one = list(pla.ReturnScan(path, "auto", None, None, None, 100, threads=1))
    assert len(two) == len(one) > _read.HELD_WHILE_HASHING
    for (r2, j2), (r1, j1) in zip(two, one, strict=True):
        assert r2.equals(r1, check_metadata=True)
        assert j2.equals(j1, check_metadata=True)
    sha = hashlib.sha256(path.read_bytes()).hexdigest()
    assert {v for r, _ in two for v in r.column("source_sha256").to_pylist()} == {sha}
    held_rejects = [j for _, j in two[: _read.HELD_WHILE_HASHING] if j.num_rows]
    assert len(held_rejects) > _read.HELD_WHILE_HASHING // 2
    assert {v for j in held_rejects for v in j.column("source_sha256").to_pylist()} == {sha}


def test_steps_take_turns_while_the_file_is_hashed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """While the helper thread hashes the file, the cut, conversion and normalization steps
    run one at a time (the hash keeps a core); the result is the one-thread scan's."""
    import threading
    import time as clock

    from benchmarks.read_scale import synth_file
    from penlink_adapters import _read
    from penlink_adapters._source import sha256_of

    path = synth_file(3_000, seed=5)
    lock = threading.Lock()
    busy = [0]
    most: list[int] = []  # the most steps at once, per step begun while hashing
    hashing = threading.Event()
    steps_while_hashing = [0]

    def step(fn: Any) -> Any:
        with lock:
            busy[0] += 1
            if hashing.is_set():
                steps_while_hashing[0] += 1
        clock.sleep(0.003)  # long enough for another step to begin, were it let
        try:
            return fn()
        finally:
            with lock:
                if hashing.is_set():
                    most.append(busy[0])
                busy[0] -= 1

    chunks, convert, prepare = (
        _read.ReturnScan._chunks,
        _read.ReturnScan._convert,
        _read.ReturnScan._prepare,
    )

    def stepped_chunks(self: _read.ReturnScan) -> Any:
        items = chunks(self)
        while (item := step(lambda: next(items, None))) is not None:
            yield item

    def slow(path: Path, *, stop: threading.Event | None = None) -> str:
        hashing.set()
        deadline = clock.monotonic() + 10
        while steps_while_hashing[0] < 12 and clock.monotonic() < deadline:
            clock.sleep(0.01)
        with lock:
            hashing.clear()
        return sha256_of(path, stop=stop)

    monkeypatch.setattr(_read.ReturnScan, "_chunks", stepped_chunks)
    monkeypatch.setattr(
        _read.ReturnScan, "_convert", lambda self, c: step(lambda: convert(self, c))
    )
    monkeypatch.setattr(
        _read.ReturnScan, "_prepare", lambda self, d, c: step(lambda: prepare(self, d, c))
    )
    monkeypatch.setattr(_read, "sha256_of", slow)
    two = list(pla.ReturnScan(path, "auto", None, None, None, 100, threads=2))
    assert steps_while_hashing[0] >= 12
    assert most
    assert max(most) == 1
    one = list(pla.ReturnScan(path, "auto", None, None, None, 100, threads=1))
    assert len(two) == len(one)
    for (r2, j2), (r1, j1) in zip(two, one, strict=True):
        assert r2.equals(r1)
        assert j2.equals(j1)


def test_provenance_repeats_a_value_for_any_chunk_length():
    from penlink_adapters._assemble import Provenance

    prov = Provenance("f.csv", "ab" * 32, pla.get_layout_or_raise("tmobile"))
    for n in (3, 1, 5, 0, 5):
        assert prov.repeated("ab" * 32, n).to_pylist() == ["ab" * 32] * n
    assert prov.repeated("tmobile", 2).to_pylist() == ["tmobile", "tmobile"]
    assert prov == Provenance("f.csv", "ab" * 32, prov.layout)  # the cache is not compared
