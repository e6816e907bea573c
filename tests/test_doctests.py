"""Examples in docstrings are tests."""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import tls_core

MODULES = sorted(
    m.name for m in pkgutil.walk_packages(tls_core.__path__, "tls_core.") if "cli" not in m.name
)


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0
