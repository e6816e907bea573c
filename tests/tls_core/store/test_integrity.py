"""Truncated, bit-flipped, foreign and planted files: detected before any row is served."""

from __future__ import annotations

import os
import random
import shutil

import pyarrow.parquet as pq
import pytest
import storekit as k

from tls_core.errors import IntegrityError
from tls_core.store import Repository

TRIALS = 30


@pytest.fixture
def filled(tmp_path):
    root = tmp_path / "repo"
    repo = Repository.open(root)
    k.commit(repo, "a.csv", 200)
    k.commit(repo, "b.csv", 50)
    return root


def _data_files(root):
    return sorted((root / "tables" / "call_records").glob("*.parquet"))


def _assert_detected(root, path):
    repo = Repository.open(root)  # a fresh process-level cache, as a new reader would have
    with pytest.raises(IntegrityError) as caught:
        repo.snapshot().connect()
    assert caught.value.file == str(path)
    with pytest.raises(IntegrityError):
        repo.snapshot().read("call_records")
    report = repo.verify()
    assert not report.ok
    assert any(str(path) in problem for problem in report.problems)


def test_truncation_at_random_offsets_is_always_detected(filled):
    rng = random.Random(1)
    for _ in range(TRIALS):
        path = rng.choice(_data_files(filled))
        pristine = path.read_bytes()
        cut = rng.randrange(0, len(pristine))
        path.write_bytes(pristine[:cut])
        _assert_detected(filled, path)
        path.write_bytes(pristine)
    assert Repository.open(filled).verify().ok


def test_single_byte_flips_are_always_detected(filled):
    rng = random.Random(2)
    for _ in range(TRIALS):
        path = rng.choice(_data_files(filled))
        pristine = path.read_bytes()
        offset = rng.randrange(0, len(pristine))
        flipped = bytearray(pristine)
        flipped[offset] ^= 1 << rng.randrange(8)
        path.write_bytes(bytes(flipped))
        _assert_detected(filled, path)
        path.write_bytes(pristine)
    assert Repository.open(filled).verify().ok


def test_a_flipped_registry_file_is_detected(filled):
    path = sorted((filled / "tables" / "registry").glob("*.parquet"))[0]
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x10
    path.write_bytes(bytes(data))
    with pytest.raises(IntegrityError):
        Repository.open(filled).snapshot()


def test_a_foreign_parquet_file_is_never_read(filled):
    repo = Repository.open(filled)
    before = k.count(repo)
    for name in ("evil.parquet", f"{'a' * 32}-{'b' * 64}.parquet"):
        pq.write_table(k.calls("evil.csv", 7), filled / "tables" / "call_records" / name)
    assert k.count(Repository.open(filled)) == before
    report = Repository.open(filled).verify()
    assert report.ok
    assert report.foreign == ("tables/call_records/evil.parquet",)
    assert len(report.orphans) == 1
    repo.collect_garbage()  # store-named orphans go; foreign files are left and reported
    assert len(Repository.open(filled).verify().orphans) == 0


def test_a_symlinked_data_file_is_refused(filled, tmp_path):
    path = _data_files(filled)[0]
    elsewhere = tmp_path / "elsewhere.parquet"
    shutil.copy(path, elsewhere)
    path.unlink()
    os.symlink(elsewhere, path)
    with pytest.raises(IntegrityError, match="symbolic link"):
        Repository.open(filled).snapshot().connect()
    assert not Repository.open(filled).verify().ok


def test_a_symlinked_table_directory_is_refused(filled, tmp_path):
    table = filled / "tables" / "rejects"
    moved = tmp_path / "moved"
    shutil.move(table, moved)
    os.symlink(moved, table)
    with pytest.raises(IntegrityError, match="symbolic link"):
        Repository.open(filled)


@pytest.mark.parametrize("planted", ["../../../outside.parquet", "/etc/passwd", "x/../y.parquet"])
def test_paths_escaping_the_table_are_refused(filled, planted):
    from deltalake import DeltaTable
    from deltalake.transaction import AddAction

    from tls_core.store._layout import STORED_SCHEMAS

    dt = DeltaTable(str(filled / "tables" / "call_records"))
    dt.create_write_transaction(
        [AddAction(planted, 10, {}, 0, True, "{}")], "append", STORED_SCHEMAS["call_records"]
    )
    with pytest.raises(IntegrityError, match="never writes"):
        Repository.open(filled).snapshot()
    assert not Repository.open(filled).verify().ok
