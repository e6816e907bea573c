"""How a failed read action is audited: ``denied`` for a refusal, ``failed`` for the rest."""

from __future__ import annotations

from tls_core.errors import AccessDenied
from tls_core.protocols import Outcome

__all__ = ["outcome_of"]


def outcome_of(err: BaseException) -> Outcome:
    """``denied`` when the policy refused (unknown user, lapsed training), else ``failed``."""
    return "denied" if isinstance(err, AccessDenied) else "failed"
