"""Text as it may appear in logs or on a terminal: credentials masked, by pattern and by value.

Patterns catch what looks like a credential (URL user-info, `Bearer <x>`).
Values catch what the process knows is one: the flow server's bearer token
and the Kubernetes credentials it loaded are remembered with
`remember_secret` as they are read, and every form of them a peer could
echo back is masked wherever it appears: bare, URL-encoded, JSON-escaped,
and base64 (standard and URL-safe, at any of the three byte alignments, so
`Basic` auth of `user:token` is caught too).
"""

from __future__ import annotations

import base64
import json
import re
import threading
from urllib.parse import quote, quote_plus, urlsplit, urlunsplit

MASK = "***"

MIN_SECRET_LENGTH = 8
"""Shorter values are not remembered: masking every `admin` in every line would say nothing."""

_URL_USERINFO = re.compile(r"(?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]*://)[^/@\s]+@")
_BEARER = re.compile(r"(?i)\b(bearer)\s+[A-Za-z0-9._~+/=-]+")
_PERCENT = re.compile(r"%[0-9A-F]{2}")

_lock = threading.Lock()
_forms: set[str] = set()
_pattern: re.Pattern[str] | None = None


def _base64_cores(secret: bytes) -> set[str]:
    """The base64 characters that depend on `secret` alone, at each alignment it can start at.

    Inside a longer encoded string the secret starts at byte offset 0, 1 or
    2 of a 3-byte group; the characters shared with its neighbours differ,
    the ones in between do not.
    """
    cores: set[str] = set()
    for offset in range(3):
        for encode in (base64.b64encode, base64.urlsafe_b64encode):
            encoded = encode(b"\0" * offset + secret).decode("ascii")
            first = (8 * offset + 5) // 6
            last = (8 * (offset + len(secret))) // 6
            cores.add(encoded[first:last])
    return cores


def secret_forms(secret: str) -> set[str]:
    """Every form of `secret` the redaction masks (empty below `MIN_SECRET_LENGTH`)."""
    if len(secret) < MIN_SECRET_LENGTH:
        return set()
    forms = {secret, quote(secret, safe=""), quote(secret), quote_plus(secret)}
    forms |= {_PERCENT.sub(lambda m: m.group(0).lower(), form) for form in list(forms)}
    escaped = json.dumps(secret)[1:-1]
    forms |= {escaped, escaped.replace("/", "\\/")}
    forms |= _base64_cores(secret.encode("utf-8"))
    return {form for form in forms if len(form) >= MIN_SECRET_LENGTH}


def remember_secret(secret: str | None) -> None:
    """Mask `secret` in every log line from now on, for the life of the process."""
    global _pattern
    if not secret:
        return
    found = secret_forms(secret.strip())
    with _lock:
        if found <= _forms:
            return
        _forms.update(found)
        # Longest first, so a form inside another is not masked half.
        ordered = sorted(_forms, key=len, reverse=True)
        _pattern = re.compile("|".join(re.escape(form) for form in ordered))


def forget_secrets() -> None:
    """Remember no secret value (for tests)."""
    global _pattern
    with _lock:
        _forms.clear()
        _pattern = None


def redact_secrets(text: str) -> str:
    """`text` with every remembered secret, in every form, masked."""
    pattern = _pattern
    return text if pattern is None else pattern.sub(MASK, text)


def redact_url(url: str) -> str:
    """The URL with its user-info replaced, so a `https://user:secret@host` never reaches a log."""
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=f"{MASK}@{host}"))


def redact_text(text: str) -> str:
    """Free text (a library's log message) with credentials and remembered secrets masked."""
    text = redact_secrets(text)
    text = _URL_USERINFO.sub(lambda m: f"{m.group('scheme')}{MASK}@", text)
    return _BEARER.sub(lambda m: f"{m.group(1)} {MASK}", text)
