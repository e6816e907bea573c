from __future__ import annotations

import pytest

from benchmarks.synth_ids import identifier_column


@pytest.fixture(scope="session")
def one_million_ten_percent_distinct():
    return identifier_column(1_000_000, 100_000)


@pytest.fixture(scope="session")
def all_distinct():
    return identifier_column(200_000, 10_000_000)
