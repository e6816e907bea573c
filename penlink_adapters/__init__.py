"""Read carrier returns in their many layouts into the canonical TLS schema."""

from __future__ import annotations

__all__: list[str] = []
