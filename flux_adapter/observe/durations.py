"""Go-style durations (`200ms`, `10s`, `1m30s`) as operators write them in manifests."""

from __future__ import annotations

import re

_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)")


class DurationError(ValueError):
    """Text that is neither a Go duration nor a plain number of seconds."""


def parse_duration(text: str) -> float:
    """Seconds as a float; a bare number is seconds. Negative durations are refused."""
    raw = text.strip()
    if not raw:
        raise DurationError("empty duration")
    if raw.startswith("-"):
        raise DurationError(f"negative duration {text!r}")
    try:
        return float(raw)
    except ValueError:
        pass
    pos, total = 0, 0.0
    for match in _PART.finditer(raw):
        if match.start() != pos:
            break
        total += float(match.group(1)) * _UNITS[match.group(2)]
        pos = match.end()
    if pos != len(raw) or pos == 0:
        raise DurationError(f"not a duration: {text!r} (use e.g. 200ms, 10s, 1m30s or seconds)")
    return total
