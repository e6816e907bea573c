"""Disk full (a child with RLIMIT_FSIZE): typed error naming the phase, nothing half-stored."""

from __future__ import annotations

import subprocess
import sys

import storekit as k

from tls_core.store import Repository

CHILD = """
import resource, signal, sys
sys.path.insert(0, {here!r})
import storekit as k
from tls_core.errors import StoreError
from tls_core.store import Repository

repo = Repository.open({root!r})
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # get EFBIG instead of being killed
resource.setrlimit(resource.RLIMIT_FSIZE, (16 * 1024, 16 * 1024))
try:
    k.commit(repo, "big.csv", 3000)
except StoreError as err:
    print(err.reason, "|", err.message.split(":")[0])
"""


def test_disk_full_is_a_typed_error_and_leaves_earlier_data_intact(tmp_path):
    root = tmp_path / "repo"
    repo = Repository.open(root)
    k.commit(repo, "small.csv", 10)
    before = {p: p.read_bytes() for p in (root / "tables").rglob("*.parquet")}
    code = CHILD.format(here=str(k.__file__).rsplit("/", 1)[0], root=str(root))
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "disk_full | the commit failed while staging the records"
    repo = Repository.open(root)
    assert k.count(repo) == 10
    assert repo.verify().ok
    for path, data in before.items():
        assert path.read_bytes() == data
    assert k.commit(repo, "big.csv", 3000).loaded == 3000
    assert repo.verify().orphans == ()
