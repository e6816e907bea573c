from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, settings

from tests._cli import Runner, runner

settings.register_profile(
    "default", max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile("nojit", max_examples=40, deadline=None)
settings.register_profile("nightly", max_examples=5000, deadline=None)
settings.load_profile(os.environ.get("TLS_HYPOTHESIS_PROFILE", "default"))


@pytest.fixture
def tls(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Runner:
    """The ``tls`` command run in-process (:func:`tests._cli.runner`)."""
    return runner(capsys, monkeypatch)
