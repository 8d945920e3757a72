"""Kubernetes RFC 3339 timestamps to the contract's Unix milliseconds."""

from __future__ import annotations

from datetime import UTC, datetime


class BadTimestampError(ValueError):
    """A timestamp string that is not RFC 3339."""


def rfc3339_to_millis(text: str) -> int:
    """Parse `2026-11-21T23:34:29Z` (fractions and offsets allowed) exactly, without floats."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError as err:
        raise BadTimestampError(f"not an RFC 3339 timestamp: {text!r}") from err
    if moment.tzinfo is None:
        raise BadTimestampError(f"timestamp has no zone: {text!r}")
    delta = moment - datetime(1970, 1, 1, tzinfo=UTC)
    if delta.days < 0:
        raise BadTimestampError(f"timestamp before 1970: {text!r}")
    return (delta.days * 86_400 + delta.seconds) * 1000 + delta.microseconds // 1000
