"""The shipped layouts (``penlink_adapters/layouts/*.toml``) and lookup by name or path."""

from __future__ import annotations

import functools
from importlib import resources
from pathlib import Path

from penlink_adapters._layout import Layout, load_layout
from tls_core.errors import ConfigError, LayoutError

__all__ = ["builtin_layouts", "get_layout_or_raise", "list_layouts"]


@functools.cache
def builtin_layouts() -> dict[str, Layout]:
    """Return every shipped layout by name (loaded once, on first use).

    Raises:
        LayoutError: a shipped layout file is invalid or two share a name.
    """
    out: dict[str, Layout] = {}
    folder = resources.files("penlink_adapters") / "layouts"
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if not entry.name.endswith(".toml"):
            continue
        with resources.as_file(entry) as path:
            layout = load_layout(path)
        if layout.name in out:
            raise LayoutError(f"two shipped layouts are named {layout.name!r}", file=str(path))
        out[layout.name] = layout
    return out


def list_layouts() -> list[Layout]:
    """Return the shipped layouts sorted by name."""
    return [builtin_layouts()[k] for k in sorted(builtin_layouts())]


def get_layout_or_raise(layout: str | Path | Layout) -> Layout:
    """Resolve a layout given by name, by path to a TOML file, or as a :class:`Layout`.

    Raises:
        ConfigError: no shipped layout has that name and no such file exists.
        LayoutError: the file is not a valid layout.
    """
    if isinstance(layout, Layout):
        return layout
    text = str(layout)
    if text.endswith(".toml") or Path(text).is_file():
        return load_layout(text)
    known = builtin_layouts()
    if text in known:
        return known[text]
    raise ConfigError(
        f"unknown layout {text!r}",
        value=text,
        reason="unknown_layout",
        hint=f"known layouts: {', '.join(sorted(known))}; or pass a path to a .toml file",
    )
