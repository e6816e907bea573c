"""tls: link telecommunications records across investigative cases.

Stages, each a subpackage or module: :mod:`tls_core.schema` (canonical Arrow schemas),
:mod:`tls_core.identifiers` (the identifier canon), :mod:`tls_core.store` (the repository of
Delta tables), :mod:`tls_core.errors` (the error tree).
"""

from __future__ import annotations

__all__: list[str] = []
__version__ = "0.1.0"
