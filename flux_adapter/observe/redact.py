"""Text as it may appear in logs or on a terminal: credentials masked."""

from __future__ import annotations

import re
from urllib.parse import urlsplit, urlunsplit

MASK = "***"

_URL_USERINFO = re.compile(r"(?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]*://)[^/@\s]+@")
_BEARER = re.compile(r"(?i)\b(bearer)\s+[A-Za-z0-9._~+/=-]+")


def redact_url(url: str) -> str:
    """The URL with its user-info replaced, so a `https://user:secret@host` never reaches a log."""
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=f"{MASK}@{host}"))


def redact_text(text: str) -> str:
    """Free text (a library's log message) with URL credentials and bearer tokens masked."""
    text = _URL_USERINFO.sub(lambda m: f"{m.group('scheme')}{MASK}@", text)
    return _BEARER.sub(lambda m: f"{m.group(1)} {MASK}", text)
