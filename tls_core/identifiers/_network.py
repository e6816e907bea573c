"""Network identifiers: e-mail address, URL and IP address (per-value reference functions)."""

from __future__ import annotations

import ipaddress
import re
from typing import Final
from urllib.parse import urlsplit, urlunsplit

__all__ = ["canon_email", "canon_ip", "canon_url", "looks_like_url"]

Canon = tuple[str | None, str, str | None]

_EMAIL: Final = re.compile(r"^[^@\s<>()\[\],;:\"]+@[^@\s<>()\[\],;:\"]+\.[^@\s<>()\[\],;:\".]+$")
_DEFAULT_PORTS: Final = {"http": 80, "https": 443, "ftp": 21}


def canon_email(raw: str) -> Canon:
    """Canonical e-mail address: ``mailto:`` and angle brackets removed, lower case.

    Providers treat the local part case-insensitively in practice; linking does too.
    """
    s = raw.strip()
    if s.lower().startswith("mailto:"):
        s = s[7:]
    s = s.strip().strip("<>").strip().rstrip(".")
    if not _EMAIL.match(s):
        return None, "rejected", "bad_email"
    local, _, domain = s.rpartition("@")
    try:
        domain = domain.encode("idna").decode("ascii")
    except UnicodeError:
        return None, "rejected", "bad_email"
    return f"{local}@{domain}".lower(), "ok", None


def looks_like_url(s: str) -> bool:
    """Return whether ``s`` is written as a URL (a scheme, or a leading ``www.``)."""
    low = s.lower()
    return "://" in low[:12] or low.startswith("www.")


def canon_url(raw: str) -> Canon:
    """Canonical URL: scheme and host lower-cased, default port and fragment removed.

    A value without a scheme (``www.example.com/x``) is read as ``http``. The path, query and
    their case are kept: they are the identifier.
    """
    s = raw.strip()
    if "://" not in s[:12]:
        s = "http://" + s
    try:
        parts = urlsplit(s)
        port = parts.port
    except ValueError:
        return None, "rejected", "bad_url"
    host = (parts.hostname or "").rstrip(".")
    if not host or " " in s or ("." not in host and host != "localhost"):
        return None, "rejected", "bad_url"
    scheme = parts.scheme.lower()
    netloc = host if ":" not in host else f"[{host}]"
    if port is not None and _DEFAULT_PORTS.get(scheme) != port:
        netloc += f":{port}"
    if parts.username:
        netloc = f"{parts.username}@{netloc}"
    path = parts.path or "/"
    return urlunsplit((scheme, netloc, path, parts.query, "")), "ok", None


def canon_ip(raw: str) -> Canon:
    """Canonical IP address text: dotted quad for IPv4, RFC 5952 compressed form for IPv6.

    An IPv4-mapped IPv6 address (``::ffff:192.0.2.1``) is the IPv4 address it carries.
    Leading zeros in IPv4 octets are refused (ambiguous: octal or decimal).
    """
    s = raw.strip().strip("[]")
    try:
        addr = ipaddress.ip_address(s)
    except ValueError:
        return None, "rejected", "bad_ip"
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        return str(addr.ipv4_mapped), "ok", None
    return str(addr), "ok", None
