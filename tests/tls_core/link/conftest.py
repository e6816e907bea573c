from __future__ import annotations

import sys
from pathlib import Path

import pytest

HERE = Path(__file__).parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))


@pytest.fixture
def repo(tmp_path):
    from tls_core.store import Repository

    return Repository.open(tmp_path / "repo")
