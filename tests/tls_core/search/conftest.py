from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

HERE = Path(__file__).parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

from searchkit import open_office  # noqa: E402


@pytest.fixture
def repo(tmp_path: Path):
    from tls_core.store import Repository

    return Repository.open(tmp_path / "repo")


@pytest.fixture
def office(tmp_path: Path) -> Iterator:
    store = open_office(tmp_path)
    yield store
    store.engine.dispose()
    store.audit.engine.dispose()
