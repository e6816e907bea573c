"""A thin bridge into a minimal case store: cases, access policy, outbox and audit log."""

from __future__ import annotations

__all__: list[str] = []
