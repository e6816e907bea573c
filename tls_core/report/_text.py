"""Escaping for text that comes from carrier files and users: HTML, SVG and embedded JSON.

Identifiers, names and titles are hostile until escaped: a subscriber name can be
``</script><script>alert(1)``. Text and attributes go through :func:`text` / :func:`attr`;
data embedded for the page's script goes through :func:`script_json`, which leaves no ``<``,
``>`` or ``&`` in the script element, so nothing inside it can close it.
"""

from __future__ import annotations

import html
import json
import re
from typing import Final

__all__ = ["attr", "clip", "script_json", "text"]

# Characters XML 1.0 forbids (the .svg file must parse as XML) and lone surrogates.
_FORBIDDEN: Final = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ufffe\uffff\ud800-\udfff]")


def text(value: str) -> str:
    """Escape ``value`` for element content (HTML and XML).

    >>> text('</script><b a="1">')
    '&lt;/script&gt;&lt;b a=&quot;1&quot;&gt;'
    """
    # A raw CR would read back as LF (HTML and XML normalize newlines): keep it as a reference.
    return html.escape(_FORBIDDEN.sub("\ufffd", value), quote=True).replace("\r", "&#13;")


def attr(value: str) -> str:
    r"""Escape ``value`` for a double- or single-quoted attribute (HTML and XML).

    >>> attr("it's \"x\"")
    'it&#x27;s &quot;x&quot;'
    """
    return text(value)


def clip(value: str, limit: int) -> str:
    """Shorten ``value`` to ``limit`` characters with an ellipsis (labels; tooltips keep all).

    >>> clip("+12065550100", 8)
    '+120655…'
    """
    return value if len(value) <= limit else value[: limit - 1] + "…"


def script_json(value: object) -> str:
    r"""Serialize ``value`` as JSON safe inside ``<script type="application/json">``.

    Output is ASCII with ``<``, ``>``, ``&`` (and U+2028/9) as ``\u`` escapes, so it can
    neither close the element nor open a comment; ``JSON.parse`` reads it back unchanged.

    >>> script_json({"name": "</script><script>alert(1)"})
    '{"name": "\\u003c/script\\u003e\\u003cscript\\u003ealert(1)"}'
    """
    dumped = json.dumps(value, ensure_ascii=True, sort_keys=True, allow_nan=False)
    return dumped.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
